"""Build-time helpers shared by the cffi build scripts and setup.py (never
imported at run time).

- Sources are directory globs (sorted), so a new .c file in a listed folder
  is built without editing any script.
- The cffi declarations are generated from the public headers: each header
  marks the part Python needs with lines ``/* cffi:begin */`` and
  ``/* cffi:end */``. Comments are stripped and ``#define NAME value``
  becomes ``#define NAME ...``, so cffi asks the C compiler for the value
  and no number is written twice. Whatever cffi's parser cannot take
  (string macros, inline functions, internal parts) stays outside markers.
- The engine core (and the AF_XDP code, which two extensions call from C)
  are compiled once, as static libraries built by setuptools' build_clib
  (setup.py ``libraries=``) and linked into each extension that needs them.

All paths are relative to the repository root: setuptools refuses absolute
source paths, and pip builds from the root.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BEGIN, END = "/* cffi:begin */", "/* cffi:end */"

# The engine core: ring-buffer pool, work queues, buddy groups, capture step.
CORE_DIRS = ["driver/csrc", "engine/csrc"]
# The AF_XDP driver side: sockets, BPF, namespaces, generator, tpacket, xring, libpcap.
XDP_DIRS = ["driver/csrc/xdp"]
# The simulated testbed: NIC model and the simulated engines.
SIM_DIRS = ["driver/csrc/sim", "engine/csrc/sim"]
# The live engine on AF_XDP: capture threads, per-packet work, flows, drive loops.
LIVE_DIRS = ["engine/csrc/live"]

CORE_LIB, XDP_LIB = "wccore", "wcxdp"

WARNINGS = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
# -fPIC: the static libraries end up inside shared objects (the extensions).
# The simulator's hot path crosses files (NIC model -> engine model -> pool,
# work queues, capture step), so the core is compiled for link-time
# optimisation (-flto; -ffat-lto-objects keeps plain code in the archive for
# the extensions linked without it) and with hidden visibility, so calls
# inside an extension bind directly, not through the PLT. Integer code only:
# no result depends on these flags.
CORE_CFLAGS = ["-O3", "-fPIC", "-fvisibility=hidden", "-flto=auto", "-ffat-lto-objects", *WARNINGS]
CORE_LDFLAGS = ["-O3", "-flto=auto"]
XDP_CFLAGS = ["-O2", "-fPIC", *WARNINGS]


def _rel(path: Path) -> str:
    return os.path.relpath(path, ROOT)


def files(dirs, pattern: str) -> list[str]:
    """Files matching pattern directly in each of dirs, sorted per folder."""
    return [_rel(p) for d in dirs for p in sorted((ROOT / d).glob(pattern))]


def c_sources(dirs) -> list[str]:
    return files(dirs, "*.c")


def depends(dirs) -> list[str]:
    """Every .c and .h of dirs: an extension relinks when one changes (its
    static library is rebuilt, but build_ext only looks at these)."""
    return files(dirs, "*.[ch]")


# ---- declarations from the headers ------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_DEFINE = re.compile(r"^#\s*define\s+([A-Za-z_]\w*)\s+\S.*$")
_ARRAY_LEN = re.compile(r"\[\s*[A-Za-z_]\w*\s*\]")
_INCLUDE = re.compile(r'^#\s*include\s+"([^"]+)"', re.M)


class CdefError(ValueError):
    """A header's marked part cannot become a cffi declaration."""


def marked_parts(text: str, name: str = "<header>") -> list[str]:
    """The text between each BEGIN and END marker line of a header."""
    parts, current = [], None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if current is not None:
                raise CdefError(f"{name}:{lineno}: {BEGIN} inside a marked part")
            current = []
        elif stripped == END:
            if current is None:
                raise CdefError(f"{name}:{lineno}: {END} without {BEGIN}")
            parts.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise CdefError(f"{name}: {BEGIN} never closed")
    return parts


def to_cdef(part: str, name: str = "<header>") -> str:
    """One marked part as cffi declarations: no comments, every #define's
    value and every array length named by a macro left to the compiler
    (``...``, ``[...]``), blank lines dropped."""
    out = []
    for line in _COMMENT.sub(" ", part).splitlines():
        line = line.rstrip()
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            m = _DEFINE.match(line.strip())
            if not m:
                raise CdefError(f"{name}: only '#define NAME value' may be marked, not {line.strip()!r}")
            line = f"#define {m.group(1)} ..."
        else:
            # an array length named by a macro: cffi asks the compiler too
            line = _ARRAY_LEN.sub("[...]", line)
        out.append(line)
    return "\n".join(out)


def has_markers(path: Path) -> bool:
    return BEGIN in path.read_text()


def public_headers(dirs) -> list[str]:
    """Headers of dirs that mark a part for Python, each after the headers
    it includes (cffi needs a struct defined before one embeds it by value)."""
    found = {Path(p).name: p for p in files(dirs, "*.h") if has_markers(ROOT / p)}
    ordered: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        if name in ordered or name not in found:
            return
        if name in path:
            raise CdefError(f"include cycle: {' -> '.join(path + [name])}")
        for dep in _INCLUDE.findall((ROOT / found[name]).read_text()):
            visit(Path(dep).name, path + [name])
        ordered.append(name)

    for name in sorted(found):
        visit(name, [])
    return [found[n] for n in ordered]


def cdef_of(headers) -> str:
    """cffi declarations of the marked parts of headers, in that order."""
    chunks = []
    for h in headers:
        text = (ROOT / h).read_text()
        body = "\n".join(to_cdef(p, h) for p in marked_parts(text, h))
        chunks.append(f"/* {h} */\n{body}")
    return "\n".join(chunks) + "\n"


def includes(headers) -> str:
    """The C source cffi compiles the wrappers against."""
    return "".join(f'#include "{Path(h).name}"\n' for h in headers)


# ---- static libraries (setup.py `libraries=`, built once by build_clib) -------------

def static_libraries() -> list[tuple[str, dict]]:
    """(name, build_info) for setup.py; obj_deps recompiles a library when
    one of the headers it sees changes."""
    def lib(name, dirs, include_dirs, cflags):
        return (name, {"sources": c_sources(dirs), "include_dirs": include_dirs, "cflags": cflags,
                       "obj_deps": {"": files(include_dirs, "*.h")}})

    return [lib(CORE_LIB, CORE_DIRS, CORE_DIRS, CORE_CFLAGS),
            lib(XDP_LIB, XDP_DIRS, XDP_DIRS + CORE_DIRS, XDP_CFLAGS)]
