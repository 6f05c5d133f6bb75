"""Bytes to text: decoding, byte-order marks, line breaks and code-point positions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from valohai_image_lint.source import (
    MAX_SOURCE_BYTES,
    Position,
    SourceError,
    SourceFile,
)


def source(text: str) -> SourceFile:
    return SourceFile.from_bytes("valohai.yaml", text.encode("utf-8"))


def test_plain_utf8() -> None:
    src = SourceFile.from_bytes("v.yaml", b"- step:\n    image: python\n")
    assert src.text == "- step:\n    image: python\n"
    assert not src.has_bom
    assert src.to_bytes() == b"- step:\n    image: python\n"


def test_bom_is_removed_and_restored() -> None:
    data = b"\xef\xbb\xbf- step:\n    image: python\n"
    src = SourceFile.from_bytes("v.yaml", data)
    assert src.has_bom
    assert src.text.startswith("- step")
    # Offsets and columns count from after the BOM.
    assert src.position(src.text.index("python")) == Position(19, 2, 12)
    assert src.to_bytes() == data
    assert src.to_bytes(src.text.replace("python", "python:3.11")) == (
        b"\xef\xbb\xbf- step:\n    image: python:3.11\n"
    )


def test_bom_only_and_empty() -> None:
    assert SourceFile.from_bytes("v", b"").text == ""
    bom_only = SourceFile.from_bytes("v", b"\xef\xbb\xbf")
    assert (bom_only.text, bom_only.has_bom) == ("", True)
    assert bom_only.position(0) == Position(0, 1, 1)


@pytest.mark.parametrize(
    ("newline", "width"),
    [("\n", 1), ("\r\n", 2), ("\r", 1), ("\x85", 1), ("\u2028", 1), ("\u2029", 1)],
)
def test_line_breaks(newline: str, width: int) -> None:
    text = newline.join(["- step:", "    name: a", "    image: python", ""])
    src = source(text)
    assert src.line_starts == [0, 7 + width, 18 + 2 * width, 35 + 3 * width]
    offset = text.index("python")
    assert src.position(offset) == Position(offset, 3, 12)
    assert src.line_text(2) == "    name: a"
    assert src.line_text(3) == "    image: python"
    assert src.line_text(4) == ""
    assert src.line_text(99) == ""
    assert src.line_end_offset(3) == offset + len("python")


def test_crlf_is_one_break_not_two() -> None:
    src = source("a\r\nb\r\n\r\nc")
    assert [src.line_text(n) for n in (1, 2, 3, 4)] == ["a", "b", "", "c"]
    assert src.position(len("a\r\nb\r\n\r\n")) == Position(8, 4, 1)


def test_lone_cr_before_lf_mixture() -> None:
    # "\r" then "\r\n": two breaks, as libyaml counts them.
    src = source("a\r\r\nb")
    assert src.position(4) == Position(4, 3, 1)


@pytest.mark.parametrize(
    ("prefix", "column"),
    [
        ("", 1),
        ("é", 2),  # two bytes in UTF-8, one code point
        ("日本", 3),  # three bytes each
        ("😀", 2),  # astral: four bytes, two UTF-16 units, one code point
        ("😀🐳x", 4),
        ("e\u0301", 3),  # combining accent: two code points
    ],
)
def test_columns_count_code_points(prefix: str, column: int) -> None:
    text = f"# {prefix}\n{prefix}image"
    src = source(text)
    offset = text.index("image")
    assert src.position(offset) == Position(offset, 2, column)
    span = src.span(offset, offset + len("image"))
    assert (span.start.column, span.end.column) == (column, column + 5)


def test_span_end_is_exclusive_and_may_sit_on_the_next_line() -> None:
    src = source("ab\ncd")
    span = src.span(0, 3)
    assert (span.start, span.end) == (Position(0, 1, 1), Position(3, 2, 1))
    end_of_text = src.position(5)
    assert end_of_text == Position(5, 2, 3)


def test_position_at_a_break_is_end_of_that_line() -> None:
    src = source("ab\r\ncd")
    assert src.position(2) == Position(2, 1, 3)  # on "\r"
    assert src.position(3) == Position(3, 1, 4)  # on "\n" of CRLF: still line 1


def test_invalid_utf8_says_where() -> None:
    data = "- step:\n    name: é\n    x: ".encode() + b"\xff\xfe" + b"\n"
    with pytest.raises(SourceError) as info:
        SourceFile.from_bytes("v", data)
    error = info.value
    assert "not valid UTF-8" in error.message
    assert "0xff" in error.message
    assert (error.line, error.column) == (3, 8)


def test_truncated_multibyte_sequence() -> None:
    with pytest.raises(SourceError, match="not valid UTF-8") as info:
        SourceFile.from_bytes("v", "ok: 日".encode()[:-1])
    assert (info.value.line, info.value.column) == (1, 5)


def test_nul_byte() -> None:
    with pytest.raises(SourceError, match="NUL byte") as info:
        SourceFile.from_bytes("v", b"- step:\n    image: py\x00thon\n")
    assert (info.value.line, info.value.column) == (2, 14)


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-16", "UTF-16"),  # with BOM
        ("utf-16-le", "UTF-16"),
        ("utf-16-be", "UTF-16"),
        ("utf-32", "UTF-32"),
        ("utf-32-le", "UTF-32"),
        ("utf-32-be", "UTF-32"),
    ],
)
def test_wide_encodings_are_named(encoding: str, name: str) -> None:
    data = "- step:\n    image: python:3.11\n".encode(encoding)
    with pytest.raises(SourceError) as info:
        SourceFile.from_bytes("v", data)
    assert info.value.message == f"file is encoded as {name}; save it as UTF-8"
    assert (info.value.line, info.value.column) == (1, 1)


def test_size_limit() -> None:
    just_fits = b"#" * MAX_SOURCE_BYTES
    assert len(SourceFile.from_bytes("v", just_fits).text) == MAX_SOURCE_BYTES
    with pytest.raises(SourceError, match=r"file is 10\.0 MiB; files over 10 MiB are not linted"):
        SourceFile.from_bytes("v", just_fits + b"#")


def test_columns_in_json_output_count_code_points(tmp_path: Path) -> None:
    """End to end: an image after astral and combining characters on the same line."""
    text = (
        '- step: {name: "😀🐳e\u0301", image: "python"}\r\n'
        "- step: {name: b, image: x:latest}\r\n"
    )
    path = tmp_path / "valohai.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    found = [
        (d["code"], d["line"], d["column"], d["end_line"], d["end_column"])
        for d in json.loads(result.stdout)
    ]
    first = text.index('"python"')
    assert found == [
        ("VIL001", 1, first + 1, 1, first + 1 + len('"python"')),
        ("VIL002", 2, 26, 2, 34),
    ]
    assert first + 1 == 31
