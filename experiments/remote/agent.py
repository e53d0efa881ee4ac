"""The host side of a remote run: small commands that print one JSON line.

    python -m experiments.remote.agent COMMAND [options]

The orchestrator (orchestrate.py) runs these over SSH. Every command is
bounded in time, and everything one starts is recorded in the run's state
folder (``--state``) so that ``teardown`` can undo it: background jobs
(pid files), interface changes (what was there before).

Commands

    hello                          where this agent runs from (the orchestrator
                                   checks it is the copy it installed)
    iface-up / iface-down          put the test address on the test interface /
                                   restore the interface as it was
    counters                       an interface's kernel counters
    start NAME -- COMMAND ...      run another agent command in the background
    wait NAME / stop NAME          its JSON result (stop: SIGTERM first)
    capture / generate             one measurement point's two sides (roles.py)
    run-experiment                 an experiment of the registry, on this host
    teardown                       stop every job, restore every interface

Network discipline (DESIGN.md §5): iface-up refuses the loopback, any
interface that carries a default route, and addresses outside
198.18.0.0/15; generators refuse destinations outside it.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from driver.xdp.procs import pid_alive
from experiments.remote.inventory import BENCHMARK_NET

AGENT = "experiments.remote.agent"
STOP_GRACE_S = 10      # SIGTERM, then this long before SIGKILL
READY_TIMEOUT_S = 20   # a background job must say it is ready within this


def emit(obj) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> None:
    sys.stderr.write(f"agent: {message}\n")
    sys.exit(code)


# ---- interfaces (pyroute2: some hosts have no `ip`) ------------------------------

def _ipr():
    from pyroute2 import IPRoute

    return IPRoute()


def _check_interface(ipr, name: str) -> int:
    if name == "lo":
        fail("refusing the loopback interface as a test link")
    idx = ipr.link_lookup(ifname=name)
    if not idx:
        fail(f"no interface {name!r} on this host")
    idx = idx[0]
    for r in ipr.get_default_routes(family=2) + ipr.get_default_routes(family=10):
        if r.get("oif") == idx:
            fail(f"refusing {name}: it carries a default route (the host's own network, not a test link)")
    return idx


def _state(path: str) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def cmd_iface_up(a) -> None:
    iface = ipaddress.ip_interface(a.address)
    if iface.ip not in BENCHMARK_NET:
        fail(f"--address {a.address}: outside {BENCHMARK_NET} (DESIGN.md §5)")
    state = _state(a.state)
    with _ipr() as ipr:
        idx = _check_interface(ipr, a.interface)
        link = ipr.get_links(idx)[0]
        was_up = bool(link["flags"] & 1)  # IFF_UP
        present = any(x.get_attr("IFA_ADDRESS") == str(iface.ip) for x in ipr.get_addr(index=idx))
        ipv6 = _ipv6_switch(a.interface)
        record = {"interface": a.interface, "address": a.address, "was_up": was_up, "added": not present,
                  "ipv6_was_disabled": ipv6.read_text().strip() if ipv6.exists() else None}
        # record first: a crash between here and the change still gets undone
        (state / f"iface-{a.interface}.json").write_text(json.dumps(record))
        if ipv6.exists():
            # no IPv6 on the test link while the run holds it: the kernel would
            # send router solicitations, DAD and MLD frames of its own, and
            # every frame the capture host sees must be one the generator counted
            ipv6.write_text("1\n")
        if not present:
            ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen)
        ipr.link("set", index=idx, state="up")
        mac = link.get_attr("IFLA_ADDRESS")
    emit({**record, "mac": mac})


def _iface_restore(record: dict) -> dict:
    iface = ipaddress.ip_interface(record["address"])
    with _ipr() as ipr:
        idx = ipr.link_lookup(ifname=record["interface"])
        if not idx:
            return {**record, "restored": "interface gone"}
        idx = idx[0]
        if record["added"]:
            try:
                ipr.addr("del", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen)
            except Exception as exc:  # noqa: BLE001 - already removed by someone else: report, go on
                return {**record, "restored": f"address removal failed: {exc}"}
        if not record["was_up"]:
            ipr.link("set", index=idx, state="down")
    ipv6 = _ipv6_switch(record["interface"])
    if record.get("ipv6_was_disabled") is not None and ipv6.exists():
        ipv6.write_text(record["ipv6_was_disabled"] + "\n")
    return {**record, "restored": True}


def _ipv6_switch(interface: str) -> Path:
    """The interface's disable_ipv6 sysctl (in this process's namespace)."""
    return Path("/proc/sys/net/ipv6/conf") / interface / "disable_ipv6"


def cmd_iface_down(a) -> None:
    state = Path(a.state)
    out = []
    for f in sorted(state.glob("iface-*.json")) if state.is_dir() else []:
        out.append(_iface_restore(json.loads(f.read_text())))
        f.unlink()
    emit({"interfaces": out})


def counters(interface: str) -> dict:
    base = Path("/sys/class/net") / interface / "statistics"
    if not base.is_dir():
        fail(f"no interface {interface!r} on this host")
    return {f.name: int(f.read_text()) for f in sorted(base.iterdir())}


def cmd_counters(a) -> None:
    emit({"interface": a.interface, "counters": counters(a.interface), "time": time.time()})


# ---- background jobs ------------------------------------------------------------

def _job(state: Path, name: str) -> dict:
    return {"pid": state / f"job-{name}.pid", "out": state / f"job-{name}.out", "err": state / f"job-{name}.err",
            "ready": state / f"job-{name}.ready", "rc": state / f"job-{name}.rc"}


def cmd_start(a) -> None:
    """Run `agent ARGS` detached (own session: it outlives this SSH command)."""
    state = _state(a.state)
    j = _job(state, a.name)
    for k in ("out", "err", "ready", "rc"):
        j[k].unlink(missing_ok=True)
    argv = [sys.executable, "-m", AGENT] + a.args + ["--ready-file", str(j["ready"]), "--rc-file", str(j["rc"])]
    with open(j["out"], "w") as out, open(j["err"], "w") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
    j["pid"].write_text(str(proc.pid))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if j["ready"].exists():
            emit({"job": a.name, "pid": proc.pid, "ready": True})
            return
        if proc.poll() is not None:
            fail(f"job {a.name} exited {proc.returncode} before it was ready: {_tail(j['err'])}")
        time.sleep(0.05)
    fail(f"job {a.name} did not become ready within {READY_TIMEOUT_S} s: {_tail(j['err'])}")


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_text()[-n:].strip() or "(no output)"
    except OSError:
        return "(no output)"


def _result(j: dict, name: str) -> dict:
    rc = int(j["rc"].read_text().strip() or -1) if j["rc"].exists() else None  # None: killed
    lines = [ln for ln in _tail(j["out"], 10**6).splitlines() if ln.strip().startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    return {"job": name, "exit": rc, "result": result, "stderr": _tail(j["err"]) if rc else ""}


def _wait(j: dict, timeout: float, heartbeat: bool = False) -> bool:
    """Until the job's process is gone (True) or the timeout (False).

    heartbeat: print an empty line every second. If the orchestrator went
    away (Ctrl-C closes its SSH channel) the write fails and this command
    ends instead of lingering until its timeout; the job itself is then
    stopped by teardown."""
    pid = int(j["pid"].read_text())
    deadline = time.monotonic() + timeout
    beat = time.monotonic()
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        if heartbeat and time.monotonic() - beat >= 1.0:
            beat = time.monotonic()
            try:
                sys.stdout.write("\n")
                sys.stdout.flush()
            except BrokenPipeError:
                os._exit(141)  # nobody is listening any more (128 + SIGPIPE)
        time.sleep(0.05)
    return False


def cmd_wait(a) -> None:
    j = _job(Path(a.state), a.name)
    if not j["pid"].exists():
        fail(f"no job {a.name} in {a.state}")
    if not _wait(j, a.timeout, heartbeat=True):
        fail(f"job {a.name} still running after {a.timeout:g} s", code=3)
    res = _result(j, a.name)
    emit(res)
    if res["exit"] != 0:
        sys.exit(1)


def _stop(j: dict, name: str) -> dict:
    pid = int(j["pid"].read_text())
    if pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)  # the job leads its own session/group
        except ProcessLookupError:
            pass
        if not _wait(j, STOP_GRACE_S):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait(j, 2)
    res = _result(j, name)
    j["pid"].unlink(missing_ok=True)
    return res


def cmd_stop(a) -> None:
    j = _job(Path(a.state), a.name)
    if not j["pid"].exists():
        fail(f"no job {a.name} in {a.state}")
    emit(_stop(j, a.name))


def cmd_teardown(a) -> None:
    state = Path(a.state)
    stopped, interfaces = [], []
    if state.is_dir():
        for pidfile in sorted(state.glob("job-*.pid")):
            name = pidfile.name[len("job-"):-len(".pid")]
            stopped.append(_stop(_job(state, name), name))
        for f in sorted(state.glob("iface-*.json")):
            interfaces.append(_iface_restore(json.loads(f.read_text())))
            f.unlink()
        leftovers = [p.name for p in state.iterdir() if p.name.startswith("job-") and p.suffix == ".pid"]
        if not leftovers and not a.keep:
            import shutil

            shutil.rmtree(state, ignore_errors=True)
    emit({"stopped": [s["job"] for s in stopped], "interfaces": interfaces})


# ---- measurements -----------------------------------------------------------------

def _ready(a) -> None:
    if getattr(a, "ready_file", None):
        Path(a.ready_file).write_text("ready\n")


def cmd_capture(a) -> None:
    from experiments.remote import roles

    impl = roles.implementation(a.impl)
    point = json.loads(a.point)
    emit(impl.capture(point, interface=a.interface, bind=a.bind, ready=lambda: _ready(a)))


def cmd_generate(a) -> None:
    from experiments.remote import roles

    dest = ipaddress.ip_address(a.dest)
    if dest not in BENCHMARK_NET:
        fail(f"--dest {a.dest}: outside {BENCHMARK_NET} (DESIGN.md §5)")
    impl = roles.implementation(a.impl)
    _ready(a)
    emit(impl.generate(json.loads(a.point), interface=a.interface, bind=a.bind, dest=a.dest))


def cmd_run_experiment(a) -> None:
    os.environ["WIRECAP_RESULTS"] = a.results
    os.environ.setdefault("WIRECAP_PROGRESS", "0")
    from experiments import runner

    _ready(a)
    run_dir = runner.run_experiment(a.name, quick=a.quick, backend=a.backend, overrides=json.loads(a.params),
                                    jobs=a.jobs, resume=False, progress=False)
    emit({"run_dir": str(run_dir)})


def cmd_hello(a) -> None:
    root = Path(__file__).resolve().parents[2]
    version = root / ".wirecap-version"
    emit({"agent": str(Path(__file__).resolve()), "root": str(root), "python": sys.executable,
          "version": version.read_text().strip() if version.exists() else None, "uid": os.geteuid()})


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="agent", description="host side of invoke remote-run")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn, *opts):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--ready-file", default=None, help=argparse.SUPPRESS)
        p.add_argument("--rc-file", default=None, help=argparse.SUPPRESS)
        for args, kw in opts:
            p.add_argument(*args, **kw)
        return p

    state = (("--state",), {"required": True, "help": "the run's state folder"})
    add("hello", cmd_hello)
    add("iface-up", cmd_iface_up, state, (("--interface",), {"required": True}), (("--address",), {"required": True}))
    add("iface-down", cmd_iface_down, state)
    add("counters", cmd_counters, (("--interface",), {"required": True}))
    p = add("start", cmd_start, state, (("--name",), {"required": True}))
    p.add_argument("args", nargs=argparse.REMAINDER)
    add("wait", cmd_wait, state, (("--name",), {"required": True}), (("--timeout",), {"type": float, "default": 600}))
    add("stop", cmd_stop, state, (("--name",), {"required": True}))
    add("teardown", cmd_teardown, state, (("--keep",), {"action": "store_true"}))
    common = ((("--impl",), {"required": True}), (("--point",), {"required": True}),
              (("--interface",), {"required": True}), (("--bind",), {"required": True}))
    add("capture", cmd_capture, *common)
    add("generate", cmd_generate, *common, (("--dest",), {"required": True}))
    add("run-experiment", cmd_run_experiment, (("--name",), {"required": True}),
        (("--quick",), {"action": "store_true"}), (("--backend",), {"default": "sim"}),
        (("--params",), {"default": "{}"}), (("--jobs",), {"type": int, "default": 1}),
        (("--results",), {"required": True}))
    return ap


def _interrupt(signum, frame):
    # a job told to stop (teardown, stop): unwind like Ctrl-C so `finally`
    # blocks run; roles that report partial counts install their own handler
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if getattr(a, "args", None) and a.args[0] == "--":
        a.args = a.args[1:]
    signal.signal(signal.SIGTERM, _interrupt)
    code = 1
    try:
        a.fn(a)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        raise
    finally:
        if a.rc_file:  # how `wait` and `stop` learn the job's exit status
            Path(a.rc_file).write_text(f"{code}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
