"""The front door: ``invoke --list`` shows every task, ``invoke --help NAME``
its parameters (with units and defaults).

    invoke run-experiment --name fig9                 # one figure, full scale
    invoke run-experiment --name all --quick --jobs 2 # every experiment, seconds
    invoke sweep --engine wirecap-b,dna -M 64,256 -R 100,500 -x 300 -P 1e3,1e5
    invoke report                                     # results/REPORT.md and REPORT.html
    invoke remote-run --inventory hosts.toml --name fig9 --quick

Each task is a thin wrapper: the work lives in experiments/ (runner, sweep,
report, reference, remote/), so everything here can be called from Python too.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from invoke import Collection, Exit, task

ROOT = Path(__file__).resolve().parent


BAD_INPUT = 2  # exit status of every refused argument (README: one line, status 2)


def _bad(message: str):
    """Exit with one line and status 2: the input was wrong, nothing was done."""
    return Exit(message, code=BAD_INPUT)


def _parse_params(params: list[str]) -> dict:
    """``key=value`` pairs; values are JSON where they parse (numbers, lists).

    A value that is not JSON is taken as a string (``trace=gnutella``), but one
    that looks like JSON (starts with [, { or ") and does not parse is refused:
    ``engines='["wirecap-b:256:500"'`` is a typo, not an engine named '['."""
    out = {}
    for item in params or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise _bad(f"--param {item!r}: expected key=value, e.g. --param R=500")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError as exc:
            if raw.lstrip()[:1] in ("[", "{", '"'):
                raise _bad(f"--param {item}: {key} is not valid JSON ({exc.msg} at character {exc.pos}); "
                           f"e.g. --param '{key}=[\"a\", \"b\"]'") from None
            out[key.strip()] = raw
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise _bad(f"--param {item[:60]}{'...' if len(item) > 60 else ''}: {exc}") from None
    return out


def _param_item(params: list[str] | None, key: str) -> str:
    """The --param word that set `key` (for messages), or the key itself."""
    for item in reversed(params or []):
        if item.partition("=")[0].strip() == key:
            return item
    return key


def _check_config(names: list[str], quick: bool, backend: str, overrides: dict, params: list[str] | None) -> None:
    """Every --param value through experiments/params.py before anything runs
    or any run folder exists; a bad one exits 2 with one line naming it."""
    from experiments import registry
    from experiments.params import ParamError

    for n in names:
        try:
            registry.config(n, quick=quick, overrides=overrides, backend=backend)
        except ParamError as exc:
            raise _bad(f"--param {_param_item(params, exc.name)}: {exc}") from None
        except KeyError as exc:
            if len(names) == 1:   # with --name all, a parameter some experiments lack fails only those
                raise _bad(exc.args[0]) from None


def _check_jobs(jobs) -> int:
    from experiments import params

    try:
        return params.check("jobs", jobs)
    except ValueError as exc:
        raise _bad(f"--jobs {jobs}: {exc}") from None


def _need_build() -> None:
    """The C core is compiled at install time; say how when it is missing."""
    try:
        import driver._sim  # noqa: F401
        import engine._core  # noqa: F401
    except ImportError as exc:
        raise Exit(f"the C engine core is not built ({exc}); run `make setup` (or `make test`) first") from exc


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise Exit(f"{what} needs root (network namespaces, XDP, AF_XDP): run it as root or with sudo")


def _names(name: str) -> list[str]:
    from experiments import registry

    names = registry.names() if name == "all" else [name]
    for n in names:
        if n not in registry.EXPERIMENTS:
            raise _bad(f"unknown experiment {n!r}; known: {', '.join(registry.names())} or 'all'")
    return names


@task(
    iterable=["param"],
    help={
        "name": "experiment name (see `invoke list-experiments`) or 'all' (default: required)",
        "quick": "run the reduced set of points: seconds instead of minutes (default: off)",
        "backend": "sim (default: the simulated testbed) or xdp (real AF_XDP, needs root)",
        "jobs": "local worker processes for the points (default 1: in order; the table is the same)",
        "scheduler": "address of a Dask scheduler, e.g. tcp://127.0.0.1:8786: run the points there (default: none)",
        "plot_only": "redraw the figure of the latest saved run, compute nothing (default: off)",
        "resume": "continue an interrupted identical run from its saved points (default: on; --no-resume starts afresh)",
        "param": "override one configuration value, key=value (repeatable; JSON values), e.g. --param R=500; "
                 "with --backend xdp also the real backend's own (the module's XDP_CONFIG) "
                 "(default: none, the experiment's own configuration)",
    },
)
def run_experiment(c, name, quick=False, backend="sim", jobs=1, scheduler="", plot_only=False, resume=True,
                   param=None):
    """Run an experiment and save results/<name>/<utc>-<gitsha>/ (data, config, claims, figure)."""
    from experiments import executor, runner

    names = _names(name)
    if backend not in ("sim", "xdp"):
        raise _bad(f"--backend {backend!r}: choose sim or xdp")
    jobs = _check_jobs(jobs)
    overrides = _parse_params(param)
    _check_config(names, quick, backend, overrides, param)
    if backend == "xdp":
        _need_root("--backend xdp")
    if not plot_only:
        _need_build()
    failed = []
    for n in names:
        try:
            path = runner.run_experiment(n, quick=quick, backend=backend, overrides=overrides,
                                         plot_only=plot_only, jobs=jobs, scheduler=scheduler or None,
                                         resume=resume)
        except executor.SchedulerError as exc:
            raise _bad(str(exc)) from exc
        except (KeyError, ValueError, FileNotFoundError) as exc:
            # a wrong name, parameter or missing run: the message says what to change
            failed.append(f"{n}: {exc.args[0] if exc.args else exc}")
        except Exception:  # noqa: BLE001 - one broken experiment must not stop `--name all`
            traceback.print_exc()
            failed.append(f"{n}: failed with {sys.exc_info()[0].__name__} (traceback above)")
        else:
            print(f"{n}: {path}")
    if failed:
        raise Exit("\n".join(failed))


@task
def list_experiments(c):
    """List the registered experiments with their titles and backends."""
    from experiments import registry

    for n in registry.names():
        mod = registry.get(n)
        print(f"{n:10s} {mod.TITLE}  [{', '.join(getattr(mod, 'BACKENDS', ('sim',)))}]")


@task(
    auto_shortflags=False,
    help={
        "engine": "engines, comma-separated: wirecap-b, wirecap-a, dna, netmap, pfring, dpdk, or full specs "
                  "like wirecap-b:256:100 or dpdk:4096 (required)",
        "M": "WireCAP descriptor segment sizes M, cells per chunk, comma-separated (default: 256)",
        "R": "WireCAP ring-buffer pool sizes R, chunks per queue, comma-separated (default: 500)",
        "T": "WireCAP-A offloading thresholds T, percent, comma-separated (default: 60)",
        "offload": "WireCAP-A offloading policies, comma-separated: chunk (the paper's), bucket or hybrid "
                   "(ours: redirection-table bucket moves; trace workloads only) (default: chunk)",
        "x": "BPF filter runs per packet (load), comma-separated (default: 0)",
        "P": "burst lengths in packets, comma-separated, 1e5 style allowed (default 100000; "
             "traces are replayed whole)",
        "queues": "receive queues (RSS), comma-separated (default: 1)",
        "trace": "workloads, comma-separated: burst (64 B line-rate burst), fermilab-like[:SEED] (the "
                 "Fermilab-like trace as recorded) or a pcap path (default: burst)",
        "size": "burst frame size in bytes (default 64)",
        "nic": "NIC models, comma-separated: 82599, xl710, e810, cx5 (driver/sim/nics.py; bursts run at the "
               "NIC's line rate, traces are steered by its redirection table) (default: 82599)",
        "label": "a name for this sweep, stored in its config.json (default: none)",
        "jobs": "local worker processes (default 1; same table)",
        "scheduler": "Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: none: local)",
        "resume": "continue an interrupted identical sweep (default: on; --no-resume starts afresh)",
        "skip_invalid": "drop invalid combinations (e.g. R <= N/M) instead of stopping (default: off)",
    },
)
def sweep(c, engine, M="", R="", T="", offload="", x="0", P="", queues="1", trace="burst", size=64, label="",
          jobs=1, scheduler="", resume=True, skip_invalid=False, nic=""):
    """Sweep any engine over lists of M, R, T, offload, x, P, queues and trace; save results/sweep/<run>/."""
    from experiments import executor
    from experiments import sweep as sw

    jobs = _check_jobs(jobs)
    _check_sweep_axes(engine=engine, M=M, R=R, T=T, offload=offload, x=x, P=P, queues=queues, trace=trace,
                      size=size, nic=nic)
    _need_build()
    try:
        grid = sw.grid_from_args(engine, M=M, R=R, T=T, x=x, P=P, queues=queues, trace=trace, size=size,
                                 skip_invalid=skip_invalid, offload=offload, nic=nic)
        run_dir = sw.run_sweep(grid, label=label, jobs=jobs, scheduler=scheduler or None, resume=resume)
    except executor.SchedulerError as exc:
        raise _bad(str(exc)) from exc
    except ValueError as exc:
        raise _bad(f"sweep: {exc}") from exc
    print(run_dir)


def _check_sweep_axes(**axes) -> None:
    """Every value of every sweep axis through experiments/params.py (the
    same limits as --param and the tools) before the grid is built."""
    from experiments import params

    names = {"engine": "engine", "trace": "trace", "offload": "offload", "nic": "nic"}
    for opt, text in axes.items():
        flag = f"-{opt}" if opt in ("M", "R", "T", "x", "P") else f"--{opt}"
        try:
            if opt == "size":
                params.check_text("size", str(text))
            elif opt in names:
                for word in str(text).split(","):
                    if word.strip() and not (opt == "trace" and word.strip() == "burst"):  # the sweep's own
                        params.check_one(names[opt], word.strip())
            else:
                params.check_list_text(opt, text)
        except ValueError as exc:
            raise _bad(f"sweep {flag} {text}: {exc}") from None


@task(
    auto_shortflags=False,
    help={
        "trace": "the trace: fermilab-like[:SEED], gnutella, 1kxun, synscan or a pcap path (default fermilab-like)",
        "x": "BPF filter runs per packet, pkt_handler's load (default 300)",
        "nic": "the NIC model (default 82599; the only one for now)",
        "queues": "receive queues: a count, a list 2,4,6 or a range 1..16 (default 1..6)",
        "max_memory_mb": "the memory bound: pool memory of all queues together, MB (default 4096)",
        "target_drop": "the drop rate to meet, a fraction in [0, 1) (default 0: lossless)",
        "engines": "engines to plan, comma-separated: wirecap-b, wirecap-a, dpdk, dna, netmap, pfring "
                   "(default wirecap-b,wirecap-a,dpdk)",
        "M": "WireCAP's descriptor segment M, cells per chunk, a divisor of 1024 (default 256)",
        "T": "WireCAP-A's thresholds to try, percent, comma-separated (default 20,40,60,80)",
        "json": "print the plan as a JSON array of rows instead of the table (default: off)",
        "headroom": "also find the largest replay speed-up that still meets the target within the bounds "
                    "(default: off)",
        "speed_step": "the speed-up grid's step for --headroom (default 0.25: x1, x1.25, ... x16)",
        "packets": "plan on the trace's first packets only (default: the whole trace)",
        "strict": "exit 1 when some engine and queue count has no configuration within the bounds "
                  "(default: off, exit 0; the row says why)",
    },
)
def plan(c, trace="fermilab-like", x="300", nic="82599", queues="1..6", max_memory_mb="4096", target_drop="0",
         engines="wirecap-b,wirecap-a,dpdk", M="256", T="20,40,60,80", json=False, headroom=False,
         speed_step="0.25", packets="0", strict=False):
    """Capacity planner: the smallest pool memory (and WireCAP-A's T) that captures the trace at the target drop
    rate, per engine and queue count (bracketing + bisection, as RFC 2544 / MLRsearch); saves results/plan/<run>/."""
    import json as json_mod

    from experiments import planner, results
    from experiments.progress import ProgressBar

    try:
        Ts = tuple(int(t) for t in str(T).split(",") if t.strip())
    except ValueError:
        raise _bad(f"-T {T!r}: thresholds, percent, comma-separated integers in 1..100 (e.g. -T 20,60)") from None
    def number(flag, text, kind, what):
        try:
            v = float(text) if kind is float else int(float(text)) if str(text).lower().count("e") else int(text)
        except (TypeError, ValueError, OverflowError):
            raise _bad(f"plan: {flag} {text!r}: expected {what}") from None
        return v

    try:
        spec = planner.PlanSpec(trace=trace, x=number("-x", x, int, "an integer number of filter runs in 0..1,000,000"),
                                nic=nic, queues=planner.parse_queues(queues),
                                engines=tuple(e.strip() for e in str(engines).split(",") if e.strip()),
                                max_memory_mb=number("--max-memory-mb", max_memory_mb, float, "a number of MB"),
                                target_drop=number("--target-drop", target_drop, float, "a fraction in [0, 1)"),
                                M=number("-M", M, int, "a divisor of 1024"), T=Ts, headroom=bool(headroom),
                                speed_step=number("--speed-step", speed_step, float, "a speed-up step"),
                                packets=number("--packets", packets, int, "a packet count") or None).check()
    except ValueError as exc:
        raise _bad(f"plan: {exc}") from None
    _need_build()
    with ProgressBar("plan", unit="sim") as bar:
        df = planner.plan(spec, progress=bar)
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.__dict__.items()}
    run_dir = results.save_run("plan", cfg, df)
    if json:
        cols = [c for c in df.columns]
        rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
                for r in df[cols].to_dict("records")]
        print(json_mod.dumps(rows, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
        print(run_dir, file=sys.stderr)
    else:
        print(planner.table_text(df))
        print(run_dir)
    if strict and not df["found"].all():
        raise Exit("plan: some engine and queue count has no configuration within the bounds (--strict)", code=1)


@task(help={"name": "experiment name or 'all' (default: all)",
            "run": "a run folder to redraw (default: the latest run of the experiment)"})
def plot(c, name="all", run=""):
    """Redraw figures from saved runs; computes nothing."""
    from experiments import results, runner

    names = _names(name)
    missing = [n for n in names if not run and results.latest_run(n) is None]
    if len(missing) == len(names):
        raise _bad(f"nothing to plot: no saved run of {', '.join(missing)} (invoke run-experiment --name "
                   f"{missing[0] if len(missing) == 1 else 'NAME'} first)")
    if run and not Path(run).is_dir():
        raise _bad(f"--run {run}: no such run folder")
    for n in names:
        if n in missing:
            print(f"{n}: no saved run (invoke run-experiment --name {n})")
            continue
        try:
            print(runner.plot_run(n, Path(run) if run else None))
        except (ValueError, FileNotFoundError) as exc:
            raise Exit(f"{n}: {exc}") from exc


@task(help={"out": "the Markdown report (default results/REPORT.md; the HTML page goes next to it)"})
def report(c, out=""):
    """Write results/REPORT.md and REPORT.html: every ACCEPTANCE.md claim, PASS or FAIL, and every figure."""
    from experiments import params
    from experiments import report as rep

    if out:
        try:
            params.check_output_path("--out", out)
        except ValueError as exc:
            raise _bad(str(exc)) from None
    md, html = rep.write_report(out or None)
    print(md)
    print(html)


@task(help={"backend": "sim (default: the simulator's rows), xdp (WireCAP against a bare AF_XDP loop on a "
                       "veth; root) or all (the xdp row says why when it cannot run)",
            "json_out": "also save the table as JSON in this file (default: none)",
            "skip_experiments": "leave out the full-scale experiment rows, about 90 s (default: off)",
            "only": "rows, comma-separated: speed, steer, experiments, xdp or experiment names such as fig9 "
                    "(default: every row of --backend)"})
def bench(c, backend="sim", json_out="", skip_experiments=False, only=""):
    """One table against the targets: simulated packets/s on the Fermilab-like trace, trace load time,
    full-scale experiment times, WireCAP / bare AF_XDP."""
    from experiments import bench as b
    from experiments import params

    try:
        plan = b.plan(backend, only, skip_experiments)
        if json_out:
            params.check_output_path("--json-out", json_out)
    except ValueError as exc:
        raise _bad(f"bench: {exc}") from None
    if backend == "xdp":
        _need_root("invoke bench --backend xdp")
    _need_build()
    rows = b.measure(plan)
    print(b.format_table(rows))
    if json_out:
        from experiments import results

        results.write_json(Path(json_out), b.document(rows))


@task(help={"older_than": "age of the runs to delete: a number and s, m, h, d or w, e.g. 30d (required)",
            "dry_run": "only list what would go (default: off)",
            "keep_latest": "keep each experiment's newest complete run so the report can be rebuilt "
                           "(default: on; --no-keep-latest deletes it too)"})
def clean_results(c, older_than, dry_run=False, keep_latest=True):
    """Delete run folders under results/ older than --older-than (never results/reference/)."""
    from experiments import results

    try:
        age = results.parse_age(older_than)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    gone = results.clean_results(age, keep_latest=keep_latest, dry_run=dry_run)
    for p in gone:
        print(("would delete " if dry_run else "deleted ") + str(p))
    print(f"{len(gone)} run folder(s) {'to delete' if dry_run else 'deleted'}")


@task(help={"reason": "why the reference changes (required; recorded with date and commit)",
            "name": "experiments, comma-separated, or 'all' (default: all simulated experiments)",
            "perf": "also re-measure the performance ratios CI compares (default: on)"})
def update_reference(c, reason, name="all", perf=True):
    """Regenerate results/reference/ from the quick configs: a deliberate act, with a recorded reason."""
    from experiments import reference

    _need_build()
    if not reason.strip():
        raise Exit("--reason: say why the reference changes (e.g. 'NIC buffer footprint recalibrated')")
    names = None if name == "all" else [n for part in name.split(",") for n in _names(part.strip())]
    try:
        for line in reference.update(reason, names=names, perf=perf):
            print(line)
    except ValueError as exc:
        raise Exit(f"update-reference: {exc}") from exc


@task(help={"python": "interpreter for the fresh temporary venv (default: the one running invoke)",
            "dry_run": "resolve and print what would change, leave requirements.lock as it is (default: off)"})
def lock(c, python="", dry_run=False):
    """Refresh requirements.lock: a fresh venv, pyproject's dependencies unpinned, the new exact versions."""
    from experiments import lockfile

    try:
        lines = lockfile.refresh(python=python, write=not dry_run)
    except lockfile.LockError as exc:
        raise Exit(f"lock: {exc}") from exc
    for line in lines:
        print(line)


@task(
    iterable=["param"],
    help={
        "inventory": "inventory file (TOML or YAML) naming hosts and roles: generator, capture, "
                     "optional receiver (required; see experiments/remote/inventory.py)",
        "name": "experiment to run on the capture host (required)",
        "quick": "the experiment's reduced set of points (default: off)",
        "backend": "sim (default) or xdp (real capture on the capture host's interface)",
        "param": "override one configuration value, key=value (repeatable; with --backend xdp also the "
                 "module's XDP_CONFIG, e.g. sender=afpacket; default: none)",
        "probe_packets": "packets the generator sends to check the test link, 0 to skip (default 2000)",
        "probe_rate": "probe send rate in packets/s (default 20000)",
        "timeout": "seconds to wait for any one remote step before giving up (default 600)",
    },
)
def remote_run(c, inventory, name, quick=False, backend="sim", param=None, probe_packets=2000,
               probe_rate=20000, timeout=600):
    """Run an experiment across hosts over SSH (Fabric): install, set up, capture, generate, collect, tear down."""
    from experiments.remote import orchestrate
    from experiments.remote.errors import InventoryError, RemoteError

    _names(name)
    if not Path(inventory).is_file():
        raise Exit(f"--inventory {inventory}: no such file (see experiments/remote/inventory.py for the format, "
                   f"or `invoke ssh-testbed-up` for a local one)")
    try:
        run_dir = orchestrate.remote_run(inventory, name, quick=quick, backend=backend,
                                         overrides=_parse_params(param), probe_packets=probe_packets,
                                         probe_rate=probe_rate, step_timeout=timeout)
    except (InventoryError, RemoteError) as exc:
        raise Exit(f"remote-run: {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise Exit(f"remote-run: {exc.args[0] if exc.args else exc}") from exc
    except KeyboardInterrupt:
        raise Exit("remote-run: interrupted; every host was torn down", code=130) from None
    print(run_dir)


@task(help={"inventory": "where to write the inventory of the local testbed (default: "
                         "/run/wirecap-sshbed/PREFIX/inventory.toml, in the testbed's private state folder)",
            "prefix": "name prefix of its namespaces (default wcssh)"})
def ssh_testbed_up(c, inventory="", prefix="wcssh"):
    """Two SSH hosts in network namespaces on this machine (sshd each, a veth between them) for remote-run."""
    from experiments.remote import vhosts

    _need_root("ssh-testbed-up")
    try:
        bed = vhosts.up(prefix, Path(inventory) if inventory else None)
    except (OSError, RuntimeError) as exc:
        raise Exit(f"ssh-testbed-up: {exc}") from exc
    print(f"inventory: {bed.inventory}\nstop with: invoke ssh-testbed-down --prefix {prefix}")


@task(help={"prefix": "name prefix of the namespaces to remove (default wcssh)"})
def ssh_testbed_down(c, prefix="wcssh"):
    """Stop the sshd servers and remove the namespaces and veth of ssh-testbed-up."""
    from experiments.remote import vhosts

    _need_root("ssh-testbed-down")
    try:
        lines = vhosts.down(prefix)
    except (OSError, RuntimeError) as exc:  # e.g. a state folder that is not private to us: left alone
        raise Exit(f"ssh-testbed-down: {exc}") from exc
    for line in lines:
        print(line)


ns = Collection(run_experiment, list_experiments, sweep, plan, plot, report, bench, clean_results,
                update_reference, lock, remote_run, ssh_testbed_up, ssh_testbed_down)

# traces/tasks.py: make-trace, rewrite-trace, trace-info
from traces.tasks import TASKS as _TRACE_TASKS  # noqa: E402

for _t in _TRACE_TASKS:
    ns.add_task(_t)

# driver/xdp/tasks.py: testbed-up, testbed-down, xdp-bench (the real backend's testbed)
from driver.xdp.tasks import TASKS as _XDP_TASKS  # noqa: E402

for _t in _XDP_TASKS:
    ns.add_task(_t)
