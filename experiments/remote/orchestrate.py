"""``invoke remote-run``: one experiment across the inventory's hosts.

The choreography, in order (each step names itself in errors):

    connect      SSH to every host (Fabric), in parallel
    check        root, Python >= 3.11, and libxdp where the backend needs it
    install      the project on every host (deploy.py), in parallel
    interfaces   the test address on the generator's and capture host's test link
    probe        one bounded UDP burst across the link (roles.py): the link
                 works and both hosts' counters move
    measure      sim: the experiment runs on the capture host;
                 xdp: for each point, capture starts, the generator sends, the
                 capture stops (the xdp backend's roles)
    collect      every host's interface counters and the results, into a new
                 local run folder results/<experiment>/<utc>-<sha>/ with
                 remote/ beside the data
    teardown     always (also on errors, Ctrl-C and SIGTERM): stop every job,
                 restore every interface, close every connection

Any failure ends the run with a RemoteError naming the host and the reason.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import shlex
import signal
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from experiments import registry, results
from experiments.remote import deploy, inventory, roles
from experiments.remote.errors import RemoteError
from experiments.remote.hosts import HostSession

MIN_PYTHON = (3, 11)
# Facts about a host, gathered before anything is installed (so: stdlib only)
CHECK_SNIPPET = r"""
import ctypes, json, os, platform, pwd, socket, sys
r = {"hostname": socket.gethostname(), "uid": os.geteuid(), "user": pwd.getpwuid(os.geteuid()).pw_name,
     "python": list(sys.version_info[:3]), "kernel": platform.release(), "cpus": os.cpu_count()}
lib = os.environ.get("WIRECAP_LIBXDP") or "libxdp.so.1"
try:
    ctypes.CDLL(lib)
    r["libxdp"] = lib
except OSError as exc:
    r["libxdp"] = None
    r["libxdp_error"] = str(exc)
