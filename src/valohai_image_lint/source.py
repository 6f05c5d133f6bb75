"""Bytes in, text out: decoding, line index and positions.

Positions are 1-based lines and columns counted in Unicode code points, and offsets index
the decoded text without its byte-order mark (which is also what libyaml's marks count).
"""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from itertools import accumulate
from typing import BinaryIO, Optional

from valohai_image_lint._record import FrozenRecord, Record, set_field

UTF8_BOM = b"\xef\xbb\xbf"
# A valohai.yaml is a few kilobytes (the largest of 150 public ones is 28 kB). Reading a file
# costs about a second per megabyte of YAML in Python, so a bigger file is reported, not read:
# a pre-commit hook must not hang on a generated or mistaken file.
MAX_SOURCE_BYTES = 10 * 1024 * 1024
_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)

# Standard input beyond the limit is counted (for the message), but only up to this much.
_STDIN_COUNT_LIMIT = 4 * 2**30
_CHUNK = 2**20


class Oversized(bytes):
    """A file too big to lint: only its first bytes, and ``size``, the size of the whole."""

    size: int

    def __new__(cls, head: bytes, size: int) -> Oversized:
        data = super().__new__(cls, head)
        data.size = size
        return data


def _not_regular(mode: int) -> str:
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file; not read"


def read_source(path: str) -> bytes:
    """The bytes of a file to lint, read with a bound.

    The file is checked with ``stat`` first and opened without blocking, so a FIFO, a device
    or a directory is an ``OSError`` naming what it is (never a hang, never an endless read).
    A file over ``MAX_SOURCE_BYTES`` is not read whole: the result is ``Oversized``, which
    ``SourceFile.from_bytes`` reports with the file's real size.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise OSError(0, _not_regular(mode))
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(descriptor)  # the file opened, not the one stat'ed a moment ago
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, _not_regular(info.st_mode))
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            # Sized by fstat: read(n) allocates n bytes up front, and a run over thousands of
            # small files (pre-commit passing every changed .py) must not allocate 10 MiB each.
            # A file that grew since is read on, up to the bound.
            want = min(info.st_size, MAX_SOURCE_BYTES) + 1
            data = handle.read(want)
            if len(data) == want and want <= MAX_SOURCE_BYTES:
                data += handle.read(MAX_SOURCE_BYTES + 1 - len(data))
    finally:
        os.close(descriptor)
    if len(data) > MAX_SOURCE_BYTES:
        return Oversized(data[:0], max(info.st_size, len(data)))
    return data


def read_stream(stream: BinaryIO) -> bytes:
    """Standard input, read with the same bound as a file (the rest is counted, not kept)."""
    data = stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) <= MAX_SOURCE_BYTES:
        return data
    size = len(data)
    while size <= _STDIN_COUNT_LIMIT:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
    return Oversized(b"", size)


# The line breaks of YAML 1.1, which libyaml (and so every mark it reports) counts;
# compiled (and cached by re) only for a text that holds more than \n.
_LINE_BREAK = "\r\n|[\r\n\x85\u2028\u2029]"


class Position(FrozenRecord):
    """A place in a source: ``offset`` into the text, 1-based ``line`` and ``column``."""

    __slots__ = ("offset", "line", "column")
    offset: int
    line: int
    column: int

    def __init__(self, offset: int, line: int, column: int) -> None:
        set_field(self, "offset", offset)
        set_field(self, "line", line)
        set_field(self, "column", column)


class Span(FrozenRecord):
    """A half-open range of a source text: ``start`` inclusive, ``end`` exclusive."""

    __slots__ = ("start", "end")
    start: Position
    end: Position

    def __init__(self, start: Position, end: Position) -> None:
        set_field(self, "start", start)
        set_field(self, "end", end)


class SourceError(Exception):
    """The bytes are not text we can lint; carries where the problem is."""

    def __init__(self, message: str, offset: int = 0, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column


def _wide_encoding(data: bytes) -> Optional[str]:
    """Name the UTF-16 or UTF-32 encoding ``data`` is in, if it looks like one."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            return name
    head = data[:4]
    if len(head) == 4 and head.count(0) == 3:
        return "UTF-32"
    # ASCII text in UTF-16 has a NUL beside every character; UTF-8 text has none at all.
    if len(head) >= 2 and (head[0] == 0) != (head[1] == 0):
        return "UTF-16"
    return None


