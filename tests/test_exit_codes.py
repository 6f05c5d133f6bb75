"""Exit codes kept and flags honoured (issue 11, cases 3, 4, 6 and 9): write errors are exit 2
with one line, JUnit fails only what the exit code fails, --statistics/--diff/rules and
--format agree or are refused, --diff mentions what --unsafe-fixes would add, --help names
the check command."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

import pytest

from valohai_image_lint import cli

PINNED = ("- step: {name: a, image: 'python:3.11@sha256:"
          "0d5e8d2e8aeeaa2e4d2d3a8c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b'}\n")
CLEAN = "- step: {name: a, image: 'python:3.11-slim@sha256:" + "a" * 64 + "'}\n"
UNTAGGED = "- step: {name: a, image: python}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".valohai-image-lint.toml").write_text("")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def process(*argv: str, cwd: Path, stdout: Optional[str] = None,
            stderr: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    with open(stdout or tempfile.mktemp(), "w") as out, \
            open(stderr, "w") if stderr else tempfile.TemporaryFile("w+") as err:
        result = subprocess.run([sys.executable, "-m", "valohai_image_lint", *argv], cwd=cwd,
                                stdout=out, stderr=err if stderr else subprocess.PIPE,
                                text=True, timeout=60, check=False)
    return result


needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")


@needs_dev_full
@pytest.mark.parametrize("argv", [
    ["."], ["--format", "json", "."], ["--diff", "."], ["--statistics", "."],
    ["--help"], ["--version"], ["rules"], ["rule", "VIL001"], ["rules", "--format", "json"],
])
def test_a_full_stdout_is_exit_2_with_one_line(project: Path, argv: list[str]) -> None:
    (project / "valohai.yaml").write_text(CLEAN)
    result = process(*argv, cwd=project, stdout="/dev/full")
    assert result.returncode == 2
    assert result.stderr == "error: cannot write the output: No space left on device\n"


@needs_dev_full
def test_a_full_stderr_is_exit_2(project: Path) -> None:
    (project / "valohai.yaml").write_text(UNTAGGED)
    result = process("--format", "concise", "valohai.yaml", cwd=project, stderr="/dev/full")
    assert result.returncode == 2


def test_a_fixed_file_that_cannot_be_written_is_exit_2_with_one_line(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".valohai-image-lint.toml").write_text(
        'private-registries = ["docker.io/myorg/*"]\n')
    (project / "valohai.yaml").write_text("- step: {name: a, image: 'myorg/app:1.0'}\n")

    def no_space(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    code, _, err = run(capsys, "--fix", "--format", "concise", "valohai.yaml")
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: valohai.yaml: cannot write a temporary file beside it: No space"
                      " left on device"]
    assert "All checks passed" not in err


def _junit(out: str) -> ET.Element:
    return ET.fromstring(out)


def test_junit_fails_only_what_the_exit_code_fails(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (project / "valohai.yaml").write_text(PINNED)  # only VIL021 (info)
    code, out, _ = run(capsys, "--format", "junit", "valohai.yaml")
    root = _junit(out)
    assert (code, root.get("failures")) == (0, "0")
    case = root.find("testsuite/testcase")
    assert case is not None and case.find("failure") is None
    system_out = case.find("system-out")
    assert system_out is not None and "VIL021 [info]" in (system_out.text or "")
    code, out, _ = run(capsys, "--format", "junit", "--fail-level", "info", "valohai.yaml")
    root = _junit(out)
    assert (code, root.get("failures")) == (1, "1")
    (project / "valohai.yaml").write_text(UNTAGGED)
    code, out, _ = run(capsys, "--format", "junit", "--fail-level", "error", "valohai.yaml")
    assert (code, _junit(out).get("failures")) == (1, "1")


def test_statistics_honour_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "valohai.yaml").write_text(UNTAGGED + PINNED.replace("name: a", "name: b"))
    code, out, err = run(capsys, "--statistics", "--format", "json", "valohai.yaml")
    assert (code, err) == (1, "")
    assert json.loads(out) == [
        {"code": "VIL001", "name": "untagged-image", "count": 1, "fixable": False},
        {"code": "VIL021", "name": "heavy-variant", "count": 1, "fixable": False},
    ]


@pytest.mark.parametrize(("argv", "reason"), [
    (["--statistics", "--format", "sarif"], "--statistics prints a table or JSON"),
    (["--diff", "--format", "json"], "--diff prints a unified diff"),
    (["--diff", "--format", "junit"], "--diff prints a unified diff"),
])
def test_combinations_that_cannot_be_honoured_are_refused(
        project: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        reason: str) -> None:
    (project / "valohai.yaml").write_text(UNTAGGED)
    code, out, err = run(capsys, *argv, "valohai.yaml")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {reason}") and err.count("\n") == 1


def test_rules_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    from valohai_image_lint.rules import all_rules

    code, out, _ = run(capsys, "rules", "--format", "json")
    assert code == 0
    rules = json.loads(out)
    assert [rule["code"] for rule in rules] == list(all_rules())
    vil002 = next(rule for rule in rules if rule["code"] == "VIL002")
    assert vil002 == {"code": "VIL002", "name": "floating-tag", "severity": "error",
                      "default_enabled": True, "fix": "unsafe", "fix_needs_online": True,
                      "summary": all_rules()["VIL002"].summary}
    assert next(r for r in rules if r["code"] == "VIL003")["default_enabled"] is False
    assert run(capsys, "rules", "--format", "xml")[0] == 2
    assert run(capsys, "rules", "--format=json")[1] == out


def test_diff_mentions_what_unsafe_fixes_would_add(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "valohai.yaml").write_text("- step: {name: a, image: 'python:3.11'}\n")
    code, out, err = run(capsys, "--diff", "valohai.yaml")
    assert (code, out) == (0, "")
    assert err == ("No fixes available (1 more fix is shown with --unsafe-fixes);"
                   " 1 would remain.\n")
    code, out, err = run(capsys, "--diff", "--unsafe-fixes", "valohai.yaml")
    assert code == 1 and "+- step: {name: a, image: 'python:3.11-slim'}" in out
    assert err == "Would fix 1 problem in 1 file.\n"


def test_help_names_the_check_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert out.startswith("usage: valohai-image-lint [check] [options] [PATH ...]\n")
    assert "`valohai-image-lint check .`" in " ".join(out.split())
