"""Errors and warnings of the traces package.

A capture file that cannot be read raises :class:`CaptureFormatError`, whose
message names the file, the byte offset and the problem::

    traces/x.pcap: offset 24: record claims 9999999 captured bytes, more than the maximum 262144

A file that merely ends early (a capture cut off mid-record) keeps the
packets before the cut and warns with :class:`TruncatedCaptureWarning`
(``strict=True`` turns that into a :class:`CaptureFormatError` too).
"""
from __future__ import annotations

from pathlib import Path


class CaptureFormatError(ValueError):
    """A pcap/pcapng file is corrupt, truncated (strict mode) or unsupported."""

    def __init__(self, path: str | Path, offset: int, problem: str):
        self.path = str(path)
        self.offset = int(offset)
        self.problem = problem
        super().__init__(f"{self.path}: offset {self.offset}: {problem}")


class TruncatedCaptureWarning(UserWarning):
    """The last record of a capture file is cut off; the packets before it were kept."""
