"""Every rule from fixtures with inline expectations (fixtures/README.md).

``rules/<CODE>/*.yaml`` must produce exactly the diagnostics written under the offending text;
``ok/*.yaml`` must produce none. Each file is linted through the public functions and through
the command line's JSON output, so both paths are held to the same expectations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import config_from_table
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import all_rules, select_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RULE_FIXTURES = FIXTURES / "rules"
OK_FIXTURES = FIXTURES / "ok"

# The line breaks the linter counts (YAML 1.1's), so fixture line numbers agree with it.
_LINE_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_CARET_RE = re.compile(r"^(?P<lead>\s*#\s*)(?P<marks>\^+|\|(?=\s+VIL))\s+(?P<rest>.*?)\s*$")
_EXPLICIT_RE = re.compile(
    r"^\s*#\s*expect:\s*(?P<code>VIL\d{3})\s+(?P<l1>\d+):(?P<c1>\d+)-(?P<l2>\d+):(?P<c2>\d+)"
    r"(?P<rest>.*?)\s*$"
)
_LOOKS_LIKE_EXPECTATION_RE = re.compile(r"^\s*#\s*(\^|\|\s+VIL|expect:)")
_ITEM_RE = re.compile(
    r'\s*(?P<code>VIL\d{3})(?:\s+(?P<path>\[[^\s"]*))?(?:\s+"(?P<message>(?:[^"\\]|\\.)*)")?'
)
_CONFIG_RE = re.compile(r"^#\s*config:\s*(?P<json>\{.*\})\s*$")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int
    column: int
    end_line: int
    end_column: int
    yaml_path: Optional[str] = None
    message: Optional[str] = None
    written_on: int = 0  # the fixture line that holds the expectation, for error messages

    @property
    def where(self) -> tuple[str, int, int, int, int]:
        return (self.code, self.line, self.column, self.end_line, self.end_column)


@dataclass(frozen=True)
class Actual:
    code: str
    line: int
    column: int
    end_line: int
    end_column: int
    yaml_path: Optional[str]
    message: str

    @property
    def where(self) -> tuple[str, int, int, int, int]:
        return (self.code, self.line, self.column, self.end_line, self.end_column)


class FixtureError(Exception):
    pass


def fixture_text(data: bytes) -> str:
    """The text the linter sees: no BOM; undecodable bytes as one replacement each."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace")


def split_lines(text: str) -> list[str]:
    return _LINE_BREAK_RE.split(text)


def _parse_items(rest: str, written_on: int) -> list[tuple[str, Optional[str], Optional[str]]]:
    items = []
    position = 0
    while position < len(rest):
        match = _ITEM_RE.match(rest, position)
        if match is None or match.end() == position:
            raise FixtureError(
                f"line {written_on}: cannot read expectation text {rest[position:]!r}")
        message = match.group("message")
        if message is not None:
            message = message.replace('\\"', '"').replace("\\\\", "\\")
        items.append((match.group("code"), match.group("path"), message))
        position = match.end()
        while position < len(rest) and rest[position] in " \t,":
            position += 1
    if not items:
        raise FixtureError(f"line {written_on}: expectation names no rule code")
    return items


def parse_expectations(text: str) -> list[Expected]:
    lines = split_lines(text)
    expected: list[Expected] = []
    target: Optional[int] = None  # 1-based number of the last line that is not an expectation
    for number, line in enumerate(lines, start=1):
        explicit = _EXPLICIT_RE.match(line)
        caret = _CARET_RE.match(line)
        if explicit:
            for code, path, message in _parse_items(
                explicit.group("code") + " " + explicit.group("rest"), number
            ):
                expected.append(Expected(code, int(explicit.group("l1")),
                                         int(explicit.group("c1")), int(explicit.group("l2")),
                                         int(explicit.group("c2")), path, message, number))
        elif caret:
            if target is None:
                raise FixtureError(f"line {number}: caret expectation with no line above it")
            start = len(caret.group("lead")) + 1
            marks = caret.group("marks")
            end = start if marks == "|" else start + len(marks)
            if end > len(lines[target - 1]) + 1:
                raise FixtureError(f"line {number}: carets reach past the end of line {target}")
            for code, path, message in _parse_items(caret.group("rest"), number):
                expected.append(Expected(code, target, start, target, end, path, message, number))
        elif _LOOKS_LIKE_EXPECTATION_RE.match(line):
            raise FixtureError(f"line {number}: malformed expectation {line.strip()!r}")
        else:
            target = number
    return expected


