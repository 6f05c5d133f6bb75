"""Hostile input: every case runs the real command line with a timeout.

Each must end in bounded time with the documented exit code and clear one-line diagnostics,
never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from valohai_image_lint.source import MAX_SOURCE_BYTES
from valohai_image_lint.yamltree import MAX_DEPTH

CONCISE_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<code>VIL\d{3})"
    r" \[(?P<severity>error|warning|info)\] (?P<message>.+)$"
)

# Peak RSS of the command, measured by a parent that runs nothing else.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "result = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "elapsed = time.perf_counter() - started\n"
    "sys.stdout.buffer.write(result.stdout)\n"
    "sys.stderr.buffer.write(result.stderr)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'\\nMEASURED {elapsed:.3f} {peak}\\n')\n"
    "sys.exit(result.returncode)\n"
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_kib: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def lint(*args: str, timeout: float = 30.0, stdin: bytes = b"") -> Run:
    command = [sys.executable, "-m", "valohai_image_lint", "--format", "concise", *args]
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    stderr, _, measured = stderr.rpartition("\nMEASURED ")
    seconds, peak = measured.split()
    run = Run(
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        stderr,
        float(seconds),
        int(peak),
    )
    assert "Traceback" not in run.stderr, run.stderr
    assert "internal error" not in run.stderr, run.stderr
    for line in run.lines:
        assert CONCISE_LINE.match(line), line
        assert len(line) < 400, line[:400]
    return run


def only_line(run: Run) -> re.Match[str]:
    assert len(run.lines) == 1, run.stdout[:2000]
    match = CONCISE_LINE.match(run.lines[0])
    assert match is not None
    return match


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# --- not text ------------------------------------------------------------------------------


def test_binary_file(tmp_path: Path) -> None:
    data = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64 + os.urandom(4096)
    run = lint(write(tmp_path / "valohai.yaml", data))
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "1", "8")
    assert match["message"] == "file contains a NUL byte; is it binary?"


def test_invalid_utf8(tmp_path: Path) -> None:
    data = "- step:\n    name: ünï\n    image: pyth".encode() + b"\xc3\x28" + b"on\n"
    run = lint(write(tmp_path / "valohai.yaml", data))
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "3", "16")
    assert "not valid UTF-8 (byte 0xc3" in match["message"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_files(tmp_path: Path, encoding: str) -> None:
    data = "- step:\n    name: x\n    image: python:3.11\n".encode(encoding)
    run = lint(write(tmp_path / "valohai.yaml", data))
    assert run.returncode == 1
    match = only_line(run)
    assert match["code"] == "VIL000"
    assert match["message"].startswith("file is encoded as UTF-")
    assert match["message"].endswith("; save it as UTF-8")


def test_control_character(tmp_path: Path) -> None:
    data = "- step:\n    name: 😀😀\x1b[31m\n    image: python:3.11\n".encode()
    run = lint(write(tmp_path / "valohai.yaml", data))
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "2", "13")
    assert "unacceptable character #x001b" in match["message"]


# --- alias bombs ---------------------------------------------------------------------------


def _billion_laughs(levels: int = 9) -> list[str]:
    lines = ["- definitions:", "    l0: &l0 [" + ",".join(['"lol"'] * 9) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"    l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return lines


def test_billion_laughs_as_step_and_image(tmp_path: Path) -> None:
    lines = _billion_laughs()
    lines += [
        "- step: *l9",
        "- step:",
        "    name: bomb",
        "    image: *l9",
        "- endpoint: {name: e, image: *l9}",
        "- pipeline:",
        "    name: p",
        "    nodes:",
        "      - *l9",
        "      - {name: n, override: {image: *l9}}",
        "      - {name: m, override: *l9}",
    ]
    run = lint(write(tmp_path / "valohai.yaml", ("\n".join(lines) + "\n").encode()), timeout=20)
    assert run.returncode == 1
    assert run.seconds < 5
    found = [
        (m["code"], m["line"], m["column"], m["message"])
        for m in map(CONCISE_LINE.match, run.lines)
        if m is not None
    ]
    # The image sites point at the anchored list as written; the step that is a list has
    # no image. Nothing is expanded: 9**10 "lol"s would never finish.
    assert found == [
        ("VIL005", "11", "13", "image of step 'bomb' is a list, not a string"),
        ("VIL005", "11", "13", "image of endpoint 'e' is a list, not a string"),
        ("VIL005", "11", "13", "image of pipeline 'p' node 'n' is a list, not a string"),
        ("VIL005", "12", "3", "step has no image"),
    ]


def test_mapping_bomb_through_merge_keys(tmp_path: Path) -> None:
    lines = ["- definitions:", "    m0: &m0 {image: 'python:latest', lol: lol}"]
    for level in range(1, 12):
        merged = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"    m{level}: &m{level} {{<<: [{merged}], lol{level}: [{merged}]}}")
    lines += [f"- step: {{name: s{i}, <<: *m11}}" for i in range(200)]
    run = lint(write(tmp_path / "valohai.yaml", ("\n".join(lines) + "\n").encode()), timeout=20)
    assert run.returncode == 1
    assert run.seconds < 5
    assert len(run.lines) == 200
    assert {line.split(" [")[0] for line in run.lines} == {
        f"{tmp_path / 'valohai.yaml'}:2:21: VIL002"
    }


# --- nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ("- step: " + "[" * 20_000 + "]" * 20_000, 9 + MAX_DEPTH - 2),
        ("- step: " + "{a: " * 20_000 + "1" + "}" * 20_000, 9 + 4 * (MAX_DEPTH - 2)),
        ("- step:\n    x:\n      " + "- " * 20_000 + "deep", 7 + 2 * (MAX_DEPTH - 3)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_deep_nesting(tmp_path: Path, body: str, column: int) -> None:
    run = lint(write(tmp_path / "valohai.yaml", (body + "\n").encode()), timeout=20)
    assert run.returncode == 1
    assert run.seconds < 5
    match = only_line(run)
    assert match["code"] == "VIL000"
    assert match["message"].startswith(f"collections nest more than {MAX_DEPTH} levels deep")
    assert int(match["column"]) == column


# --- size ----------------------------------------------------------------------------------


def _realistic_steps(size: int) -> bytes:
    step = (
        "- step:\n    name: step-{i}\n    image: python:3.{v}\n"
        "    command:\n      - pip install -r requirements.txt\n      - python train.py {i}\n"
    )
    parts = []
    total = 0
    i = 0
    while total < size:
        part = step.format(i=i, v=i % 13)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts).encode()


def test_fifty_megabytes(tmp_path: Path) -> None:
    data = _realistic_steps(50 * 2**20)
    path = write(tmp_path / "valohai.yaml", data)
    run = lint(path, timeout=60)
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "1", "1")
    assert match["message"].startswith("file is 50.0 MiB; files over 10 MiB are not linted")
    assert run.seconds < 5
    # The file is read once (50 MiB) and nothing is built from it.
    assert run.peak_rss_kib < 200 * 1024
    print(f"50 MiB file: {run.seconds:.2f} s, peak RSS {run.peak_rss_kib / 1024:.0f} MiB")


def test_fifty_megabytes_on_stdin(tmp_path: Path) -> None:
    run = lint("-", "--stdin-filename", "valohai.yaml", stdin=b"#" * (50 * 2**20), timeout=60)
    assert run.returncode == 1
    match = only_line(run)
    assert (match["path"], match["code"]) == ("valohai.yaml", "VIL000")
    assert "50.0 MiB" in match["message"]


def test_size_limit_is_exact(tmp_path: Path) -> None:
    # A file of exactly the limit is read (comments only: cheap and clean).
    run = lint(write(tmp_path / "valohai.yaml", b"#" * MAX_SOURCE_BYTES), timeout=60)
    assert (run.returncode, run.lines) == (0, [])


def test_very_long_line(tmp_path: Path) -> None:
    image = "registry.example.com/" + "a-" * 2_500_000 + "b:1"
    text = f"- step:\n    name: x\n    image: {image}  # {'c' * 1_000_000}\n"
    run = lint(write(tmp_path / "valohai.yaml", text.encode()), timeout=30)
    assert run.seconds < 10
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL004", "3", "12")
    assert "repository path is 5000001 characters long; at most 255" in match["message"]


def test_very_long_names_are_shortened_in_messages(tmp_path: Path) -> None:
    text = f"- step:\n    name: {'n' * 1_000_000}\n    command: x\n"
    run = lint(write(tmp_path / "valohai.yaml", text.encode()), timeout=30)
    assert run.returncode == 1
    match = only_line(run)
    assert match["code"] == "VIL005"
    assert "(1000000 characters)" in match["message"]


# --- merge keys ----------------------------------------------------------------------------


def _merge_chain(depth: int, users: int) -> bytes:
    lines = ["- definitions:", "    m0: &m0 {image: 'python:latest'}"]
    lines += [f"    m{i}: &m{i} {{<<: *m{i - 1}}}" for i in range(1, depth)]
    lines += [f"- step: {{name: s{j}, <<: *m{depth - 1}}}" for j in range(users)]
    return ("\n".join(lines) + "\n").encode()


def test_deep_merge_chain_shared_by_many_steps(tmp_path: Path) -> None:
    users = 3000
    run = lint(write(tmp_path / "valohai.yaml", _merge_chain(MAX_DEPTH - 1, users)), timeout=30)
    assert run.returncode == 1
    assert run.seconds < 5
    assert len(run.lines) == users
    assert all(": VIL002 [error]" in line and ":2:21:" in line for line in run.lines)


def test_merge_chain_too_deep_for_valohai(tmp_path: Path) -> None:
    # PyYAML's flatten_mapping recurses once per link: Valohai cannot load a chain of 5000.
    run = lint(write(tmp_path / "valohai.yaml", _merge_chain(5000, 3000)), timeout=30)
    assert run.returncode == 1
    assert run.seconds < 5
    match = only_line(run)
    assert match["code"] == "VIL000"
    assert f"merge keys chain more than {MAX_DEPTH} mappings deep" in match["message"]


@pytest.mark.parametrize(
    "text",
    [
        "- step: &s\n    name: x\n    <<: *s\n",
        "- defs:\n    a: &a\n      b: &b\n        <<: *a\n      <<: *b\n- step:\n    name: x\n"
        "    <<: *a\n",
        "- step: &s\n    name: x\n    <<: [*s, *s, *s]\n",
    ],
    ids=["self", "two-mappings", "list"],
)
def test_merge_key_cycle(tmp_path: Path, text: str) -> None:
    run = lint(write(tmp_path / "valohai.yaml", text.encode()), timeout=20)
    assert run.returncode == 1
    assert run.seconds < 5
    match = only_line(run)
    assert (match["code"], match["message"]) == ("VIL005", "step 'x' has no image")


# --- many small things ---------------------------------------------------------------------


def test_many_documents(tmp_path: Path) -> None:
    text = "- step: {name: a, image: 'python:3.11'}\n" + "---\n- x\n" * 100_000
    run = lint(write(tmp_path / "valohai.yaml", text.encode()), timeout=30)
    assert run.returncode == 1
    assert run.seconds < 10
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "2", "1")
    assert match["message"].startswith("file holds 100001 YAML documents")


def test_many_undefined_aliases(tmp_path: Path) -> None:
    text = "- step:\n    name: x\n    image: *nope\n" + "- *nope\n" * 10_000
    run = lint(write(tmp_path / "valohai.yaml", text.encode()), timeout=20)
    assert run.returncode == 1
    match = only_line(run)
    assert (match["code"], match["line"], match["column"]) == ("VIL000", "3", "12")
    assert match["message"] == "found undefined alias 'nope'"


def test_syntax_error_after_a_long_valid_prefix(tmp_path: Path) -> None:
    data = _realistic_steps(2 * 2**20) + b"- step: [unclosed\n"
    started = time.perf_counter()
    run = lint(write(tmp_path / "valohai.yaml", data), timeout=60)
    assert time.perf_counter() - started < 30
    assert run.returncode == 1
    match = only_line(run)
    assert match["code"] == "VIL000"
    assert int(match["line"]) > 50_000
