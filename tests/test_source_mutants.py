"""What source.py's mutation run left unpinned, now pinned in-process.

- ``read_source`` on what is not a regular file (a directory, a FIFO, a device, a socket, and
  a path swapped for a FIFO between the ``stat`` and the ``open``): an ``OSError`` whose
  ``strerror`` names the kind, never a hang.
- ``read_source`` and ``read_stream`` keep their bound: a file of exactly ``MAX_SOURCE_BYTES``
  is read whole, one byte more is ``Oversized`` (holding none of its bytes, carrying the size),
  a file that grows while read is read on to the bound and no further, and standard input
  beyond the bound is counted to just past ``_STDIN_COUNT_LIMIT`` ("over 4096.0 MiB").
- ``SourceFile.from_bytes``: where a NUL byte or bad UTF-8 is (offset, line and column in
  code points, as the language server places it), a two-byte UTF-16 file, and that line
  starts given to the constructor are the ones used.
- ``SourceFile.line_text`` strips only the line break, nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Callable, Optional

import pytest

from valohai_image_lint import source as source_module
from valohai_image_lint.source import (
    _STDIN_COUNT_LIMIT,
    MAX_SOURCE_BYTES,
    Oversized,
    Position,
    SourceError,
    SourceFile,
    read_source,
    read_stream,
)

MIB = 2**20


def not_read(path: str) -> str:
    with pytest.raises(OSError) as info:
        read_source(path)
    assert info.value.strerror is not None
    return info.value.strerror


# -- what is not a regular file ------------------------------------------------------------


def test_a_directory_is_named(tmp_path: Path) -> None:
    assert not_read(str(tmp_path)) == "is a directory, not a regular file; not read"


def test_a_fifo_is_named_and_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "valohai.yaml"
    os.mkfifo(fifo)
    assert not_read(str(fifo)) == "is a FIFO, not a regular file; not read"


def test_a_character_device_is_named() -> None:
    assert not_read(os.devnull) == "is a device, not a regular file; not read"


def test_a_socket_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s"
    if len(str(path)) > 100:  # AF_UNIX paths are short
        pytest.skip("temporary directory too deep for a socket path")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert not_read(str(path)) == "is a socket, not a regular file; not read"


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (stat.S_IFBLK | 0o660, "a device"),  # no block device to open in a container
        (stat.S_IFWHT, "not a regular file"),  # a BSD whiteout: a kind with no name here
        (stat.S_IFDIR | 0o755, "a directory"),
        (stat.S_IFIFO | 0o644, "a FIFO"),
        (stat.S_IFCHR | 0o666, "a device"),
        (stat.S_IFSOCK | 0o755, "a socket"),
    ],
)
def test_every_kind_of_file_is_named(mode: int, kind: str) -> None:
    assert source_module._not_regular(mode) == f"is {kind}, not a regular file; not read"


@pytest.fixture
def alarm() -> Iterator[None]:
    """Turn a blocking ``open`` into a failure after a few seconds instead of a hang."""

    def expire(signum: int, frame: Optional[FrameType]) -> None:
        raise TimeoutError("read_source blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_file_swapped_for_a_fifo_after_stat_is_not_waited_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alarm: None
) -> None:
    """Between the ``stat`` and the ``open`` the file becomes a FIFO with no writer: the open
    does not block (O_NONBLOCK) and the ``fstat`` of what was opened names it."""
    path = tmp_path / "valohai.yaml"
    path.write_bytes(b"- step: {}\n")
    real_stat = os.stat

    def stat_then_swap(target: object, *args: object, **kwargs: object) -> os.stat_result:
        result = real_stat(target, *args, **kwargs)  # type: ignore[arg-type]
        if target == str(path):
            path.unlink()
            os.mkfifo(path)
        return result

    monkeypatch.setattr(os, "stat", stat_then_swap)
    assert not_read(str(path)) == "is a FIFO, not a regular file; not read"


# -- the size bound: files -----------------------------------------------------------------


def sized(tmp_path: Path, size: int) -> str:
    path = tmp_path / "valohai.yaml"
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: no 10 MiB written
    return str(path)


def test_a_file_of_exactly_the_bound_is_read_whole(tmp_path: Path) -> None:
    data = read_source(sized(tmp_path, MAX_SOURCE_BYTES))
    assert type(data) is bytes
    assert data == bytes(MAX_SOURCE_BYTES)


def test_a_file_over_the_bound_keeps_only_its_size(tmp_path: Path) -> None:
    data = read_source(sized(tmp_path, MAX_SOURCE_BYTES + 3 * MIB))
    assert isinstance(data, Oversized)
    assert (bytes(data), data.size) == (b"", MAX_SOURCE_BYTES + 3 * MIB)
    with pytest.raises(SourceError) as info:
        SourceFile.from_bytes("v", data)
    assert info.value.message == (
        "file is 13.0 MiB; files over 10 MiB are not linted"
        " (a valohai.yaml is usually a few kilobytes)"
    )


def grow_after_fstat(monkeypatch: pytest.MonkeyPatch, grow: Callable[[], None]) -> None:
    """The file grows right after ``read_source`` measured it with ``fstat``."""
    real_fstat = os.fstat

    def fstat_then_grow(descriptor: int) -> os.stat_result:
        result = real_fstat(descriptor)
        grow()
        return result

    monkeypatch.setattr(os, "fstat", fstat_then_grow)


def test_a_file_that_grew_since_fstat_is_read_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "valohai.yaml"
    path.write_bytes(b"- step:\n")

    def grow() -> None:
        with open(path, "ab") as handle:
            handle.write(b"    name: train\n")

    grow_after_fstat(monkeypatch, grow)
    assert read_source(str(path)) == b"- step:\n    name: train\n"


@pytest.mark.parametrize("measured", [5, MAX_SOURCE_BYTES - 1, MAX_SOURCE_BYTES])
def test_a_file_that_grew_past_the_bound_is_read_only_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, measured: int
) -> None:
    """Measured at ``measured`` bytes, then grown to 13 MiB: read no further than the bound
    and one byte (that byte tells it is over), and reported as over the bound, not linted
    truncated."""
    path = sized(tmp_path, measured)

    def grow() -> None:
        with open(path, "r+b") as handle:
            handle.truncate(MAX_SOURCE_BYTES + 3 * MIB)

    grow_after_fstat(monkeypatch, grow)
    data = read_source(path)
    assert isinstance(data, Oversized)
    assert (bytes(data), data.size) == (b"", MAX_SOURCE_BYTES + 1)


# -- the size bound: standard input --------------------------------------------------------


class Stream:
    """Standard input that serves ``total`` zero bytes (``cat /dev/zero |`` when huge), in
    the pieces asked for, or shorter ones as a pipe may give; a read without a size fails
    (it would never end on an endless stream)."""

    def __init__(self, total: int, short: Optional[int] = None) -> None:
        self.left = total
        self.short = short  # the second read gives only this much
        self.reads = 0
        self.pieces: dict[int, bytes] = {}

    def read(self, size: Optional[int] = -1) -> bytes:
        assert size is not None and size >= 0, "unbounded read of standard input"
        self.reads += 1
        if self.reads == 2 and self.short is not None:
            size = self.short
        size = min(size, self.left)
        self.left -= size
        if size not in self.pieces:
            self.pieces[size] = bytes(size)
        return self.pieces[size]


def stdin_error(data: bytes) -> str:
    with pytest.raises(SourceError) as info:
        SourceFile.from_bytes("-", data)
    return info.value.message


TAIL = " MiB are not linted (a valohai.yaml is usually a few kilobytes)"


def test_standard_input_of_exactly_the_bound_is_read_whole() -> None:
    data = read_stream(Stream(MAX_SOURCE_BYTES))  # type: ignore[arg-type]
    assert type(data) is bytes
    assert len(data) == MAX_SOURCE_BYTES


def test_standard_input_one_byte_over_the_bound() -> None:
    data = read_stream(Stream(MAX_SOURCE_BYTES + 1))  # type: ignore[arg-type]
    assert isinstance(data, Oversized)
    assert (bytes(data), data.size) == (b"", MAX_SOURCE_BYTES + 1)
    assert stdin_error(data) == "file is 10.0 MiB; files over 10" + TAIL


def test_endless_standard_input_is_counted_to_the_limit_only() -> None:
    stream = Stream(5 * 2**30)
    data = read_stream(stream)  # type: ignore[arg-type]
    assert isinstance(data, Oversized)
    assert (bytes(data), data.size) == (b"", _STDIN_COUNT_LIMIT + 1)
    assert stream.left == 5 * 2**30 - _STDIN_COUNT_LIMIT - 1
    assert stdin_error(data) == "file is over 4096.0 MiB; files over 10" + TAIL


def test_standard_input_at_the_limit_after_a_short_read_is_still_over() -> None:
    """A short read lands the count exactly on the limit: the input goes on, one more read
    shows it, and the message says "over"."""
    data = read_stream(Stream(5 * 2**30, short=MIB - 1))  # type: ignore[arg-type]
    assert isinstance(data, Oversized)
    assert data.size == _STDIN_COUNT_LIMIT + MIB
    assert stdin_error(data) == "file is over 4097.0 MiB; files over 10" + TAIL


def test_standard_input_ending_at_the_limit_has_its_exact_size() -> None:
    data = read_stream(Stream(_STDIN_COUNT_LIMIT))  # type: ignore[arg-type]
    assert isinstance(data, Oversized)
    assert data.size == _STDIN_COUNT_LIMIT
    assert stdin_error(data) == "file is 4096.0 MiB; files over 10" + TAIL


# -- where a file that cannot be decoded is wrong -------------------------------------------


def where(data: bytes) -> tuple[str, int, int, int]:
    with pytest.raises(SourceError) as info:
        SourceFile.from_bytes("v", data)
    error = info.value
    return error.message, error.offset, error.line, error.column


NUL = "file contains a NUL byte; is it binary?"


def test_the_first_nul_byte_is_the_one_reported() -> None:
    data = b"\n- step:\n    image: py\x00thon\n\n\n    name: \x00\n"
    assert where(data) == (NUL, 22, 3, 14)


def test_a_nul_byte_is_placed_in_code_points() -> None:
    # "é" and "日" are two and three bytes, one code point each.
    assert where("\n# é日\n  x\x00".encode()) == (NUL, 9, 3, 4)
    assert where("é日\x00".encode()) == (NUL, 2, 1, 3)
    assert where(b"\xef\xbb\xbf\n\x00") == (NUL, 1, 2, 1)  # after the BOM
    assert where(b"a\xff\xfe\n\xe6\x97\x00") == (NUL, 5, 2, 2)  # bad bytes before it: one each


def test_a_nul_byte_is_placed_on_the_lines_every_other_position_counts() -> None:
    """CR, CRLF, NEL, LS and PS end a line here as in every other position."""
    assert where(b"a\rb\x00") == (NUL, 3, 2, 2)
    assert where(b"a\r\nb\x00") == (NUL, 4, 2, 2)
    assert where("a\u2028\x85b\x00".encode()) == (NUL, 4, 3, 2)


def test_bad_utf8_is_placed_in_code_points() -> None:
    message, offset, line, column = where("\n# é\n  日 ".encode() + b"\xff")
    assert message == "file is not valid UTF-8 (byte 0xff at byte offset 12)"
    assert (offset, line, column) == (9, 3, 5)
    assert where(b"\xc3") == ("file is not valid UTF-8 (byte 0xc3 at byte offset 0)", 0, 1, 1)


def test_a_file_too_big_or_wide_is_placed_at_the_start() -> None:
    message, offset, line, column = where("- step: {}\n".encode("utf-16-le"))
    assert (message, offset, line, column) == (
        "file is encoded as UTF-16; save it as UTF-8", 0, 1, 1)
    assert where(Oversized(b"", MAX_SOURCE_BYTES + 1))[1:] == (0, 1, 1)


@pytest.mark.parametrize("data", [b"a\x00", b"\x00a"])
def test_one_utf16_character_is_utf16(data: bytes) -> None:
    assert where(data)[0] == "file is encoded as UTF-16; save it as UTF-8"


# -- lines ---------------------------------------------------------------------------------


def test_line_text_strips_only_the_line_break() -> None:
    text = "image: X  \r\ntag: X\x85name: AXX\u2028last X  "
    src = SourceFile.from_bytes("v", text.encode())
    assert [src.line_text(n) for n in (1, 2, 3, 4)] == [
        "image: X  ", "tag: X", "name: AXX", "last X  "]
    assert src.line_end_offset(1) == len("image: X  ")


def test_line_starts_given_are_the_ones_used() -> None:
    # Python's lines, where \x85 ends none: a caller that has them passes them in.
    src = SourceFile("p.py", "a\x85b\nc", False, [0, 4])
    assert src.line_starts == [0, 4]
    assert src.position(2) == Position(2, 1, 3)
    assert src.line_text(1) == "a\x85b"