def _where(data: bytes, index: int) -> tuple[int, int, int]:
    """Offset, line and column of byte ``index`` of ``data`` (after any BOM), as every other
    position is counted: the bytes before it decoded (a bad sequence as one character)."""
    before = data[:index].decode("utf-8", "replace")
    where = SourceFile("", before).position(len(before))
    return where.offset, where.line, where.column


class SourceFile(Record):
    """One file's text with what is needed to write it back byte for byte."""

    __slots__ = ("path", "text", "has_bom", "_line_starts")
    _compared = ("path", "text", "has_bom")
    _unshown = ("_line_starts",)
    path: str
    text: str
    has_bom: bool
    _line_starts: Optional[list[int]]

    def __init__(self, path: str, text: str, has_bom: bool = False,
                 _line_starts: Optional[list[int]] = None) -> None:
        self.path = path
        self.text = text
        self.has_bom = has_bom
        self._line_starts = _line_starts

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> SourceFile:
        """Decode UTF-8 (with or without BOM); raise ``SourceError`` for anything else."""
        size = data.size if isinstance(data, Oversized) else len(data)
        if size > MAX_SOURCE_BYTES:
            over = "over " if size > _STDIN_COUNT_LIMIT and isinstance(data, Oversized) else ""
            raise SourceError(
                f"file is {over}{size / 2**20:.1f} MiB; files over {MAX_SOURCE_BYTES // 2**20}"
                " MiB are not linted (a valohai.yaml is usually a few kilobytes)"
            )
        wide = _wide_encoding(data)
        if wide is not None:
            raise SourceError(f"file is encoded as {wide}; save it as UTF-8")
        has_bom = data.startswith(UTF8_BOM)
        if has_bom:
            data = data[len(UTF8_BOM) :]
        nul = data.find(b"\x00")
        if nul != -1:
            raise SourceError("file contains a NUL byte; is it binary?", *_where(data, nul))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte offset"
                f" {exc.start})",
                *_where(data, exc.start),
            ) from None
        return cls(path, text, has_bom)

    def to_bytes(self, text: Optional[str] = None) -> bytes:
        """Encode ``text`` (default: this file's) the way the file was stored."""
        data = (self.text if text is None else text).encode("utf-8")
        return UTF8_BOM + data if self.has_bom else data

    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            text = self.text
            if "\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
                breaks = re.compile(_LINE_BREAK).finditer(text)
                self._line_starts = [0] + [m.end() for m in breaks]
            else:
                # Only \n breaks (nearly every file): line lengths summed in C, three times
                # faster than a match object per line.
                lines = text.split("\n")
                lines.pop()
                self._line_starts = list(accumulate(map((1).__add__, map(len, lines)), initial=0))
        return self._line_starts

    def position(self, offset: int) -> Position:
        starts = self.line_starts
        index = bisect_right(starts, offset) - 1
        return Position(offset, index + 1, offset - starts[index] + 1)

    def span(self, start: int, end: int) -> Span:
        return Span(self.position(start), self.position(end))

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its line break."""
        starts = self.line_starts
        if not 1 <= line <= len(starts):
            return ""
        start = starts[line - 1]
        end = starts[line] if line < len(starts) else len(self.text)
        text = self.text[start:end]
        return text.rstrip("\r\n\x85\u2028\u2029") if line < len(starts) else text

    def line_end_offset(self, line: int) -> int:
        """Offset of the end of 1-based ``line``, before its line break."""
        start = self.line_starts[line - 1]
        return start + len(self.line_text(line))
