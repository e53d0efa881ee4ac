"""pkt_handler: the paper's tool on the simulated testbed."""
import json
import subprocess
import sys

import pytest

from experiments.tools import pkt_handler


def run_tool(*args):
    return subprocess.run([sys.executable, "-m", "experiments.tools.pkt_handler", *args],
                          capture_output=True, text=True, timeout=120)


def test_json_has_the_documented_columns(capsys):
    assert pkt_handler.main(["--backend", "sim", "--engine", "wirecap-b", "--M", "256", "--R", "100",
                             "--x", "300", "--burst", "100000", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    for col in ("engine", "M", "R", "T", "x", "P", "queues", "sent", "delivered", "capture_drops",
                "delivery_drops", "drop_rate"):
        assert col in row
    assert (row["engine"], row["M"], row["R"], row["x"], row["P"], row["queues"]) == ("wirecap-b", 256, 100, 300, 100000, 1)
    assert row["sent"] == row["delivered"] + row["capture_drops"] + row["delivery_drops"] == 100000
    assert 0.69 <= row["drop_rate"] <= 0.73


def test_summary_without_json(capsys):
    pkt_handler.main(["--engine", "dna", "--x", "300", "--burst", "6000"])
    out = capsys.readouterr().out
    assert out.startswith("DNA  x=300  P=6,000") and "drop rate" in out


def test_nic_buffer_off_changes_the_result(capsys):
    pkt_handler.main(["--engine", "dna", "--x", "300", "--burst", "6000", "--json"])
    on = json.loads(capsys.readouterr().out)
    pkt_handler.main(["--engine", "dna", "--x", "300", "--burst", "6000", "--nic-buffer", "off", "--json"])
    off = json.loads(capsys.readouterr().out)
    assert off["nic_buffer"] is False and off["delivered"] < on["delivered"]


@pytest.mark.parametrize("args,message", [
    (["--engine", "foo"], "--engine 'foo': unknown engine; choose one of wirecap-b, wirecap-a, dna, netmap, pfring"),
    (["--engine", "wirecap-b", "--M", "300"], "--M 300: M must divide the ring size N=1024"),
    (["--engine", "wirecap-b", "--M", "256", "--R", "4"], "--R 4: R must exceed N/M = 4"),
    (["--engine", "wirecap-a", "--T", "0"], "argument --T: T must be an integer in 1..100, got 0"),
    (["--engine", "wirecap-a", "--T", "101"], "argument --T: T must be an integer in 1..100, got 101"),
    (["--engine", "dna", "--x", "-1"], "argument --x: x must be an integer in 0..1,000,000, got -1"),
    (["--engine", "dna", "--burst", "0"], "argument --burst: P must be an integer in 1..10,000,000,000, got 0"),
    (["--engine", "dna", "--nic-buffer", "maybe"], "--nic-buffer: expected on or off, got 'maybe'"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    if "--burst" not in args:
        args = args + ["--burst", "10"]
    res = run_tool(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
