"""The command line (DESIGN section 5): exit codes, options, discovery and output formats.

Most tests call ``cli.main`` in-process (fast); what needs a real process (``--version``,
``python -m``, a terminal) runs one.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from valohai_image_lint import __version__, cli
from valohai_image_lint.rules import all_rules

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
CONCISE_RE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>VIL\d{3})"
                        r" \[(?P<severity>error|warning|info)\] (?P<message>.+)$")

MIXED = """\
- step:
    name: untagged
    image: python
- step:
    name: floating
    image: python:latest
- step:
    name: invalid
    image: MyOrg/App:1.0
- step:
    name: tag-only
    image: python:3.11-slim
"""
CLEAN = """\
- step:
    name: train
    image: python:3.11-slim@sha256:0d5e8d2e8aeeaa2e4d2d3a8c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b
"""


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    @property
    def codes(self) -> list[str]:
        return [m.group("code") for m in map(CONCISE_RE.match, self.out.splitlines()) if m]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no configuration above it that we could pick up."""
    from valohai_image_lint.config import discover_config

    monkeypatch.chdir(tmp_path)
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    stray = discover_config().source
    assert stray is None, f"a configuration above the temporary directory would leak in: {stray}"
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: Optional[bytes] = None,
        monkeypatch: Optional[pytest.MonkeyPatch] = None) -> Result:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_process(*argv: str, cwd: Path, env: Optional[dict[str, str]] = None,
                stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "valohai_image_lint", *argv], cwd=cwd,
                          env=full_env, input=stdin.decode(), capture_output=True, text=True,
                          timeout=60, check=False)


# --- Exit codes ---------------------------------------------------------------------------

