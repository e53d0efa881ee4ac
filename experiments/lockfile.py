"""requirements.lock: the exact version of every Python package ``make`` installs.

The lock pins the project's declared dependencies (pyproject.toml, extras
[dev]), everything they pull in, and the build tools (pip, setuptools, wheel,
cffi), one ``name==version`` a line under canonical names (PEP 503), sorted.
The Makefile installs with it as constraints and then runs

    python -m experiments.lockfile check      # the venv equals the lock, or exit 1

``invoke lock`` refreshes it on purpose (:func:`refresh`): a fresh temporary
venv, an unpinned install of what pyproject.toml declares, ``pip freeze
--all``, the new lock written and what changed printed. The report
(experiments/report.py) names every run whose recorded package versions are
not the lock's (:func:`run_differences`).

Only the standard library is needed to parse, compare and check (the
Makefile runs ``check`` straight after installing); walking the dependency
tree (:func:`dependency_closure`) uses ``packaging``, which the lock installs.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = "requirements.lock"
LOCK_PATH = REPO_ROOT / LOCK_NAME
PROJECT = "wirecap-repro"
EXTRAS = ("dev",)
# installed before the project (its editable install builds without isolation)
BUILD_TOOLS = ("pip", "setuptools", "wheel", "cffi")
# packages whose version can change the numbers of a run (random streams,
# float reductions, Parquet round trips): a refresh that moves them says so
RESULT_PACKAGES = ("numpy", "pandas", "pyarrow")

HEADER = """\
# requirements.lock: the exact version of every Python package `make setup`
# installs: the project's dependencies (pyproject.toml, extras [dev]), all
# they pull in, and the build tools (pip, setuptools, wheel, cffi).
# Made from `pip freeze --all` (without the project itself) of a fresh venv,
# Python {python} on {platform}, holding an unpinned `pip install` of what
# pyproject.toml declares; `invoke lock` (experiments/lockfile.py) remakes it.
# The Makefile installs with `pip install -c requirements.lock` and fails
# when the venv differs from it (`python -m experiments.lockfile check`).
# Refresh deliberately with `invoke lock`, never by hand: numpy or pandas
# versions can change results, so run `make test` afterwards and, if its
# regression tests differ, `invoke update-reference --reason ...`.
"""

_LINE = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*([^\s=;,]+)$")


class LockError(ValueError):
    """A lock that cannot be read, or a refresh that cannot be made."""


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one '-' ("Jinja2" -> "jinja2")."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- reading and writing ------------------------------------------------------

def parse(text: str, source: str = LOCK_NAME) -> dict[str, str]:
    """``{canonical name: version}`` of a lock (or of ``pip freeze`` output).

    Blank lines and ``#`` comments are skipped; every other line must be
    ``name==version``. Anything looser (>=, a URL, -e, options) or a name
    given twice is a LockError naming the line."""
    pins: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise LockError(f"{source}:{n}: {raw.strip()!r}: expected name==version")
        name, version = canonical(m.group(1)), m.group(2)
        if name in pins:
            raise LockError(f"{source}:{n}: {name} is pinned twice ({pins[name]} and {version})")
        pins[name] = version
    return pins


def read(path: Path | str = LOCK_PATH) -> dict[str, str]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LockError(f"{path}: no such file (make it with `invoke lock`)") from None
    return parse(text, source=path.name)


def render(pins: dict[str, str], python: str = "", platform: str = "") -> str:
    """The lock's text: the header, then ``name==version`` sorted by name."""
    head = HEADER.format(python=python or sys.version.split()[0], platform=platform or sys.platform)
    return head + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


# ---- comparing ------------------------------------------------------------------

def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What a refresh changes, one ``package: old -> new`` line per package
    (``(none)`` for one added or removed), sorted by name."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a != b:
            out.append(f"{name}: {a or '(none)'} -> {b or '(none)'}")
    return out


def installed(exclude: tuple[str, ...] = (PROJECT,)) -> dict[str, str]:
    """``{canonical name: version}`` of the distributions the running Python
    sees (the first on sys.path where one is found twice), without the project."""
    out: dict[str, str] = {}
    skip = {canonical(e) for e in exclude}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        name = canonical(name)
        if name not in skip:
            out.setdefault(name, dist.version)
    return out


def mismatches(lock: dict[str, str], have: dict[str, str]) -> list[str]:
    """How an environment differs from the lock, one line per package, sorted:

        numpy: installed 2.3.0, requirements.lock has 2.4.6
        numpy: not installed, requirements.lock has 2.4.6
        ipdb: installed 0.13.13, not in requirements.lock
    """
    out = []
    for name in sorted(set(lock) | set(have)):
        want, got = lock.get(name), have.get(name)
        if want == got:
            continue
        if want is None:
            out.append(f"{name}: installed {got}, not in {LOCK_NAME}")
        elif got is None:
            out.append(f"{name}: not installed, {LOCK_NAME} has {want}")
        else:
            out.append(f"{name}: installed {got}, {LOCK_NAME} has {want}")
    return out


def run_differences(packages: dict | None, lock: dict[str, str]) -> list[str]:
    """The packages a run recorded (config.json environment.packages) at
    versions other than the lock's, as ``numpy 2.3.0 (requirements.lock:
    2.4.6)``; a package the run recorded as absent reads ``numpy not
    installed (...)``. Packages the lock does not pin are not compared; an
    empty list means the run matches."""
    out = []
    for name, version in sorted((packages or {}).items()):
        want = lock.get(canonical(name))
        if want is None or version == want:
            continue
        got = f"{name} {version}" if version else f"{name} not installed"
        out.append(f"{got} ({LOCK_NAME}: {want})")
    return out


