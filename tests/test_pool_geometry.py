"""The pool's geometry rules (paper §3.2.1) are written once, in the C core
(wc_pool__geometry_error); every Python place that checks N, M, R shows
its message."""
import pytest

from engine.core import Pool, check_geometry, ffi, geometry_error, lib
from engine.live.engine import validate_geometry
from engine.models import EngineConfig


@pytest.mark.parametrize("n,m,r,param,text", [
    (1024, 256, 500, None, None),
    (1024, 1024, 2, None, None),
    (65536, 1, 65537, None, None),
    (0, 1, 2, "N", "N must be 1..65536 descriptors (got N=0): the receive ring's length (82599 RDLEN; paper §3.2.1)"),
    (65537, 1, 70000, "N", "N must be 1..65536 descriptors (got N=65537)"),
    (1024, 0, 10, "M", "M must be at least 1 (paper §3.2.1: a chunk is M cells, one per descriptor of a segment)"),
    (1024, 300, 10, "M", 'M must divide the ring size N=1024 (paper §3.2.1: "M is a divisor of N", '
                         "the ring is cut into N/M descriptor segments of M cells)"),
    (1024, 2048, 10, "M", "M must divide the ring size N=1024"),
    (1024, 256, 4, "R", 'R must exceed N/M = 4 (paper §3.2.1: "R is greater than N/M", one chunk stays '
                        "attached to each descriptor segment)"),
    (1024, 1024, 1, "R", "R must exceed N/M = 1"),
])
def test_the_core_names_the_parameter_the_rule_and_the_section(n, m, r, param, text):
    c_msg = lib.wc_pool__geometry_error(n, m, r)
    err = geometry_error(n, m, r)
    if param is None:
        assert c_msg == ffi.NULL and err is None
        return
    assert err[0] == param and err[1].startswith(text) and "§3.2.1" in err[1]
    assert ffi.string(c_msg).decode() == err[1]


def test_the_core_refuses_what_its_validator_refuses():
    opts = ffi.new("struct wc_pool_opts *", {"sz": ffi.sizeof("struct wc_pool_opts"), "ring_size": 1024,
                                              "segment_cells": 300, "chunks": 10})
    pp = ffi.new("struct wc_pool **")
    assert lib.wc_pool__create(pp, opts) < 0
    opts.segment_cells = 256
    assert lib.wc_pool__create(pp, opts) == 0
    lib.wc_pool__destroy(pp[0])


def test_out_of_range_python_ints_do_not_slip_through():
    assert geometry_error(1024, -4, 500)[0] == "M"
    assert geometry_error(2**40, 256, 500)[0] == "N"


@pytest.mark.parametrize("n,m,r,flagged", [
    (1024, 300, 500, "--M 300: M must divide the ring size N=1024 (paper §3.2.1"),
    (1024, 256, 4, "--R 4: R must exceed N/M = 4 (paper §3.2.1"),
])
def test_every_python_check_shows_the_core_message(n, m, r, flagged):
    core_text = geometry_error(n, m, r)[1]
    with pytest.raises(ValueError) as cli:
        EngineConfig.make("wirecap-b", m, r, ring_size=n)
    assert str(cli.value).startswith(flagged) and core_text in str(cli.value)
    for check in (lambda: Pool(n, m, r), lambda: validate_geometry(n, m, r), lambda: check_geometry(n, m, r)):
        with pytest.raises(ValueError) as exc:
            check()
        assert str(exc.value).endswith(core_text)


def test_the_cli_lists_the_divisors_of_n_for_a_bad_m():
    with pytest.raises(ValueError, match=r"; one of 1, 2, 4, 8$"):
        EngineConfig.make("wirecap-b", 3, 10, ring_size=8)


def test_the_af_xdp_rule_stays_on_the_real_side():
    assert geometry_error(1000, 250, 10) is None  # a valid pool ...
    with pytest.raises(ValueError, match="AF_XDP rings are powers of two"):
        validate_geometry(1000, 250, 10)       # ... but not an AF_XDP ring
