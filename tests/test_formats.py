"""The CI output formats (sarif, github, gitlab, junit) on a fixture that triggers several rules.

Golden files sit beside the fixture: ``tests/fixtures/formats/<format>.golden``. After a
deliberate change of output, regenerate them with

    VIL_UPDATE_GOLDEN=1 python -m pytest tests/test_formats.py

(a golden file that changes is rewritten and its test fails, never compared with what was just
written) and read the diff before running again and committing it.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from valohai_image_lint import __version__
from valohai_image_lint.cli import main
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Severity
from valohai_image_lint.output import FORMATS, Report, renderer
from valohai_image_lint.output._locations import relative_path
from valohai_image_lint.output.github import escape_data, escape_property
from valohai_image_lint.rules import all_rules
from valohai_image_lint.source import SourceFile

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures" / "formats"
SARIF_SCHEMA = TESTS / "data" / "sarif-2.1.0.json"
UPDATE = os.environ.get("VIL_UPDATE_GOLDEN") == "1"
# Files in the order given on the command line; the last one has no problems.
FILES = ["valohai.yaml", "broken/valohai.yaml", "clean/valohai.yaml"]
CI_FORMATS = ["sarif", "github", "gitlab", "junit"]
# The driver version changes with every release; the golden file holds a placeholder.
VERSION_LINE = f'"version": "{__version__}"'
VERSION_PLACEHOLDER = '"version": "<current version>"'


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str], stdin: bytes = b"") -> tuple[int, str, str]:
    monkeypatch.chdir(FIXTURES)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lint_fixture(fmt: str, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run_cli(
        ["--config", "valohai-image-lint.toml", "--format", fmt, *FILES], monkeypatch, capsys)
    assert code == 1, err
    assert err == ""
    return out


def test_every_format_is_registered() -> None:
    for fmt in CI_FORMATS:
        assert fmt in FORMATS
        assert callable(renderer(fmt))


@pytest.mark.parametrize("fmt", CI_FORMATS)
def test_golden(fmt: str, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> None:
    out = lint_fixture(fmt, monkeypatch, capsys)
    if fmt == "sarif":
        assert out.count(VERSION_LINE) == 1
        out = out.replace(VERSION_LINE, VERSION_PLACEHOLDER)
    golden = FIXTURES / f"{fmt}.golden"
    if UPDATE and (not golden.exists() or golden.read_text(encoding="utf-8") != out):
        # Never rewrite and then compare in one run: that comparison could not fail.
        golden.write_text(out, encoding="utf-8", newline="")
        pytest.fail(f"{golden.name} rewritten, not compared: read `git diff` and run again"
                    " without VIL_UPDATE_GOLDEN", pytrace=False)
    assert golden.exists(), f"{golden} is missing; run with VIL_UPDATE_GOLDEN=1 to create it"
    assert out == golden.read_text(encoding="utf-8"), (
        f"{fmt} output differs from {golden.name}; if the change is intended, regenerate with"
        " VIL_UPDATE_GOLDEN=1")


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return schema


def validate_sarif(log: dict[str, Any], schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


# RFC 3986 characters; the schema's "uri-reference" format is not checked by jsonschema
# without extra packages, so the URIs are checked here.
URI_RE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


def test_sarif_validates_and_carries_rules_regions_and_fixes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        sarif_schema: dict[str, Any]) -> None:
    log = json.loads(lint_fixture("sarif", monkeypatch, capsys))
    validate_sarif(log, sarif_schema)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    assert driver["name"] == "valohai-image-lint"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    rules = all_rules()
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted({result["ruleId"] for result in run["results"]})
    assert {"VIL000", "VIL001", "VIL002", "VIL004", "VIL005", "VIL010", "VIL011",
            "VIL012"} <= set(ids)
    for descriptor in driver["rules"]:
        rule = rules[descriptor["id"]]
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert "## Why is this bad?" in descriptor["help"]["markdown"]
        assert descriptor["fullDescription"]["text"]
        level = {"error": "error", "warning": "warning", "info": "note"}[rule.severity.value]
        assert descriptor["defaultConfiguration"]["level"] == level
    assert driver["rules"][ids.index("VIL011")]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    assert len(results) == 10
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert URI_RE.match(uri) and not uri.startswith("/") and "\\" not in uri, uri
    by_rule = {r["ruleId"]: r for r in results}
    vil002 = by_rule["VIL002"]
    assert vil002["level"] == "error"
    assert vil002["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "valohai.yaml"},
        "region": {"startLine": 15, "startColumn": 12, "endLine": 15, "endColumn": 42},
    }
    assert by_rule["VIL011"]["level"] == "warning"
    assert by_rule["VIL000"]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "broken/valohai.yaml"}

    # The fix of VIL010 as artifactChanges, and applying it gives the fixed text.
    (fix,) = by_rule["VIL010"]["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "valohai.yaml"
    (replacement,) = change["replacements"]
    assert replacement["insertedContent"]["text"] == "docker.io/myorg/app:1.0"
    region = replacement["deletedRegion"]
    line = (FIXTURES / "valohai.yaml").read_text(encoding="utf-8").splitlines()[
        region["startLine"] - 1]
    assert region["startLine"] == region["endLine"]
    deleted = line[region["startColumn"] - 1 : region["endColumn"] - 1]
    assert deleted == "myorg/app:1.0"
    assert all("fixes" not in r for r in results if r["ruleId"] != "VIL010")


def test_sarif_columns_count_code_points(sarif_schema: dict[str, Any]) -> None:
    """A span after non-ASCII text: columns are code points, not UTF-8 or UTF-16 units."""
    text = "- step: {name: 'ü😀', image: python:latest, command: x}\n"
    source = SourceFile.from_bytes("valohai.yaml", text.encode())
    start = text.index("python:latest")
    diagnostic = make("VIL002", Severity.ERROR, "floats", source=source,
                      span=(start, start + len("python:latest")))
    log = json.loads(renderer("sarif")(Report([diagnostic], files_checked=["valohai.yaml"])))
    validate_sarif(log, sarif_schema)
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startColumn"] == start + 1 == 29  # UTF-16 would say 30, UTF-8 34
    assert region["endColumn"] == start + 1 + len("python:latest")


def test_sarif_of_a_clean_run_is_valid(sarif_schema: dict[str, Any]) -> None:
    log = json.loads(renderer("sarif")(Report([], files_checked=["valohai.yaml"])))
    validate_sarif(log, sarif_schema)
    assert log["runs"][0]["results"] == []


def test_sarif_uris_are_percent_encoded(sarif_schema: dict[str, Any]) -> None:
    diagnostics = [make("VIL001", Severity.ERROR, "m", path=path)
                   for path in ("dir with space/valohai.yaml", "c:d/valohai.yaml",
                                "<stdin>", "ünï/valohai.yaml")]
    log = json.loads(renderer("sarif")(Report(diagnostics)))
    validate_sarif(log, sarif_schema)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]]
    assert uris == ["dir%20with%20space/valohai.yaml", "c%3Ad/valohai.yaml", "%3Cstdin%3E",
                    "%C3%BCn%C3%AF/valohai.yaml"]


def test_github_commands(monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = lint_fixture("github", monkeypatch, capsys).splitlines()
    assert len(lines) == 10
    command_re = re.compile(
        r"^::(?P<kind>error|warning|notice) file=(?P<file>[^,]+),line=(?P<line>\d+),"
        r"col=(?P<col>\d+),endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+),"
        r"title=(?P<title>VIL\d{3})::(?P<message>.+)$")
    matches = [command_re.match(line) for line in lines]
    assert all(matches), lines
    kinds = {m["title"]: m["kind"] for m in matches if m}
    assert kinds["VIL011"] == "warning"
    assert kinds["VIL002"] == "error"
    first = matches[0]
    assert first is not None
    assert (first["file"], first["line"], first["col"], first["end_line"], first["end_col"]) == (
        "valohai.yaml", "5", "18", "5", "24")


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    diagnostic = make("VIL004", Severity.INFO, "bad 50%\nsecond line: x, y",
                      path="dir,with:odd%/valohai.yaml")
    out = renderer("github")(Report([diagnostic]))
    assert out == ("::notice file=dir%2Cwith%3Aodd%25/valohai.yaml,line=1,col=1,endLine=1,"
                   "endColumn=7,title=VIL004::bad 50%25%0Asecond line: x, y\n")


def test_gitlab_code_quality(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    issues = json.loads(lint_fixture("gitlab", monkeypatch, capsys))
    assert len(issues) == 10
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"] in FILES
        assert isinstance(issue["location"]["lines"]["begin"], int)
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    severities = {issue["check_name"]: issue["severity"] for issue in issues}
    assert severities["VIL000"] == "blocker"
    assert severities["VIL011"] == "minor"
    assert severities["VIL002"] == "major"
    # The anchored image is one span reported for two steps: two distinct issues.
    anchored = [issue for issue in issues if issue["check_name"] == "VIL001"]
    assert len(anchored) == 2
    assert anchored[0]["location"] == anchored[1]["location"]
    assert anchored[0]["fingerprint"] != anchored[1]["fingerprint"]


def test_gitlab_fingerprints_survive_moved_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Stable across runs and across edits elsewhere in the file; different per path."""
    original = (FIXTURES / "valohai.yaml").read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "valohai.yaml").write_text(original, encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "valohai.yaml").write_text("# a new comment\n\n" + original,
                                                 encoding="utf-8")
    config = str(FIXTURES / "valohai-image-lint.toml")

    def fingerprints(path: str) -> list[tuple[str, str, int]]:
        monkeypatch.chdir(tmp_path)
        main(["--config", config, "--format", "gitlab", path])
        issues = json.loads(capsys.readouterr().out)
        return [(i["check_name"], i["fingerprint"], i["location"]["lines"]["begin"])
                for i in issues]

    first = fingerprints("a/valohai.yaml")
    assert fingerprints("a/valohai.yaml") == first
    moved = fingerprints("b/valohai.yaml")
    assert [line for _, _, line in moved] == [line + 2 for _, _, line in first]
    assert [fp for _, fp, _ in moved] != [fp for _, fp, _ in first]  # the path differs
    (tmp_path / "a" / "valohai.yaml").write_text("# a new comment\n\n" + original,
                                                 encoding="utf-8")
    assert [(code, fp) for code, fp, _ in fingerprints("a/valohai.yaml")] == [
        (code, fp) for code, fp, _ in first]
    assert fingerprints(str(tmp_path / "a" / "valohai.yaml"))[0][1] == first[0][1]


