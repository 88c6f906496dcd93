"""Serving files: HTTP byte ranges (which file, and whether it may be served, is the caller's).

Browsers seek in an <audio> element with Range requests (RFC 9110 §14): one range gets 206 with
Content-Range, a range past the end or a malformed one 416 with `bytes */size`. Several ranges
in one request are answered with the whole file (200), which the RFC allows and which saves a
multipart/byteranges body no audio element asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Bytes sent for an open-ended range ("bytes=0-"): browsers ask for that first, and a whole
#: hour-long recording read into memory for it would be wasteful; they ask again for the rest.
MAX_SPAN = 4 * 1024 * 1024

_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(ValueError):
    """A Range the file cannot satisfy, or one that is malformed: 416."""


@dataclass(frozen=True)
class Span:
    start: int
    #: Inclusive, as in Content-Range.
    end: int
    size: int

    @property
    def length(self) -> int:
        return max(0, self.end - self.start + 1)

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> Span | None:
    """The one span a Range header asks for, or None to send the whole file.

    None for no header, another unit (which the RFC says to ignore) or several ranges;
    Unsatisfiable for a malformed range or one past the end."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    found = _RANGE.match(spec)
    if found is None or (not found.group(1) and not found.group(2)):
        raise Unsatisfiable(header[:64])
    first, last = found.group(1), found.group(2)
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header[:64])
        start, end = max(0, size - suffix), size - 1
    else:
        start = int(first)
        end = int(last) if last else min(size - 1, start + MAX_SPAN - 1)
        if start >= size or end < start:
            raise Unsatisfiable(header[:64])
        end = min(end, size - 1)
    return Span(start, end, size)


def plan(path: Path, header: str | None) -> tuple[Span, bool]:
    """What to send of the file as it is now, and whether that is a part (206). Blocking."""
    size = file_size(path)
    span = parse_range(header, size)
    return (span, True) if span is not None else (Span(0, size - 1, size), False)


def read_at(path: Path, start: int, length: int) -> bytes:
    """`length` bytes from `start` (fewer at the end of the file). Blocking."""
    with path.open("rb") as f:
        f.seek(start)
        return f.read(length)


def file_size(path: Path) -> int:
    return path.stat().st_size