def test_exit_0_when_clean(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", CLEAN)
    result = run(capsys, "valohai.yaml")
    assert (result.code, result.out) == (0, "")
    assert result.err == "All checks passed (1 file checked).\n"


def test_exit_1_when_something_is_found(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--format", "concise", "valohai.yaml")
    assert result.code == 1
    assert result.codes == ["VIL001", "VIL002", "VIL004"]
    assert result.err == "Found 3 problems in 1 file.\n"


@pytest.mark.parametrize("argv, message", [
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--format", "xml"], "invalid choice: 'xml'"),
    (["--fail-level", "fatal"], "invalid choice: 'fatal'"),
    (["--color", "sometimes"], "invalid choice: 'sometimes'"),
    (["missing.yaml"], "missing.yaml: no such file or directory"),
    (["--select", "VIL9"], "--select: unknown rule selector 'VIL9'"),
    (["--ignore", "no-such-rule"], "--ignore: unknown rule selector 'no-such-rule'"),
    (["--extend-select", "E501"], "--extend-select: unknown rule selector 'E501'"),
    (["--config", "nowhere.toml"], "nowhere.toml: configuration file not found"),
])
def test_exit_2_for_usage_errors(argv: list[str], message: str, project: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, *argv, "valohai.yaml")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert message in result.err
    assert result.err.count("\n") == 1, "one line, no traceback"


def _unreadable(project: Path) -> Path:
    """A file that exists but cannot be read, honestly: permissions, or for root (who reads
    anything) a kernel file whose read fails."""
    if os.geteuid() != 0:
        path = write(project / "valohai.yaml", CLEAN)
        path.chmod(0)
        return path
    path = Path("/proc/self/mem")
    if not path.exists():
        pytest.skip("running as root without /proc/self/mem: no unreadable file to test with")
    return path


def test_exit_2_for_an_unreadable_file_but_the_others_are_still_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreadable = _unreadable(project)
    write(project / "other" / "valohai.yaml", MIXED)
    result = run(capsys, "--format", "concise", str(unreadable), "other")
    assert result.code == 2
    assert f"error: {unreadable}: cannot read: " in result.err
    assert "Traceback" not in result.err
    assert result.codes == ["VIL001", "VIL002", "VIL004"]


def test_exit_3_for_an_internal_error(project: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "valohai.yaml", MIXED)

    def broken_check(self: object, site: object, ctx: object) -> None:
        raise ZeroDivisionError("a bug in a rule")

    monkeypatch.setattr(all_rules()["VIL002"], "check", broken_check)
    result = run(capsys, "valohai.yaml")
    assert result.code == 3
    assert "internal error" in result.err
    assert "please report it" in result.err
    assert "ZeroDivisionError: a bug in a rule" in result.err


def test_findings_and_an_io_error_is_still_exit_2(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    unreadable = _unreadable(project)
    write(project / "bad" / "valohai.yaml", MIXED)
    assert run(capsys, str(unreadable), "bad").code == 2


# --- Output formats -----------------------------------------------------------------------

def test_concise_is_one_line_per_diagnostic(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--format", "concise", "valohai.yaml")
    lines = result.out.splitlines()
    assert len(lines) == 3
    first = CONCISE_RE.match(lines[0])
    assert first is not None
    assert first.group("path", "line", "col", "code", "severity") == (
        "valohai.yaml", "3", "12", "VIL001", "error")


def test_full_shows_the_source_with_the_span_underlined(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "valohai.yaml")
    assert result.code == 1
    assert not ANSI_RE.search(result.out), "no colour when not a terminal"
    blocks = result.out.strip("\n").split("\n\n")
    assert len(blocks) == 3
    header, code_line, marker, help_line = blocks[1].splitlines()
    assert header == ("valohai.yaml:6:12: VIL002 [error] image 'python:latest' has the"
                      " floating tag 'latest'")
    assert code_line == "  6 |     image: python:latest"
    assert marker == "    |            ^^^^^^^^^^^^^ VIL002"
    # The advice on its own line, as ruff and rustc print it.
    assert help_line == ("  = help: the tag points to a different image whenever upstream"
                         " publishes; pin a version tag or add a digest")
    # The carets sit exactly under the span.
    assert marker.index("^") == code_line.index("python:latest")


def test_full_shows_the_fix_title(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / ".valohai-image-lint.toml", 'private-registries = ["docker.io/myorg/*"]\n')
    write(project / "valohai.yaml", "- step: {name: a, image: myorg/app:1.0}\n")
    result = run(capsys, "valohai.yaml")
    assert "  = fix: Write the full name `docker.io/myorg/app:1.0` (safe fix)" in result.out
    assert "(1 fixable)" in result.err


def test_full_marks_a_multi_line_span_on_every_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "valohai.yaml", "- step:\n    name: a\n    image:\n      - a\n      - b\n")
    result = run(capsys, "valohai.yaml")
    assert "  4 |       - a\n    |       ^^^ VIL005\n  5 |       - b\n    |       ^^^ VIL005\n" \
        in result.out


def test_json_output_is_exactly_as_designed(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write(project / ".valohai-image-lint.toml", 'private-registries = ["docker.io/myorg/*"]\n')
    write(project / "valohai.yaml", (
        "- step: {name: \"pöytä\", image: \"myorg/app:1.0\"}\n"
        "- step:\n"
        "    name: number\n"
        "    image: 3.9\n"
        "- endpoint:\n"
        "    name: e\n"
    ))
    result = run(capsys, "--format", "json", "valohai.yaml")
    assert result.code == 1
    assert result.err == "", "json prints no summary"
    items = json.loads(result.out)
    keys = ["code", "name", "severity", "message", "path", "line", "column", "end_line",
            "end_column", "yaml_path", "image", "help", "fix"]
    assert [list(item) for item in items] == [keys] * 3
    first, second, third = items
    # Columns count code points: "ö" and "ä" are one column each.
    assert first == {
        "code": "VIL010", "name": "private-image-short-name", "severity": "error",
        "message": first["message"], "path": "valohai.yaml",
        "line": 1, "column": 32, "end_line": 1, "end_column": 47,
        "yaml_path": "[0].step.image", "image": "myorg/app:1.0",
        "help": first["help"],
        "fix": {
            "title": "Write the full name `docker.io/myorg/app:1.0`",
            "applicability": "safe",
            "edits": [{"line": 1, "column": 32, "end_line": 1, "end_column": 47,
                       "content": '"docker.io/myorg/app:1.0"'}],
        },
    }
    line = "- step: {name: \"pöytä\", image: \"myorg/app:1.0\"}"
    assert line[first["column"] - 1 : first["end_column"] - 1] == '"myorg/app:1.0"'
    assert (second["code"], second["line"], second["column"], second["end_column"],
            second["yaml_path"], second["image"], second["fix"]) == (
        "VIL005", 4, 12, 15, "[1].step.image", None, None)
    assert (third["code"], third["line"], third["column"], third["end_column"],
            third["yaml_path"], third["image"]) == (
        "VIL005", 5, 3, 11, "[2].endpoint.image", None)


def test_json_for_a_file_that_is_not_yaml(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", "- step:\n    name: [\n")
    (item,) = json.loads(run(capsys, "--format", "json", "valohai.yaml").out)
    assert item["code"] == "VIL000"
    assert item["yaml_path"] is None and item["image"] is None and item["fix"] is None
    assert item["help"] is None
    assert (item["line"], item["column"]) == (item["end_line"], item["end_column"])


def test_every_listed_format_exists(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format offers exactly the formats there are: none is an internal error."""
    from valohai_image_lint.output import FORMATS

    write(project / "valohai.yaml", MIXED)
    for fmt in FORMATS:
        result = run(capsys, "--format", fmt, "valohai.yaml")
        assert result.code == 1, (fmt, result.err)
        assert result.out and "Traceback" not in result.err


def test_json_is_an_empty_array_when_clean(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", CLEAN)
    result = run(capsys, "--format", "json", "valohai.yaml")
    assert (result.code, json.loads(result.out), result.err) == (0, [], "")


# --- Rule selection -----------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    ([], ["VIL001", "VIL002", "VIL004"]),
    (["--select", "VIL002"], ["VIL002"]),
    (["--select", "floating-tag,untagged-image"], ["VIL001", "VIL002"]),
    (["--select", "VIL00"], ["VIL001", "VIL002", "VIL003", "VIL004"]),
    (["--select", "ALL", "--ignore", "VIL02"], ["VIL001", "VIL002", "VIL003", "VIL004"]),
    (["--select", "all", "--ignore", "VIL021,VIL020"], ["VIL001", "VIL002", "VIL003", "VIL004"]),
    (["--extend-select", "unpinned-digest"], ["VIL001", "VIL002", "VIL003", "VIL004"]),
    (["--extend-select", "VIL003", "--ignore", "VIL001"], ["VIL002", "VIL003", "VIL004"]),
    (["--ignore", "floating-tag"], ["VIL001", "VIL004"]),
    (["--ignore", "VIL0"], []),
    (["--ignore", "ALL"], []),
    (["--ignore", "ALL", "--select", "VIL004"], ["VIL004"]),
    (["--select", "VIL0", "--ignore", "VIL00", "--extend-select", "VIL002"], ["VIL002"]),
    (["--select", ""], []),
    # Repeated options add up, as in ruff.
    (["--ignore", "VIL001", "--ignore", "VIL002"], ["VIL004"]),
    (["--select", "VIL001", "--select", "VIL004"], ["VIL001", "VIL004"]),
    (["--extend-select", "VIL003", "--extend-select", "VIL0", "--ignore", "VIL004"],
     ["VIL001", "VIL002", "VIL003"]),
])
def test_select_ignore_and_extend_select(argv: list[str], expected: list[str], project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--format", "concise", *argv, "valohai.yaml")
    assert sorted(set(result.codes)) == expected
    assert result.code == (1 if expected else 0)


def test_command_line_select_replaces_the_configured_selection(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "pyproject.toml",
          '[tool.valohai-image-lint]\nignore = ["VIL002"]\nextend-select = ["VIL003"]\n')
    write(project / "valohai.yaml", MIXED)
    assert sorted(set(run(capsys, "--format", "concise", "valohai.yaml").codes)) == [
        "VIL001", "VIL003", "VIL004"]
    # As in ruff: --select starts afresh, the configuration's ignore no longer applies.
    assert run(capsys, "--format", "concise", "--select", "VIL002", "valohai.yaml").codes == [
        "VIL002"]
    # --ignore and --extend-select add to the configuration.
    assert sorted(set(run(capsys, "--format", "concise", "--ignore", "VIL001",
                          "valohai.yaml").codes)) == ["VIL003", "VIL004"]


def test_syntax_errors_are_reported_whatever_the_selection(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As in ruff: narrowing the rules (a hook with `args: [--select VIL002]`) must not let
    # broken YAML through, and "All checks passed" is never said of a file that did not parse.
    write(project / "valohai.yaml", "- step:\n    name: a\n   image: x\n")
    assert run(capsys, "--format", "concise", "valohai.yaml").codes == ["VIL000"]
    for option in (["--ignore", "yaml-syntax"], ["--ignore", "VIL000"], ["--select", "VIL002"],
                   ["--select", "VIL0", "--ignore", "VIL000"]):
        result = run(capsys, "--format", "concise", *option, "valohai.yaml")
        assert (result.code, result.codes) == (1, ["VIL000"]), option
        assert "All checks passed" not in result.err


# --- Other options ------------------------------------------------------------------------

def test_config_option_names_the_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    write(project / "elsewhere" / "lint.toml", 'ignore = ["VIL001", "VIL004"]\n')
    # A configuration in the working directory is not used when --config names one.
    write(project / ".valohai-image-lint.toml", 'ignore = ["VIL002"]\n')
    result = run(capsys, "--format", "concise", "--config", "elsewhere/lint.toml",
                 "valohai.yaml")
    assert result.codes == ["VIL002"]


def test_stdin_with_stdin_filename(project: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(capsys, "--format", "concise", "--stdin-filename", "ml/valohai.yaml", "-",
                 stdin=MIXED.encode(), monkeypatch=monkeypatch)
    assert result.code == 1
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["ml/valohai.yaml"] * 3
    # Without a path, --stdin-filename alone reads stdin too.
    result = run(capsys, "--format", "concise", "--stdin-filename", "x/valohai.yaml",
                 stdin=MIXED.encode(), monkeypatch=monkeypatch)
    assert result.out.startswith("x/valohai.yaml:3:12: VIL001")


def test_stdin_filename_is_used_for_per_file_ignores(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".valohai-image-lint.toml",
          '[per-file-ignores]\n"legacy/*" = ["VIL001", "floating-tag"]\n')
    result = run(capsys, "--format", "concise", "--stdin-filename", "legacy/valohai.yaml", "-",
                 stdin=MIXED.encode(), monkeypatch=monkeypatch)
    assert result.codes == ["VIL004"]
    result = run(capsys, "--format", "concise", "--stdin-filename", "new/valohai.yaml", "-",
                 stdin=MIXED.encode(), monkeypatch=monkeypatch)
    assert result.codes == ["VIL001", "VIL002", "VIL004"]


def test_stdin_without_a_name(project: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(capsys, "--format", "json", "-", stdin=b"- a\n- \xff\n", monkeypatch=monkeypatch)
    (item,) = json.loads(result.out)
    assert item["code"] == "VIL000" and item["path"] == "<stdin>"
    assert "not valid UTF-8" in item["message"]


def test_exit_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--exit-zero", "--format", "concise", "valohai.yaml")
    assert result.code == 0 and len(result.codes) == 3


WARNING_ONLY = "- step: {name: a, image: team.azurecr.io/app:1.0}\n"
INFO_ONLY = "- step: {name: a, image: python:3.11}\n"


@pytest.mark.parametrize("text, level, expected", [
    (WARNING_ONLY, None, 1),
    (WARNING_ONLY, "warning", 1),
    (WARNING_ONLY, "error", 0),
    (WARNING_ONLY, "info", 1),
    (INFO_ONLY, None, 0),
    (INFO_ONLY, "info", 1),
    (INFO_ONLY, "warning", 0),
    (MIXED, "error", 1),
])
def test_fail_level(text: str, level: Optional[str], expected: int, project: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    write(project / ".valohai-image-lint.toml", 'private-registries = ["docker.io/myorg/*"]\n')
    write(project / "valohai.yaml", text)
    argv = ["--format", "concise", "valohai.yaml"] + (["--fail-level", level] if level else [])
    result = run(capsys, *argv)
    assert result.codes, "the finding is still printed below the fail level"
    assert result.code == expected


def test_fail_level_from_configuration_and_overridden(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / ".valohai-image-lint.toml",
          'private-registries = ["docker.io/myorg/*"]\nfail-level = "error"\n')
    write(project / "valohai.yaml", WARNING_ONLY)
    assert run(capsys, "valohai.yaml").code == 0
    assert run(capsys, "--fail-level", "warning", "valohai.yaml").code == 1


@pytest.mark.parametrize("argv, env, coloured", [
    (["--color", "always"], {}, True),
    (["--color", "never"], {}, False),
    ([], {}, False),  # auto, and captured output is not a terminal
    ([], {"FORCE_COLOR": "1"}, True),
    ([], {"NO_COLOR": "1"}, False),
    ([], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    (["--color", "always"], {"NO_COLOR": "1"}, True),  # the explicit flag wins
    (["--color", "never"], {"FORCE_COLOR": "1"}, False),
    (["--color", "auto"], {"NO_COLOR": ""}, False),  # empty NO_COLOR means unset
])
def test_color(argv: list[str], env: dict[str, str], coloured: bool, project: Path,
               capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, *argv, "valohai.yaml")
    assert bool(ANSI_RE.search(result.out)) == coloured
    if coloured:
        # Colour changes nothing but the escape codes: the text is the plain output's.
        plain = run(capsys, "--color", "never", "valohai.yaml").out
        assert ANSI_RE.sub("", result.out) == plain
        assert "\x1b[1;31m" in result.out  # errors in bold red, colours and all


def test_color_on_a_real_terminal(project: Path) -> None:
    """auto colours a terminal, and NO_COLOR turns that off."""
    pty = pytest.importorskip("pty")
    write(project / "valohai.yaml", MIXED)

    def on_terminal(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        full_env.update(env)
        process = subprocess.Popen([sys.executable, "-m", "valohai_image_lint", "valohai.yaml"],
                                   cwd=project, env=full_env, stdout=follower,
                                   stderr=subprocess.DEVNULL)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode()

    assert ANSI_RE.search(on_terminal({}))
    assert not ANSI_RE.search(on_terminal({"NO_COLOR": "1"}))


def test_statistics(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / ".valohai-image-lint.toml", 'private-registries = ["docker.io/myorg/*"]\n')
    write(project / "valohai.yaml", MIXED + "- step: {name: p, image: myorg/app:1}\n"
          "- step: {name: q, image: myorg/app:latest}\n")
    result = run(capsys, "--statistics", "valohai.yaml")
    assert result.code == 1
    rows = [line.split("\t") for line in result.out.splitlines()]
    assert rows == [
        ["    2", "VIL002", "    floating-tag"],
        ["    2", "VIL010", "[*] private-image-short-name"],
        ["    1", "VIL001", "    untagged-image"],
        ["    1", "VIL004", "    invalid-image-reference"],
    ]


def test_quiet_prints_problems_only(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--quiet", "--format", "concise", "valohai.yaml")
    assert (result.code, len(result.codes), result.err) == (1, 3, "")
    write(project / "valohai.yaml", CLEAN)
    assert run(capsys, "-q", "valohai.yaml").err == ""


def test_verbose_says_what_is_used(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "pyproject.toml", '[tool.valohai-image-lint]\nignore = ["VIL004"]\n')
    write(project / "valohai.yaml", CLEAN)
    result = run(capsys, "--verbose", "valohai.yaml")
    assert f"configuration: {project / 'pyproject.toml'}" in result.err
    assert "checking valohai.yaml" in result.err
    rules_line = next(line for line in result.err.splitlines() if line.startswith("rules: "))
    assert "VIL004" not in rules_line and "VIL002" in rules_line


def test_version(project: Path) -> None:
    result = run_process("--version", cwd=project)
    assert (result.returncode, result.stdout) == (0, f"valohai-image-lint {__version__}\n")


def test_console_script_and_module_agree(project: Path) -> None:
    script = shutil.which("valohai-image-lint")
    if script is None:
        pytest.skip("the console script is not installed on PATH")
    write(project / "valohai.yaml", MIXED)
    by_script = subprocess.run([script, "--format", "json", "valohai.yaml"], cwd=project,
                               capture_output=True, text=True, timeout=60, check=False)
    by_module = run_process("--format", "json", "valohai.yaml", cwd=project)
    assert by_script.returncode == by_module.returncode == 1
    assert json.loads(by_script.stdout) == json.loads(by_module.stdout)


def test_help(project: Path) -> None:
    result = run_process("--help", cwd=project)
    assert result.returncode == 0
    for option in ("--format", "--select", "--extend-select", "--ignore", "--config",
                   "--online", "--offline", "--stdin-filename", "--exit-zero", "--fail-level",
                   "--color", "--statistics", "--quiet", "--verbose", "--version", "--fix",
                   "--unsafe-fixes", "--diff", "--show-fixes"):
        assert option in result.stdout


def test_online_is_accepted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The only registry named is on loopback and refuses connections: nothing leaves the host.
    write(project / ".valohai-image-lint.toml", f'cache-dir = "{project / "cache"}"\n')
    write(project / "valohai.yaml", "- step: {name: a, image: '127.0.0.1:9/app:1.0'}\n")
    result = run(capsys, "--online", "valohai.yaml")
    assert result.code == 0
    assert "Traceback" not in result.err
    assert run(capsys, "--offline", "valohai.yaml").code == 0
    assert run(capsys, "--online", "--offline", "valohai.yaml").code == 2


def test_explicit_check_command_and_default_path(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    explicit = run(capsys, "check", "--format", "concise", "valohai.yaml")
    default = run(capsys, "--format", "concise")
    assert explicit.code == default.code == 1
    assert explicit.out == default.out


def test_a_file_given_twice_is_checked_once(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    result = run(capsys, "--format", "concise", "valohai.yaml", "./valohai.yaml", ".")
    assert len(result.codes) == 3


# --- Directory discovery ------------------------------------------------------------------

def test_directories_are_searched_for_valohai_yaml_and_yml(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for relative in ("valohai.yaml", "a/valohai.yml", "a/b/c/valohai.yaml",
                     # skipped: version control, virtual environments, node_modules
                     ".git/valohai.yaml", "node_modules/pkg/valohai.yaml",
                     "env/valohai.yaml", ".venv/valohai.yaml",
                     # not the file names Valohai reads
                     "a/valohai.yaml.bak", "a/other.yaml", "a/my-valohai.yaml"):
        write(project / relative, MIXED)
    write(project / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    result = run(capsys, "--format", "concise")
    paths = sorted({line.split(":")[0] for line in result.out.splitlines()})
    assert paths == ["a/b/c/valohai.yaml", "a/valohai.yml", "valohai.yaml"]
    assert result.err.endswith("in 3 files.\n")
    sub = run(capsys, "--format", "concise", "a")
    assert sorted({line.split(":")[0] for line in sub.out.splitlines()}) == [
        "a/b/c/valohai.yaml", "a/valohai.yml"]


def test_git_ignored_paths_are_skipped(project: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    subprocess.run([git, "init", "-q", str(project)], check=True, timeout=60)
    write(project / ".gitignore", "generated/\n*.tmp.d/\n")
    write(project / "valohai.yaml", MIXED)
    write(project / "generated" / "valohai.yaml", MIXED)
    write(project / "x.tmp.d" / "valohai.yaml", MIXED)
    write(project / "kept" / "valohai.yml", MIXED)
    result = run(capsys, "--format", "concise", ".")
    assert sorted({line.split(":")[0] for line in result.out.splitlines()}) == [
        "kept/valohai.yml", "valohai.yaml"]
    # A file named explicitly is always checked.
    named = run(capsys, "--format", "concise", "generated/valohai.yaml")
    assert len(named.codes) == 3
    # Naming the ignored directory, or the repository from outside it: the same rules apply.
    assert run(capsys, "--format", "concise", "generated").out == ""
    monkeypatch.chdir(project.parent)
    outside = run(capsys, "--format", "concise", project.name)
    assert sorted({line.split(":")[0] for line in outside.out.splitlines()}) == [
        f"{project.name}/kept/valohai.yml", f"{project.name}/valohai.yaml"]


def test_a_directory_without_configs_is_a_warning_not_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "empty").mkdir()
    result = run(capsys, "empty")
    assert result.code == 0
    assert ("warning: no valohai.yaml, valohai.yml or Python file calling valohai.prepare"
            " found in empty") in result.err


def test_any_file_name_can_be_named_explicitly(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "configs" / "staging.yaml", MIXED)
    assert len(run(capsys, "--format", "concise", "configs/staging.yaml").codes) == 3