def parse_config(text: str) -> dict[str, Any]:
    """The ``# config: {...}`` of the leading comment block, or an empty table."""
    for line in split_lines(text):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        match = _CONFIG_RE.match(stripped)
        if match:
            table = json.loads(match.group("json"))
            assert isinstance(table, dict)
            return table
    return {}


def lint_fixture(path: Path) -> list[Actual]:
    """Lint through the public functions, as a library user would."""
    data = path.read_bytes()
    config = config_from_table(parse_config(fixture_text(data)), str(path), str(path.parent))
    rules = select_rules(config.select, config.extend_select, config.ignore)
    _, diagnostics = lint_bytes(str(path), data, config, rules)
    return [
        Actual(d.code, d.span.start.line, d.span.start.column, d.span.end.line,
               d.span.end.column, d.yaml_path, d.message)
        for d in diagnostics
    ]


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # strings and numbers: JSON's spelling is valid TOML


def lint_fixture_cli(path: Path, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> list[Actual]:
    """Lint through ``main(["--format", "json", ...])`` with the fixture's configuration."""
    table = parse_config(fixture_text(path.read_bytes()))
    config_file = tmp_path / ".valohai-image-lint.toml"
    config_file.write_text(
        "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items()),
        encoding="utf-8",
    )
    capsys.readouterr()
    code = cli.main(["--format", "json", "--config", str(config_file), str(path)])
    out = capsys.readouterr().out
    items = json.loads(out)
    failing = [i for i in items if i["severity"] in ("error", "warning")]  # default fail-level
    assert code == (1 if failing else 0), f"exit code {code} with {len(failing)} failing items"
    return [
        Actual(i["code"], i["line"], i["column"], i["end_line"], i["end_column"], i["yaml_path"],
               i["message"])
        for i in items
    ]


def compare(path: Path, expected: list[Expected], actual: list[Actual]) -> None:
    """Match expectations to diagnostics one to one; report what is missing and unexpected."""
    remaining = list(actual)
    missing: list[Expected] = []
    # Expectations that name a YAML path are the most specific: match them first.
    for item in sorted(expected, key=lambda e: e.yaml_path is None):
        for candidate in remaining:
            if candidate.where != item.where:
                continue
            if item.yaml_path is not None and candidate.yaml_path != item.yaml_path:
                continue
            if item.message is not None and item.message not in candidate.message:
                continue
            remaining.remove(candidate)
            break
        else:
            missing.append(item)
    if missing or remaining:
        lines = [f"{path.relative_to(FIXTURES)}: diagnostics differ from the expectations"]
        lines += [f"  missing (fixture line {e.written_on}): {e.code} {e.line}:{e.column}-"
                  f"{e.end_line}:{e.end_column} {e.yaml_path or ''} {e.message or ''}"
                  for e in missing]
        lines += [f"  unexpected: {a.code} {a.line}:{a.column}-{a.end_line}:{a.end_column}"
                  f" {a.yaml_path} {a.message}" for a in remaining]
        pytest.fail("\n".join(lines), pytrace=False)


def _fixture_files(directory: Path) -> Iterable[Path]:
    """YAML and Python fixtures. A ``valohai.yaml`` beside Python fixtures is their project's
    configuration (VIL008 compares with it), not a fixture itself."""
    for path in sorted(directory.rglob("*")):
        if path.name in ("valohai.yaml", "valohai.yml") and any(path.parent.glob("*.py")):
            continue
        if path.suffix in (".yaml", ".yml", ".py") and not path.name.endswith((
                ".fixed.yaml", ".fixed.yml", ".fixed.py")):
            yield path


RULE_FILES = list(_fixture_files(RULE_FIXTURES))
OK_FILES = list(_fixture_files(OK_FIXTURES))


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def relevant(path: Path, expected: list[Expected], actual: list[Actual]) -> list[Actual]:
    """The diagnostics a rule fixture speaks for: its directory's rule, every rule it expects
    somewhere, and VIL000. Other rules (VIL021 on `python:3.11`, rules added later) are
    judged by their own fixtures, so adding a rule does not rewrite every other fixture."""
    codes = {path.parent.name, "VIL000"} | {e.code for e in expected}
    return [a for a in actual if a.code in codes]


@pytest.mark.parametrize("path", RULE_FILES, ids=_id)
def test_rule_fixture(path: Path) -> None:
    expected = parse_expectations(fixture_text(path.read_bytes()))
    compare(path, expected, relevant(path, expected, lint_fixture(path)))


@pytest.mark.parametrize("path", RULE_FILES, ids=_id)
def test_rule_fixture_through_cli_json(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = parse_expectations(fixture_text(path.read_bytes()))
    compare(path, expected, relevant(path, expected, lint_fixture_cli(path, tmp_path, capsys)))


@pytest.mark.parametrize("path", OK_FILES, ids=_id)
def test_ok_fixture_is_clean(path: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_expectations(fixture_text(path.read_bytes())) == [], "ok/ files expect nothing"
    compare(path, [], lint_fixture(path))
    compare(path, [], lint_fixture_cli(path, tmp_path, capsys))


def test_there_are_ok_fixtures() -> None:
    assert len(OK_FILES) >= 5


def test_fixture_directories_are_rule_codes() -> None:
    codes = set(all_rules())
    directories = {p.name for p in RULE_FIXTURES.iterdir() if p.is_dir()}
    assert directories <= codes, f"fixture directories for unknown rules: {directories - codes}"


@pytest.mark.parametrize("code", sorted(all_rules()))
def test_every_rule_has_positive_fixtures(code: str) -> None:
    """Every rule is exercised: at least one fixture in its directory expects it."""
    if all_rules()[code].needs_online:
        pytest.skip("reports only from registry answers: tests/online/test_checks.py")
    directory = RULE_FIXTURES / code
    files = list(_fixture_files(directory)) if directory.is_dir() else []
    assert files, f"no fixtures in fixtures/rules/{code}/"
    expected = [e for f in files for e in parse_expectations(fixture_text(f.read_bytes()))]
    assert any(e.code == code for e in expected), f"no fixture in rules/{code}/ expects {code}"


@pytest.mark.parametrize("path", RULE_FILES, ids=_id)
def test_fixture_expects_only_its_own_directory_or_related(path: Path) -> None:
    """A fixture under rules/<CODE>/ is about <CODE>: it expects it, or is a negative case
    (named ``negative-*``) that expects nothing of it."""
    expected = parse_expectations(fixture_text(path.read_bytes()))
    code = path.parent.name
    if path.name.startswith("negative"):
        assert all(e.code != code for e in expected), f"{path.name} is negative for {code}"
    else:
        assert any(e.code == code for e in expected), f"{path.name} expects no {code}"


# --- The expectation parser itself: a parser that accepted anything would prove nothing. ---

def test_parser_reads_carets_paths_and_messages() -> None:
    text = (
        "- step:\n"
        "    image: python:latest\n"
        '    #      ^^^^^^^^^^^^^ VIL002 [0].step.image "floats"\n'
        "    #      ^^^^^^ VIL001, VIL010\n"
        "   command: x\n"
        "#  | VIL000\n"
        "# expect: VIL005 1:3-2:1\n"
    )
    assert parse_expectations(text) == [
        Expected("VIL002", 2, 12, 2, 25, "[0].step.image", "floats", 3),
        Expected("VIL001", 2, 12, 2, 18, None, None, 4),
        Expected("VIL010", 2, 12, 2, 18, None, None, 4),
        Expected("VIL000", 5, 4, 5, 4, None, None, 6),
        Expected("VIL005", 1, 3, 2, 1, None, None, 7),
    ]


@pytest.mark.parametrize("bad", ["# ^^^ VIL02\n", "x: 1\n# ^^^ oops\n", "# expect: VIL001 1-2\n",
                                 "x: 1\n#  ^^^^^^^^^^^ VIL001\n"])
def test_parser_rejects_malformed_expectations(bad: str) -> None:
    with pytest.raises(FixtureError):
        parse_expectations(bad)


def test_compare_fails_on_missing_and_unexpected() -> None:
    expected = [Expected("VIL002", 2, 12, 2, 25)]
    with pytest.raises(pytest.fail.Exception, match="missing"):
        compare(FIXTURES / "x.yaml", expected, [])
    with pytest.raises(pytest.fail.Exception, match="unexpected"):
        compare(FIXTURES / "x.yaml", [], [Actual("VIL002", 2, 12, 2, 25, None, "m")])
    with pytest.raises(pytest.fail.Exception, match="missing"):
        compare(FIXTURES / "x.yaml", expected, [Actual("VIL002", 2, 12, 2, 26, None, "m")])
