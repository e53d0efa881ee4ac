"""WireCAP's libpcap (engine/csrc/pcapabi, paper §3.2.2e) from Python: where
the library is, and the environment that runs an unmodified libpcap program
(tcpdump, tshark's dumpcap, ndpiReader) on it.

    env = pcap_env(M=256, R=64, offload="none")
    subprocess.run(["tcpdump", "-i", device("veth0"), "-c", "10"], env=env)

The settings are the library's WIRECAP_PCAP_* variables (README.md,
"Capture with tcpdump, tshark or nDPI through WireCAP"); the library itself
checks their values when a program activates a wirecap device, and names
the variable at fault.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY_DIR = ROOT / "build" / "pcap"
LIBRARY = LIBRARY_DIR / "libpcap.so.0.8"
PREFIX = "WIRECAP_PCAP_"
DEVICE_PREFIX = "wirecap:"
# the variables the library reads (engine/csrc/pcapabi/wcp_env.c), by keyword
SETTINGS = ("M", "R", "T", "OFFLOAD", "RING", "CPUS", "XDP_MODE", "TIMEOUT_US", "BUCKETS", "PERIOD_MS",
            "BPFFS", "STEER_MAP", "COUNTS_MAP", "SYSTEM_LIB")


class LibraryMissing(FileNotFoundError):
    pass


def library() -> Path:
    """The built library, or LibraryMissing naming the command that builds it."""
    if not LIBRARY.exists():
        raise LibraryMissing(f"{LIBRARY} is not built: run `make build` (or "
                             "`python engine/build_pcapabi.py`) in the repository")
    return LIBRARY


def device(ifname: str, queue: int | None = None) -> str:
    """wirecap:IF (every queue) or wirecap:IF@Q."""
    return f"{DEVICE_PREFIX}{ifname}" + ("" if queue is None else f"@{int(queue)}")


def settings_env(**settings) -> dict[str, str]:
    """Only the WIRECAP_PCAP_* variables of settings (keywords as in SETTINGS,
    any case; None leaves one out)."""
    out = {}
    for key, value in settings.items():
        name = key.upper()
        if name not in SETTINGS:
            raise ValueError(f"{key}: not a WireCAP libpcap setting; one of {', '.join(s.lower() for s in SETTINGS)}")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        out[PREFIX + name] = str(value)
    return out


def pcap_env(base: dict | None = None, **settings) -> dict[str, str]:
    """base (default: this process's environment) with the library first on
    LD_LIBRARY_PATH, every WIRECAP_PCAP_* variable of base removed, and
    settings set."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(PREFIX)}
    lib_dir = str(library().parent)
    rest = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p != lib_dir]
    env["LD_LIBRARY_PATH"] = ":".join([lib_dir, *rest])
    env.update(settings_env(**settings))
    return env
