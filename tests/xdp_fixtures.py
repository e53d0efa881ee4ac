"""Fixtures of the real-backend tests (imported by tests/test_xdp_*.py).

They need root and AF_XDP; where either is missing the tests are skipped
with the reason driver/xdp/prereq.py gives. Every testbed a test makes is
removed afterwards (also when the test fails), and the fixture checks that
nothing of it is left: no namespace, veth, bpffs or state file.
"""
from __future__ import annotations

import pytest

from driver.xdp.prereq import unavailable

REASON = unavailable()
requires_xdp = pytest.mark.skipif(REASON is not None, reason=f"real backend unavailable: {REASON}")
XDP_MARKS = [pytest.mark.xdp, requires_xdp]


@pytest.fixture
def make_testbed():
    """make_testbed(queues=1, forward=False) -> an up Testbed, torn down after the test."""
    from driver.xdp.testbed import Testbed

    made = []

    def make(queues: int = 1, forward: bool = False) -> Testbed:
        tb = Testbed(queues=queues, forward=forward)
        made.append(tb)
        return tb.up()

    yield make
    for tb in made:
        tb.down()
    left = [x for tb in made for x in tb.leftovers()]
    assert left == [], f"teardown left {left}"


@pytest.fixture
def testbed(make_testbed):
    """A one-queue testbed."""
    return make_testbed(1)


def drain(handle, callback, timeout_ms: int = 200) -> int:
    """Dispatch until a dispatch waits timeout_ms for nothing."""
    total = 0
    while True:
        n = handle.dispatch(-1, callback, timeout_ms=timeout_ms)
        if not n:
            return total
        total += n
