"""Bytes in, text out: decoding, line index and positions.

Positions are 1-based lines and columns counted in Unicode code points, and offsets index
the decoded text without its byte-order mark (which is also what libyaml's marks count).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Optional

UTF8_BOM = b"\xef\xbb\xbf"

# The line breaks of YAML 1.1, which libyaml (and so every mark it reports) counts.
_LINE_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


@dataclass(frozen=True)
class Position:
    """A place in a source: ``offset`` into the text, 1-based ``line`` and ``column``."""

    offset: int
    line: int
    column: int


@dataclass(frozen=True)
class Span:
    """A half-open range of a source text: ``start`` inclusive, ``end`` exclusive."""

    start: Position
    end: Position


class SourceError(Exception):
    """The bytes are not text we can lint; carries where the problem is."""

    def __init__(self, message: str, offset: int = 0, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column


@dataclass
class SourceFile:
    """One file's text with what is needed to write it back byte for byte."""

    path: str
    text: str
    has_bom: bool = False
    _line_starts: Optional[list[int]] = field(default=None, repr=False, compare=False)

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> SourceFile:
        """Decode UTF-8 (with or without BOM); raise ``SourceError`` for anything else."""
        has_bom = data.startswith(UTF8_BOM)
        if has_bom:
            data = data[len(UTF8_BOM) :]
        nul = data.find(b"\x00")
        if nul != -1:
            line = data.count(b"\n", 0, nul) + 1
            column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
            raise SourceError("file contains a NUL byte; is it binary?", nul, line, column)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
            raise SourceError(
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte offset"
                f" {exc.start})",
                0,
                line,
                column,
            ) from None
        return cls(path, text, has_bom)

    def to_bytes(self, text: Optional[str] = None) -> bytes:
        """Encode ``text`` (default: this file's) the way the file was stored."""
        data = (self.text if text is None else text).encode("utf-8")
        return UTF8_BOM + data if self.has_bom else data

    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in _LINE_BREAK_RE.finditer(self.text)]
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
