"""Install or update the project on a host.

The bundle is this checkout's source as git sees it (tracked files plus
untracked ones git does not ignore: the working tree you are running, not
the last commit), without results/. Its version is a hash of the files'
names and contents; a host whose ``<project_dir>/.wirecap-version`` already
says so is up to date and only checked.

Install modes (inventory ``install``):

    make      ``make setup`` on the host: system packages, a venv in
              <project_dir>/.venv, the C parts compiled (a fresh Debian 12
              host with a package registry; minutes the first time)
    inplace   compile the C parts in place with the host's ``python``, which
              already has the dependencies (hosts sharing an environment, such
              as ``invoke ssh-testbed-up``'s namespaces)
    none      use the files as they are (a project that is already built)

project_dir is replaced wholesale on update (keeping .venv, build/ and
.remote-state/), so deploy refuses a non-empty folder it did not create.
"""
from __future__ import annotations

import hashlib
import io
import os
import shlex
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from experiments.remote.errors import RemoteError
from experiments.remote.hosts import HostSession
from experiments.results import REPO_ROOT, git_sha

VERSION_FILE = ".wirecap-version"
COMMIT_FILE = ".wirecap-commit"   # the commit deployed; results.git_sha() reads it where there is no .git
KEEP = (".venv", "build", ".remote-state", VERSION_FILE)
EXCLUDE_PREFIXES = ("results/", ".git/", ".venv/", "build/")
INSTALL_TIMEOUT_S = {"make": 1800, "inplace": 600, "none": 60}


@dataclass(frozen=True)
class Bundle:
    path: Path
    version: str
    files: int
    commit: str


def source_files(root: Path = REPO_ROOT) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True, timeout=30).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        # not a git checkout (a tarball): everything but builds and results
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                 and "__pycache__" not in p.parts and p.suffix not in (".so", ".o", ".pyc")]
    return sorted(f for f in files if not f.startswith(EXCLUDE_PREFIXES) and (root / f).is_file())


def bundle(root: Path = REPO_ROOT, out_dir: Path | None = None) -> Bundle:
    """The tarball, in out_dir (remote-run passes a TemporaryDirectory); without
    one, in a new private folder (mkdtemp, 0700) that the caller removes."""
    files = source_files(root)
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0" + (root / f).read_bytes() + b"\0")
    version = h.hexdigest()[:16]
    commit = git_sha()
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="wirecap-bundle-"))
    path = out_dir / f"wirecap-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for f in files:
            tar.add(root / f, arcname=f, recursive=False)
        for name, text in ((VERSION_FILE + ".new", version), (COMMIT_FILE, commit)):
            data = (text + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return Bundle(path, version, len(files), commit)


def python_command(session: HostSession) -> str:
    """How to start the project's Python on the host, from its project_dir."""
    h = session.host
    if h.install == "make":
        return shlex.quote(os.path.join(h.project_dir, ".venv", "bin", "python"))
    return f"env PYTHONPATH={shlex.quote(h.project_dir)} {shlex.quote(h.python)}"


def install(session: HostSession, b: Bundle) -> dict:
    """Make the host's project_dir hold this bundle, built. Returns what was done."""
    h = session.host
    pd = shlex.quote(h.project_dir)
    step = "install"
    have = session.run(f"mkdir -p {pd} && cat {pd}/{VERSION_FILE} 2>/dev/null || true", step).stdout.strip()
    if have == b.version:
        return {"action": "up to date", "version": b.version}
    if not have:
        listing = session.run(f"ls -A {pd}", step).stdout.split()
        foreign = [x for x in listing if x not in KEEP]
        if foreign:
            raise RemoteError(h.name, f"project_dir {h.project_dir} is not empty and was not made by remote-run "
                                      f"({', '.join(foreign[:5])} ...): choose an empty or new folder", step)
    remote_tar = f"{h.project_dir}/.bundle-{b.version}.tar.gz"
    session.put(str(b.path), remote_tar, step)
    keep = " ".join(f"! -name {shlex.quote(k)}" for k in KEEP + (os.path.basename(remote_tar),))
    session.run(f"rm -f {pd}/{VERSION_FILE} && find {pd} -mindepth 1 -maxdepth 1 {keep} -exec rm -rf {{}} + && "
                f"tar -xzf {shlex.quote(remote_tar)} -C {pd} && rm -f {shlex.quote(remote_tar)}", step)
    timeout = INSTALL_TIMEOUT_S[h.install]
    if h.install == "make":
        session.run(f"make setup PYTHON={shlex.quote(h.python)}", step, cwd=h.project_dir, timeout=timeout)
    elif h.install == "inplace":
        session.run(f"{shlex.quote(h.python)} setup.py -q build_ext --inplace", step, cwd=h.project_dir,
                    timeout=timeout)
    # only a complete install gets the version stamp: a failed build is redone next time
    session.run(f"mv {VERSION_FILE}.new {VERSION_FILE}", step, cwd=h.project_dir)
    return {"action": "installed", "version": b.version, "files": b.files, "mode": h.install}
