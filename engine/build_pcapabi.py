"""Build of WireCAP's libpcap: ``build/pcap/libpcap.so.0.8``.

A shared library with libpcap's soname and ABI (engine/csrc/pcapabi/wcp.h)
that programs linked against the system's libpcap (tcpdump, tshark's
dumpcap, ndpiReader) load instead of it through LD_LIBRARY_PATH. It holds
the whole live engine (the core, the AF_XDP side, engine/csrc/live), not
Python, and loads the system's libpcap by absolute path for everything that
is not live capture on a wirecap device.

Built by setup.py's build_ext (so `make build` / `make test` build it), or
by hand: ``python engine/build_pcapabi.py``. ``invoke pcap-env`` prints the
environment that runs a program on it.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run by path too
from engine.build_support import CORE_DIRS, LIVE_DIRS, ROOT, WARNINGS, XDP_DIRS, c_sources, files  # noqa: E402

PCAPABI_DIRS = ["engine/csrc/pcapabi"]
SONAME = "libpcap.so.0.8"
OUT_DIR = ROOT / "build" / "pcap"
LIBRARY = OUT_DIR / SONAME
# libpcap's exported names; everything else (the engine's own functions) stays local
VERSION_SCRIPT = """{
  global: pcap_*; bpf_dump; bpf_filter; bpf_image; bpf_validate; eproto_db; wcp_is_wirecap;
  local: *;
};
"""


class BuildError(RuntimeError):
    pass


def _ours(path: Path) -> bool:
    return OUT_DIR.resolve() in path.resolve().parents


def system_libpcap(cc: str = "cc") -> Path:
    """The system's libpcap.so.0.8, never ours: the dynamic linker's cache
    (ldconfig is in /sbin, off a plain user's PATH), else where the
    compiler's linker finds it."""
    for ldconfig in ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        for line in out.splitlines():
            m = re.match(rf"\s*{re.escape(SONAME)} \((.*)\) => (\S+)", line)
            if m and ("x86-64" in m.group(1) or "AArch64" in m.group(1) or sys.maxsize < 2**32):
                if not _ours(Path(m.group(2))):
                    # the soname's link, not its target: a libpcap update keeps it valid
                    return Path(os.path.normpath(m.group(2)))
        break
    try:
        found = subprocess.run([cc, f"-print-file-name={SONAME}"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        found = ""
    if found and Path(found).is_absolute() and Path(found).exists() and not _ours(Path(found)):
        return Path(os.path.normpath(found))
    raise BuildError(f"no system {SONAME} found (ldconfig -p, {cc} -print-file-name): install libpcap0.8 "
                     "(make sysdeps does)")


def system_version(path: Path) -> str:
    lib = ctypes.CDLL(str(path))
    lib.pcap_lib_version.restype = ctypes.c_char_p
    text = lib.pcap_lib_version().decode()
    m = re.search(r"(\d+\.\d+\.\d+)", text)
    if not m:
        raise BuildError(f"{path}: cannot read a version number from {text!r}")
    return m.group(1)


def sources() -> list[str]:
    return c_sources(PCAPABI_DIRS + CORE_DIRS + XDP_DIRS + LIVE_DIRS)


def inputs() -> list[Path]:
    return [ROOT / f for f in files(PCAPABI_DIRS + CORE_DIRS + XDP_DIRS + LIVE_DIRS, "*.[ch]")] + [Path(__file__)]


def up_to_date() -> bool:
    if not LIBRARY.exists():
        return False
    built = LIBRARY.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in inputs())


def build(force: bool = False, quiet: bool = False) -> Path:
    if not force and up_to_date():
        return LIBRARY
    cc = os.environ.get("CC", "cc")
    syslib = system_libpcap(cc)
    version = system_version(syslib)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT_DIR) as tmp:
        script = Path(tmp) / "exports.map"
        script.write_text(VERSION_SCRIPT)
        out = Path(tmp) / SONAME
        cmd = [cc, "-shared", "-O2", "-fPIC", "-fvisibility=hidden", *WARNINGS,
               "-Wno-format-truncation",  # error messages are cut at PCAP_ERRBUF_SIZE on purpose
               f'-DWCP_SYSTEM_LIB="{syslib}"', f'-DWCP_SYSTEM_VERSION="{version}"',
               *[f"-I{ROOT / d}" for d in PCAPABI_DIRS + LIVE_DIRS + XDP_DIRS + CORE_DIRS],
               *[str(ROOT / s) for s in sources()],
               f"-Wl,-soname,{SONAME}", f"-Wl,--version-script={script}", "-Wl,--no-undefined",
               "-ldl", "-lpthread", "-o", str(out)]
        if not quiet:
            print(f"building {LIBRARY.relative_to(ROOT)} (over {syslib}, libpcap {version})")
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise BuildError(f"building {SONAME} failed:\n{res.stderr[-4000:]}")
        if res.stderr.strip() and not quiet:
            print(res.stderr, file=sys.stderr)
        os.replace(out, LIBRARY)  # atomic: a program starting now loads the old or the new one
    return LIBRARY


if __name__ == "__main__":
    try:
        print(build(force="--force" in sys.argv))
    except BuildError as exc:
        sys.exit(str(exc))