# ---- what the project depends on ---------------------------------------------------

def declared(pyproject: Path | str = REPO_ROOT / "pyproject.toml") -> list[str]:
    """What pyproject.toml declares, as requirement strings: the build tools
    (BUILD_TOOLS and build-system.requires), the dependencies and EXTRAS."""
    import tomllib

    data = tomllib.loads(Path(pyproject).read_text())
    reqs = list(BUILD_TOOLS) + list(data.get("build-system", {}).get("requires", []))
    reqs += list(data["project"].get("dependencies", []))
    for extra in EXTRAS:
        reqs += list(data["project"].get("optional-dependencies", {}).get(extra, []))
    return reqs


def dependency_closure(project: str = PROJECT, extras: tuple[str, ...] = EXTRAS) -> set[str]:
    """Canonical names of every distribution ``project[extras]`` needs in the
    running environment (its requirements, walked recursively with their
    markers and extras evaluated), plus BUILD_TOOLS. A requirement that is
    not installed is a LockError naming it."""
    from packaging.requirements import Requirement

    seen: set[tuple[str, frozenset]] = set()
    todo = [(canonical(project), frozenset(extras), "")]
    names = {canonical(t) for t in BUILD_TOOLS}
    while todo:
        name, want, parent = todo.pop()
        if (name, want) in seen:
            continue
        seen.add((name, want))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise LockError(f"{name} (required by {parent or 'the caller'}) is not installed") from None
        if name != canonical(project):
            names.add(name)
        envs = [{"extra": e} for e in sorted(want)] or [{"extra": ""}]
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((canonical(req.name), frozenset(req.extras), name))
    return names


# ---- making a new lock ---------------------------------------------------------------

def _run(cmd: list[str], what: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
        raise LockError(f"{what} failed ({' '.join(cmd[:4])} ...):\n{tail}")
    return out.stdout


def resolve(python: str = "", pyproject: Path | str = REPO_ROOT / "pyproject.toml",
            log=print) -> tuple[dict[str, str], str]:
    """A fresh temporary venv, the build tools then every declared
    dependency installed unpinned (newest the indexes offer), and its
    ``pip freeze --all``: ``({canonical name: version}, python version)``."""
    python = python or sys.executable
    reqs = declared(pyproject)
    with tempfile.TemporaryDirectory(prefix="wirecap-lock-") as tmp:
        venv = Path(tmp) / "venv"
        log(f"creating a fresh venv with {python} in {venv}")
        _run([python, "-m", "venv", str(venv)], "creating the venv")
        py = str(venv / "bin" / "python")
        log(f"installing {', '.join(BUILD_TOOLS)} (newest)")
        _run([py, "-m", "pip", "install", "-q", "--upgrade", *BUILD_TOOLS], "installing the build tools")
        log(f"installing the {len(reqs)} declared requirements of pyproject.toml unpinned (minutes)")
        _run([py, "-m", "pip", "install", "-q", "--upgrade", *reqs], "installing the declared requirements")
        _run([py, "-m", "pip", "check"], "pip check of the new venv")
        frozen = _run([py, "-m", "pip", "freeze", "--all", "--exclude", PROJECT], "pip freeze")
        version = _run([py, "-c", "import sys; print(sys.version.split()[0])"], "reading the venv's Python").strip()
    return parse(frozen, source="pip freeze"), version


def refresh(path: Path | str = LOCK_PATH, python: str = "", write: bool = True, log=print) -> list[str]:
    """Re-resolve the lock (:func:`resolve`) and write it; return the lines to
    print: what changed, how many packages, and what to do next."""
    path = Path(path)
    old = parse(path.read_text(), source=path.name) if path.exists() else {}
    new, version = resolve(python, log=log)
    diff = changes(old, new)
    text = render(new, python=version, platform=f"{sys.platform} {_machine()}")
    if write:
        path.write_text(text)
    verb = "written" if write else "not written (--dry-run)"
    lines = [f"{path.name}: {len(new)} packages, {len(diff)} changed; {verb}"] + [f"  {d}" for d in diff]
    moved = [p for p in RESULT_PACKAGES if old.get(p) != new.get(p)]
    if moved:
        lines.append(f"WARNING: {', '.join(moved)} changed: results may change. Reinstall (`make setup`), run "
                     f"`make test`, and if its regression tests differ, `invoke update-reference --reason "
                     f"'{', '.join(f'{p} {new.get(p)}' for p in moved)}'`.")
    elif diff:
        lines.append("Reinstall (`make setup`) and run `make test`; if its regression tests differ, "
                     "`invoke update-reference --reason ...`.")
    return lines


def _machine() -> str:
    import platform

    return platform.machine()


# ---- the Makefile's check ---------------------------------------------------------------

def check(path: Path | str = LOCK_PATH) -> list[str]:
    """How the running environment differs from the lock (empty: it matches)."""
    return mismatches(read(path), installed())


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m experiments.lockfile",
                                 description="Check that this Python's packages are exactly requirements.lock.")
    ap.add_argument("command", choices=["check"])
    ap.add_argument("--lock", default=str(LOCK_PATH), help="the lock file (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        problems = check(args.lock)
    except LockError as exc:
        print(f"lockfile: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"this environment ({sys.prefix}) differs from {args.lock}:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print("fix: rebuild the venv (rm -rf .venv && make setup), or, for a deliberate change of "
              "dependencies, refresh the lock with `invoke lock`", file=sys.stderr)
        return 1
    print(f"{Path(args.lock).name}: the {len(read(args.lock))} installed packages match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
