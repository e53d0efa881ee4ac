"""How long a trace replay on the real backend takes, said and checked before
anything is built (experiments/live/workload.py: plan, schedule_ns).

None of these needs root or AF_XDP: the check comes before the testbed, and
the replay schedule is worked out from the trace alone."""
from __future__ import annotations

import io
import time
from dataclasses import replace

import numpy as np
import pytest

from experiments.live import multi_pkt_handler as live_multi
from experiments.live import pkt_handler as live_pkt
from experiments.live import replay_progress, table1, workload
from experiments.tools import multi_pkt_handler, queue_profiler
from traces import load_trace, write_pcap

MS = 1_000_000
YEAR_NS = int(365.25 * 86400 * 1e9)

# The bundled real traces, as the tools describe them (traces/data)
KXUN_TOO_LONG = (
    "trace 1kxun: replaying it would take 5.8 years (1,659 packets over 184,280,863 s of trace at 1x; its "
    "longest idle gap, before packet 1,033, is 5.8 years), over the 30 min limit on one replay; use "
    "--max-gap-s 10 to cut idle gaps to 10 s (replay 2 min 25 s, every packet kept) or --window-s 0,61 to "
    "replay the 968 packets dated before that gap")
GNUTELLA_TOO_LONG = (
    "trace gnutella: replaying it would take 39 min 8 s (3,794 packets over 587.0 s of trace at 0.25x; its "
    "longest idle gap, before packet 157, is 18.0 s), over the 30 min limit on one replay; use --max-gap-s 1 "
    "to cut idle gaps to 1 s (replay 19 min 33 s, every packet kept), --window-s START,END to replay a part "
    "of it, or --speed 0.33 to replay it faster")
GNUTELLA_ESTIMATE = ("replaying trace gnutella (3,794 packets over 587.0 s of trace at 1x) takes about "
                     "9 min 47 s, plus set-up and draining")