print(json.dumps(r))
"""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so teardown runs either way."""
    def handler(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class RemoteRun:
    def __init__(self, inv: inventory.Inventory, name: str, quick: bool = False, backend: str = "sim",
                 overrides: dict | None = None, probe_packets: int = 2000, probe_rate: float = 20_000,
                 step_timeout: float = 600, log=print):
        self.inv = inv
        self.name = name
        self.quick = quick
        self.backend = backend
        self.overrides = overrides or {}
        self.probe_packets = int(probe_packets)
        self.probe_rate = float(probe_rate)
        self.step_timeout = float(step_timeout)
        self.log = log
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        self.sessions = {h.name: HostSession(h, step_timeout) for h in inv.hosts}
        self.installed: set[str] = set()
        self.record: dict = {"run_id": self.run_id, "inventory": inv.path, "hosts": {}, "steps": []}

    # ---- helpers ----------------------------------------------------------------

    def state(self, s: HostSession) -> str:
        return f"{s.host.project_dir}/.remote-state/{self.run_id}"

    def agent(self, s: HostSession, args: list[str], step: str, timeout: float | None = None):
        cmd = f"{deploy.python_command(s)} -m experiments.remote.agent " + " ".join(shlex.quote(str(a)) for a in args)
        return s.run_json(cmd, step, cwd=s.host.project_dir, timeout=timeout)

    def parallel(self, step: str, fn, sessions=None) -> dict:
        """fn(session) on every host at once; the first failure (inventory
        order) is raised, naming the others that failed too."""
        sessions = list(sessions or self.sessions.values())
        t0 = time.monotonic()
        out, errors = {}, []
        with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
            futs = {s.name: pool.submit(fn, s) for s in sessions}
            for s in sessions:
                try:
                    out[s.name] = futs[s.name].result()
                except RemoteError as exc:
                    errors.append(exc)
        self.record["steps"].append({"step": step, "seconds": round(time.monotonic() - t0, 3),
                                     "ok": not errors})
        if errors:
            first = errors[0]
            if len(errors) > 1:
                others = "; ".join(str(e) for e in errors[1:])
                raise RemoteError(first.host, f"{first.reason} (also: {others})", first.step)
            raise first
        return out

    # ---- steps --------------------------------------------------------------------

    def connect(self) -> None:
        self.parallel("connect", lambda s: s.connect())
        for s in self.sessions.values():
            if s.host_key_note:
                self.log(f"remote-run: WARNING host {s.name!r}: {s.host_key_note}")
                self.record["steps"].append({"step": "host-key", "host": s.name, "note": s.host_key_note})

    def check(self) -> None:
        needs_xdp = self.backend == "xdp"

        def one(s: HostSession):
            facts = s.run_json(f"{shlex.quote(s.host.python)} -c {shlex.quote(CHECK_SNIPPET)}", "check",
                               show=f"{s.host.python} -c <host check>")
            s.facts = facts
            if facts["uid"] != 0:
                raise RemoteError(s.name, f"not root (logged in as {facts['user']}, uid {facts['uid']}): remote-run "
                                          f"needs root on every host to set up interfaces and capture; "
                                          f"use user = \"root\" in the inventory", "check")
            if tuple(facts["python"][:2]) < MIN_PYTHON:
                raise RemoteError(s.name, f"Python {'.'.join(map(str, facts['python']))} at {s.host.python} is too "
                                          f"old: the project needs >= {'.'.join(map(str, MIN_PYTHON))}", "check")
            if needs_xdp and s.host.role in ("capture", "generator") and not facts.get("libxdp"):
                raise RemoteError(s.name, f"libxdp is missing ({facts.get('libxdp_error')}): --backend xdp needs "
                                          f"it on the {s.host.role} host; install libxdp1 (`make sysdeps`) or "
                                          f"set WIRECAP_LIBXDP in the host's env", "check")
            return facts

        facts = self.parallel("check", one)
        for name, f in facts.items():
            self.record["hosts"][name] = {"role": self.sessions[name].host.role,
                                          "address": self.sessions[name].host.address, "facts": f}

    def install(self) -> None:
        # the bundle lives in a private folder (mkdtemp, 0700) that goes on
        # every way out of here: success, a failing host, Ctrl-C
        with tempfile.TemporaryDirectory(prefix="wirecap-bundle-") as tmp:
            self._install(deploy.bundle(out_dir=Path(tmp)))

    def _install(self, b: deploy.Bundle) -> None:
        self.log(f"remote-run: project bundle {b.version} ({b.files} files)")

        def one(s: HostSession):
            done = deploy.install(s, b)
            hello = self.agent(s, ["hello"], "install")
            if Path(hello["root"]) != Path(s.host.project_dir) or hello["version"] != b.version:
                raise RemoteError(s.name, f"the agent runs from {hello['root']} (version {hello['version']}), "
                                          f"not the copy just installed in {s.host.project_dir}", "install")
            self.installed.add(s.name)
            return done

        for name, done in self.parallel("install", one).items():
            self.record["hosts"][name]["install"] = done

    def interfaces(self) -> None:
        linked = [s for s in self.sessions.values() if s.host.interface and s.host.test_address]

        def one(s: HostSession):
            return self.agent(s, ["iface-up", "--state", self.state(s), "--interface", s.host.interface,
                                  "--address", s.host.test_address], "interfaces")

        for name, info in self.parallel("interfaces", one, linked).items():
            self.record["hosts"][name]["interface"] = info

    def counters(self, label: str) -> None:
        linked = [s for s in self.sessions.values() if s.host.interface]

        def one(s: HostSession):
            return self.agent(s, ["counters", "--interface", s.host.interface], f"counters ({label})")

        for name, c in self.parallel(f"counters-{label}", one, linked).items():
            self.record["hosts"][name].setdefault("counters", {})[label] = c["counters"]

    def job(self, s: HostSession, name: str, args: list[str], step: str, timeout: float) -> dict:
        """Run an agent command as a job on a host and wait for its result.
        Jobs (unlike plain commands) are stopped by teardown if we are interrupted."""
        self.agent(s, ["start", "--state", self.state(s), "--name", name, "--", *args], f"{step} start")
        cmd = (f"{deploy.python_command(s)} -m experiments.remote.agent wait --state "
               f"{shlex.quote(self.state(s))} --name {shlex.quote(name)} --timeout {timeout:g}")
        res = s.run(cmd, step, cwd=s.host.project_dir, timeout=timeout + 30, check=False)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        try:
            done = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise RemoteError(s.name, f"job {name}: {(res.stderr.strip() or res.stdout.strip())[-1500:]}",
                              step) from None
        if done.get("exit") != 0:
            raise RemoteError(s.name, f"`agent {' '.join(args[:1])}` exited {done.get('exit')}: "
                                      f"{(done.get('stderr') or '').strip()[-1500:]}", step)
        return done["result"]

    def measure_point(self, impl: str, point: dict, idx: int) -> tuple[dict, dict]:
        """One point: capture side in the background, generator in front, then stop."""
        cap, gen = self.sessions[self.inv.capture.name], self.sessions[self.inv.generator.name]
        job = f"capture-{idx}"
        self.agent(cap, ["start", "--state", self.state(cap), "--name", job, "--", "capture", "--impl", impl,
                         "--point", json.dumps(point), "--interface", cap.host.interface,
                         "--bind", cap.host.test_ip], "capture start")
        # the generator addresses its frames to the capture interface (raw
        # frames, no ARP): its MAC is what iface-up reported
        cap_mac = self.record["hosts"].get(cap.name, {}).get("interface", {}).get("mac")
        sent = self.job(gen, f"generate-{idx}", ["generate", "--impl", impl,
                                                 "--point", json.dumps({**point, "dst_mac": cap_mac}),
                                                 "--interface", gen.host.interface,
                                                 "--bind", gen.host.test_ip, "--dest", cap.host.test_ip],
                        "generate", timeout=min(self.step_timeout, roles.MAX_DURATION_S + 30))
        # the capture side stops by itself once everything arrived (and, for
        # an engine with a pool, was worked off); past that, stop it: it
        # reports what it got
        drain = roles.drain_timeout(impl, point)
        try:
            got = self.agent(cap, ["wait", "--state", self.state(cap), "--name", job, "--timeout", f"{drain:g}"],
                             "capture wait", timeout=drain + 30)
        except RemoteError:
            got = self.agent(cap, ["stop", "--state", self.state(cap), "--name", job], "capture stop", timeout=60)
        if got.get("result") is None:
            raise RemoteError(cap.name, f"the capture side of point {idx} reported nothing: {got.get('stderr')}",
                              "capture")
        return got["result"], sent

    def probe(self) -> dict | None:
        if self.probe_packets <= 0:
            return None
        point = roles.UdpProbe.points(self.probe_packets, self.probe_rate)[0]
        self.counters("before")
        t0 = time.monotonic()
        got, sent = self.measure_point("probe", point, 0)
        self.counters("after")
        row = roles.UdpProbe.row(point, got, sent)
        row["seconds"] = round(time.monotonic() - t0, 3)
        self.record["probe"] = row
        self.log(f"remote-run: probe {row['sent']} sent, {row['received']} received "
                 f"({row['achieved_pps']:.0f} p/s) over the test link")
        if row["received"] == 0:
            raise RemoteError(self.inv.capture.name, f"received none of the {row['sent']} probe packets from "
                                                     f"{self.inv.generator.name}: check the test link "
                                                     f"({self.inv.capture.interface})", "probe")
        return row

    def run_on_capture(self) -> Path:
        """sim backend: the experiment runs on the capture host; fetch its run folder."""
        cap = self.sessions[self.inv.capture.name]
        state = self.state(cap)
        args = ["run-experiment", "--name", self.name, "--backend", self.backend, "--params",
                json.dumps(self.overrides), "--results", f"{state}/results"] + (["--quick"] if self.quick else [])
        t0 = time.monotonic()
        try:
            done = self.job(cap, "experiment", args, "experiment", self.step_timeout)
        except RemoteError as exc:
            raise RemoteError(cap.name, f"experiment {self.name} failed: {exc.reason}", "experiment") from None
        self.record["steps"].append({"step": "experiment", "seconds": round(time.monotonic() - t0, 3), "ok": True})
        remote_dir = done["run_dir"]
        tar_remote = f"{state}/fetch.tar.gz"
        cap.run(f"tar -czf {shlex.quote(tar_remote)} -C {shlex.quote(remote_dir)} .", "collect")
        local_dir = results.new_run_dir(self.name)
        with tempfile.TemporaryDirectory() as tmp:
            tar_local = Path(tmp) / "fetch.tar.gz"
            cap.get(tar_remote, str(tar_local), "collect")
            with tarfile.open(tar_local) as tar:
                tar.extractall(local_dir, filter="data")
        self.record["remote_run_dir"] = f"{cap.name}:{remote_dir}"
        return local_dir

    def run_points_xdp(self) -> Path:
        """xdp backend: every point of the experiment measured across the hosts."""
        import pandas as pd

        live = roles.xdp_roles()
        cfg = registry.config(self.name, quick=self.quick, overrides=self.overrides, backend="xdp")
        cfg["backend"] = "xdp"
        rows = []
        for i, point in enumerate(live.points(self.name, cfg), start=1):
            got, sent = self.measure_point("xdp", point, i)
            rows.append(live.row(point, got, sent))
        df = pd.DataFrame(rows)
        mod = registry.get(self.name)
        run_dir = results.save_run(self.name, cfg, df, accounting=getattr(mod, "ACCOUNTING", True))
        results.write_json(run_dir / "claims.json", [c.as_row() for c in mod.claims(df)])
        mod.plot(df, run_dir / f"{self.name}.png")
        return run_dir

    def finish(self, run_dir: Path) -> Path:
        meta_path = run_dir / "config.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        meta["remote"] = {k: v for k, v in self.record.items() if k != "hosts"} | {
            "hosts": {n: {k: v for k, v in h.items() if k != "counters"} for n, h in self.record["hosts"].items()}}
        results.write_json(meta_path, meta)
        for name, h in self.record["hosts"].items():
            results.write_json(run_dir / "remote" / f"{name}.json", h)
        if "probe" in self.record:
            results.write_json(run_dir / "remote" / "probe.json", self.record["probe"])
        return run_dir

    def teardown(self) -> list[RemoteError]:
        """Undo everything on every host; returns problems (never raises)."""
        problems: list[RemoteError] = []
        for s in self.sessions.values():
            if s.conn is None:
                continue
            if s.name in self.installed:
                try:
                    out = self.agent(s, ["teardown", "--state", self.state(s)], "teardown", timeout=60)
                    self.record["hosts"].setdefault(s.name, {})["teardown"] = out
                except RemoteError as exc:
                    problems.append(exc)
            s.close()
        return problems

    # ---- the whole run ----------------------------------------------------------------

    def execute(self) -> Path:
        problems: list[RemoteError] = []
        failed = True
        try:
            with _sigterm_as_interrupt():
                self.log(f"remote-run {self.run_id}: {self.name} on "
                         + ", ".join(f"{h.name} ({h.role})" for h in self.inv.hosts))
                self.connect()
                self.check()
                if self.backend == "xdp":
                    try:
                        roles.xdp_roles()
                    except RuntimeError as exc:
                        raise RemoteError("localhost", str(exc), "prepare") from None
                self.install()
                self.interfaces()
                self.probe()
                run_dir = self.run_points_xdp() if self.backend == "xdp" else self.run_on_capture()
                self.counters("end")
                failed = False
        finally:
            problems = self.teardown()
            if problems and failed:  # the original error wins; say what was left behind
                self.log("remote-run: teardown problems: " + "; ".join(map(str, problems)))
        if problems:
            raise RemoteError(problems[0].host, "teardown failed: " + "; ".join(p.reason for p in problems),
                              "teardown")
        return self.finish(run_dir)


def remote_run(inventory_path, name: str, quick: bool = False, backend: str = "sim",
               overrides: dict | None = None, probe_packets: int = 2000, probe_rate: float = 20_000,
               step_timeout: float = 600, log=print) -> Path:
    """Validate everything local first (inventory, experiment, parameters),
    then run across the hosts. Returns the local run folder."""
    inv = inventory.load(inventory_path)
    mod = registry.get(name)
    backends = getattr(mod, "BACKENDS", ("sim",))
    if backend not in backends:
        raise ValueError(f"backend {backend!r} is not available for {name}; use one of {', '.join(backends)}")
    # a bad --param fails here, before any SSH
    cfg = registry.config(name, quick=quick, overrides=overrides, backend=backend)
    if backend == "xdp":
        try:
            roles.xdp_roles().points(name, cfg)  # an experiment not measured across hosts, too
        except RuntimeError as exc:
            raise RemoteError("localhost", str(exc), "prepare") from None
    return RemoteRun(inv, name, quick, backend, overrides, probe_packets, probe_rate, step_timeout, log).execute()