def test_junit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = lint_fixture("junit", monkeypatch, capsys)
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == FILES
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    failures = {case.get("name"): case.findall("failure") for case in cases}
    assert len(failures["valohai.yaml"]) == 9
    assert len(failures["broken/valohai.yaml"]) == 1
    assert failures["clean/valohai.yaml"] == []  # a file without problems passes
    failure = failures["valohai.yaml"][2]
    assert failure.get("message", "").startswith(
        "valohai.yaml:15:12: VIL002 image 'tensorflow/tensorflow:latest' has the floating tag")
    assert (failure.text or "").startswith("valohai.yaml:15:12: VIL002 [error] image "
                                           "'tensorflow/tensorflow:latest'")
    assert "\nhelp: the tag points to a different image" in (failure.text or "")
    assert failure.get("type") == "VIL002 floating-tag"


def test_junit_keeps_xml_well_formed() -> None:
    diagnostic = make("VIL000", Severity.ERROR, "bad \x01 char <&> \"q\" ]]>",
                      path="a&b/valohai.yaml")
    out = renderer("junit")(Report([diagnostic], files_checked=["a&b/valohai.yaml"]))
    failure = ET.fromstring(out).find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == ("a&b/valohai.yaml:1:1: VIL000 bad \\x01 char <&> \"q\""
                                      " ]]>")