def _exit_status(main, argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


@pytest.fixture
def outlier_pcap(tmp_path):
    """Six IPv4 TCP packets 1 ms apart, the fourth dated ten years later."""
    six = load_trace("synscan").select(slice(0, 6))
    ts = np.array([0, 1 * MS, 2 * MS, 2 * MS + 10 * YEAR_NS, 3 * MS, 4 * MS], dtype=np.int64)
    return write_pcap(replace(six, ts_ns=ts), tmp_path / "outlier.pcap")


class _Testbed:
    queues = 2


class _Pools:
    """Substitute flows without probing a testbed (steered() takes them as ``pools``)."""
    per_pool, probes = 4, 0

    def frame(self, queue, proto, slot):
        return bytes([queue, proto, slot]) * 20


# ---- the schedule --------------------------------------------------------------------

def test_schedule_keeps_recorded_gaps_and_sends_a_late_packet_right_after():
    ts = np.array([0, 10 * MS, 5 * MS, 20 * MS], dtype=np.int64)        # the third is dated early
    assert workload.schedule_ns(ts).tolist() == [0, 10 * MS, 10 * MS, 25 * MS]
    assert workload.schedule_ns(ts, speed=0.5).tolist() == [0, 20 * MS, 20 * MS, 50 * MS]


def test_max_gap_cuts_only_the_gaps_longer_than_it():
    ts = np.array([0, 1 * MS, 2 * MS, 2 * MS + 10 * YEAR_NS, 3 * MS, 4 * MS], dtype=np.int64)
    assert workload.schedule_ns(ts, max_gap_s=0.5).tolist() == [0, 1 * MS, 2 * MS, 502 * MS, 502 * MS, 503 * MS]
    assert workload.schedule_ns(ts, speed=2.0, max_gap_s=0.5)[-1] == 503 * MS // 2


def test_max_gap_keeps_every_packet_of_the_crafted_trace(outlier_pcap):
    spec = str(outlier_pcap)
    replay = workload.steered(spec, _Testbed(), 2, pools=_Pools(), max_gap_s=1)
    assert len(replay) == 6 and replay.skipped == 0
    assert replay.due_ns.tolist() == [0, 1 * MS, 2 * MS, 1002 * MS, 1002 * MS, 1003 * MS]
    assert replay.max_gap_s == 1.0
    assert workload.plan(spec, max_gap_s=1).check(slack_s=120).replay_s() == pytest.approx(1.003)


def test_the_crafted_trace_is_refused_with_its_fixes(outlier_pcap):
    spec = str(outlier_pcap)
    with pytest.raises(workload.ReplayTooLong) as exc:
        workload.plan(spec).check(slack_s=120)
    assert str(exc.value) == (
        f"trace {spec}: replaying it would take 10.0 years (6 packets over 315,576,000 s of trace at 1x; its "
        f"longest idle gap, before packet 4, is 10.0 years), over the 30 min limit on one replay; use "
        f"--max-gap-s 10 to cut idle gaps to 10 s (replay 10.0 s, every packet kept) or --window-s 0,1 to "
        f"replay the 5 packets dated before that gap")
    # that window drops exactly the outlier and keeps the others' spacing
    part = workload.steered(spec, _Testbed(), 2, pools=_Pools(), window_s=(0, 1))
    assert part.due_ns.tolist() == [0, 1 * MS, 2 * MS, 3 * MS, 4 * MS]


# ---- the tools: one line, exit status 2, before any testbed ------------------------------

def test_multi_pkt_handler_refuses_1kxun(capsys):
    argv = ["--backend", "xdp", "--trace", "1kxun", "--queues", "4", "--engine", "wirecap-a"]
    assert _exit_status(multi_pkt_handler.main, argv) == 2
    err = capsys.readouterr().err
    assert err == f"multi_pkt_handler: error: {KXUN_TOO_LONG}\n"


def test_multi_pkt_handler_refuses_gnutella_at_a_quarter_speed(capsys):
    argv = ["--backend", "xdp", "--trace", "gnutella", "--queues", "4", "--engine", "wirecap-a", "--speed", "0.25"]
    assert _exit_status(multi_pkt_handler.main, argv) == 2
    assert capsys.readouterr().err == f"multi_pkt_handler: error: {GNUTELLA_TOO_LONG}\n"


def test_queue_profiler_refuses_1kxun(capsys):
    argv = ["--backend", "xdp", "--trace", "1kxun", "--queues", "4"]
    assert _exit_status(queue_profiler.main, argv) == 2
    assert capsys.readouterr().err == f"queue_profiler: error: {KXUN_TOO_LONG}\n"


def test_an_empty_window_is_refused(capsys):
    argv = ["--backend", "xdp", "--trace", "gnutella", "--engine", "wirecap-a", "--window-s", "700,800"]
    assert _exit_status(multi_pkt_handler.main, argv) == 2
    assert capsys.readouterr().err == ("multi_pkt_handler: error: trace gnutella: no IPv4 TCP or UDP packets to "
                                       "replay in its 700-800 s window (the trace spans 0-600.2 s)\n")


@pytest.mark.parametrize("flag, value", [("--speed", "0.5"), ("--window-s", "0,10"), ("--max-gap-s", "1")])
def test_replay_options_are_for_the_real_backend(capsys, flag, value):
    argv = ["--backend", "sim", "--trace", "1kxun", "--engine", "wirecap-a", flag, value]
    assert _exit_status(multi_pkt_handler.main, argv) == 2
    assert capsys.readouterr().err == (f"multi_pkt_handler: error: {flag}: only with --backend xdp (the sim "
                                       f"backend replays the whole trace as recorded, in simulated time)\n")


def test_the_estimate_comes_before_the_testbed(capsys, monkeypatch):
    """gnutella at 1x runs (9 min 47 s): the tool says so first, then builds."""
    def no_testbed(*args, **kw):
        raise RuntimeError("no testbed in this test")

    monkeypatch.setattr(live_multi, "require_all", lambda: None)
    monkeypatch.setattr(live_multi, "testbed_for", no_testbed)
    argv = ["--backend", "xdp", "--trace", "gnutella", "--queues", "4", "--engine", "wirecap-a"]
    assert _exit_status(multi_pkt_handler.main, argv) == 2
    assert capsys.readouterr().err.splitlines() == [f"multi_pkt_handler: {GNUTELLA_ESTIMATE}",
                                                    "multi_pkt_handler: error: no testbed in this test"]


def test_a_short_replay_starts_without_a_word():
    said = []
    replay_progress.announce(workload.plan("gnutella", window_s=(8, 16)), said.append)
    assert said == []
    replay_progress.announce(workload.plan("gnutella"), said.append)
    assert said == [GNUTELLA_ESTIMATE]


def test_a_paced_burst_longer_than_the_run_is_refused():
    with pytest.raises(ValueError) as exc:
        live_pkt.run({"engine": "wirecap-b", "burst": 1_000_000, "rate": 1000})
    assert str(exc.value) == ("burst=1,000,000 at rate=1000 frames/s takes 16 min 40 s, longer than the run's "
                              "max_s=120 s: raise the rate or send fewer frames")


def test_experiments_name_their_own_knobs():
    """table1/fig11 through `invoke run-experiment`: their --param spellings (XDP_CONFIG)."""
    from experiments import registry

    with pytest.raises(workload.ReplayTooLong) as exc:
        table1.run({"engines": ["dna"], "trace": "1kxun"})
    assert str(exc.value).endswith("; use --param max_gap_s=10 to cut idle gaps to 10 s (replay 4 min 50 s, every "
                                   "packet kept) or --param window_s=[0,61] to replay the 968 packets dated before "
                                   "that gap")
    for name in ("table1", "fig11"):
        assert registry.config(name, backend="xdp", overrides={"max_gap_s": 10})["max_gap_s"] == 10


# ---- the progress bar ---------------------------------------------------------------------

def _replay(due_s):
    n = len(due_s)
    return workload.Replay(name="t", templates=[b""], tpl_idx=np.zeros(n, np.uint32), frame_len=np.zeros(n),
                           due_ns=(np.asarray(due_s) * 1e9).astype(np.uint64), target_queue=np.zeros(n))


def test_the_bar_follows_the_replay_clock():
    out = io.StringIO()
    with replay_progress.ReplayBar.for_replay(_replay([0, 0.05, 10]), show=True, stream=out, tick_s=0.02):
        time.sleep(0.2)
    last = out.getvalue().rstrip().split("\r")[-1]
    assert last.startswith("replay t:") and "2/3 packets due" in last and "/10 s" in last


def test_the_bar_is_quiet_off_a_terminal(monkeypatch):
    monkeypatch.delenv("WIRECAP_PROGRESS", raising=False)
    out = io.StringIO()
    bar = replay_progress.ReplayBar.for_replay(_replay([0, 60]), stream=out)
    with bar:
        pass
    assert not bar.show and out.getvalue() == ""
    monkeypatch.setenv("WIRECAP_PROGRESS", "1")
    assert replay_progress.ReplayBar.for_replay(_replay([0, 60]), stream=out).show
    assert not replay_progress.ReplayBar.for_replay(_replay([0, 1]), stream=out).show   # too short to bother


@pytest.mark.parametrize("seconds, text", [(42, "42.0 s"), (587, "9 min 47 s"), (1800, "30 min"),
                                           (5400, "1.5 h"), (184_280_863, "5.8 years")])
def test_durations_read_as_people_say_them(seconds, text):
    assert workload.human_s(seconds) == text