def test_junit_of_no_files() -> None:
    root = ET.fromstring(renderer("junit")(Report([])))
    assert root.find("testsuite") is not None
    assert root.find("testsuite/testcase") is None


@pytest.mark.parametrize("fmt", CI_FORMATS)
def test_stdin_filename_is_the_reported_path(fmt: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Editors pipe the unsaved buffer and name it with --stdin-filename."""
    buffer = b"- step:\n    name: train\n    image: python:latest\n    command: x\n"
    code, out, err = run_cli(["--format", fmt, "--stdin-filename", "sub/valohai.yaml", "-"],
                             monkeypatch, capsys, stdin=buffer)
    assert code == 1, err
    assert "sub/valohai.yaml" in out
    assert "<stdin>" not in out and "%3Cstdin" not in out
    if fmt == "github":
        assert out.startswith("::error file=sub/valohai.yaml,line=3,col=12,")


def test_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert relative_path(str(tmp_path / "x" / "valohai.yaml")) == "x/valohai.yaml"
    assert relative_path("./x/valohai.yaml") == "x/valohai.yaml"
    outside = str(tmp_path.parent / "other" / "valohai.yaml")
    assert relative_path(outside) == outside


def make(code: str, severity: Severity, message: str, path: str = "valohai.yaml",
         source: SourceFile | None = None, span: tuple[int, int] = (0, 6),
         fix: Fix | None = None) -> Diagnostic:
    """A real diagnostic on a real source, for the cases the fixture cannot reach."""
    if source is None:
        source = SourceFile.from_bytes(path, b"python:latest\n")
    rule = all_rules()[code]
    return Diagnostic(code, rule.name, severity, message, path, source.span(*span),
                      "[0].step.image", None, fix)


def test_info_severity_maps_in_every_format() -> None:
    source = SourceFile.from_bytes("valohai.yaml", b"python:latest\n")
    fix = Fix("Pin it", (Edit(source.span(7, 13), "3.11"),), Applicability.UNSAFE)
    diagnostic = make("VIL003", Severity.INFO, "note this", fix=fix)
    report = Report([diagnostic], files_checked=["valohai.yaml"])
    sarif = json.loads(renderer("sarif")(report))
    assert sarif["runs"][0]["results"][0]["level"] == "note"
    assert sarif["runs"][0]["results"][0]["fixes"][0]["properties"] == {"applicability": "unsafe"}
    assert renderer("github")(report).startswith("::notice ")
    assert json.loads(renderer("gitlab")(report))[0]["severity"] == "info"
    # Below the fail level (warning by default) an info is passing output, not a failure.
    case = ET.fromstring(renderer("junit")(report)).find("testsuite/testcase")
    assert case is not None and case.find("failure") is None
    output = case.find("system-out")
    assert output is not None and "fix: Pin it (unsafe fix)" in (output.text or "")
