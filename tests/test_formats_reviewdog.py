"""``--format rdjson`` and ``rdjsonl``: reviewdog's Diagnostic Format.

The output is validated against reviewdog's published JSON schemas (``proto/rdf/jsonschema/``
of github.com/reviewdog/reviewdog, MIT licence). They are not copied into the repository: they
are read from ``../shared/schemas/reviewdog/`` beside it (as the corpus is) or from the
directory ``VIL_RDJSON_SCHEMA_DIR`` names. So that every run checks something real without
them, the tests also check the structure themselves (1-based positions, exclusive ends,
severities from reviewdog's enum) and apply the suggestions as reviewdog positions them (lines
at ``\n``, columns in UTF-8 bytes), which must give what ``--fix`` writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest

from valohai_image_lint.output import Report, renderer
from valohai_image_lint.rules import all_rules

TESTS = Path(__file__).parent
FORMATS = TESTS / "fixtures" / "formats"
FIX_FIXTURES = TESTS.parent / "fixtures" / "fix"
FIX_INPUTS = sorted(p for p in FIX_FIXTURES.glob("*.yaml") if not p.name.endswith(".fixed.yaml"))
SHARED_SCHEMAS = TESTS.resolve().parents[1] / "shared" / "schemas" / "reviewdog"
# reviewdog.rdf.Severity
SEVERITIES = {"ERROR", "WARNING", "INFO"}


def schema_dir() -> Optional[Path]:
    if SHARED_SCHEMAS.is_dir():
        return SHARED_SCHEMAS
    named = os.environ.get("VIL_RDJSON_SCHEMA_DIR")
    return Path(named) if named else None


def run(args: list[str], cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "valohai_image_lint", *args], cwd=cwd,
                          input=stdin, capture_output=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def schema(name: str) -> Optional[dict[str, Any]]:
    directory = schema_dir()
    if directory is None:
        return None
    loaded: dict[str, Any] = json.loads((directory / f"{name}.json").read_text("utf-8"))
    return loaded


def check_diagnostic(item: dict[str, Any]) -> None:
    """What reviewdog needs of one diagnostic, checked without its schema."""
    assert isinstance(item["message"], str) and item["message"]
    assert item["severity"] in SEVERITIES
    assert item["source"]["name"] == "valohai-image-lint"
    assert item["code"]["value"].startswith("VIL")
    assert item["code"]["url"].startswith("https://")
    ranges = [item["location"]["range"]] + [s["range"] for s in item.get("suggestions", [])]
    for range_ in ranges:
        start, end = range_["start"], range_["end"]
        assert start["line"] >= 1 and start["column"] >= 1
        assert (start["line"], start["column"]) <= (end["line"], end["column"])
    for suggestion in item.get("suggestions", []):
        assert isinstance(suggestion["text"], str)


def validate(instance: Any, name: str) -> None:
    diagnostics = instance["diagnostics"] if name == "DiagnosticResult" else [instance]
    for item in diagnostics:
        check_diagnostic(item)
    schema_ = schema(name)
    if schema_ is not None:
        jsonschema.Draft4Validator.check_schema(schema_)
        jsonschema.Draft4Validator(schema_).validate(instance)


def rdjson_of_formats_fixture(fmt: str) -> str:
    result = run(["--config", "valohai-image-lint.toml", "--format", fmt, "valohai.yaml",
                  "broken/valohai.yaml", "clean/valohai.yaml"], FORMATS)
    assert result.returncode == 1, result.stderr
    assert result.stderr == b""
    return result.stdout.decode("utf-8")


def test_reviewdogs_published_schema_accepts_rdjson_and_rdjsonl() -> None:
    """The check the other tests make only where reviewdog's schema is present, made visible:
    without it this test is skipped with the reason, not passed."""
    if schema_dir() is None:
        pytest.skip("reviewdog's JSON schema is not in ../shared/schemas/reviewdog"
                    " (or VIL_RDJSON_SCHEMA_DIR): rdjson is checked without it")
    result_schema, diagnostic_schema = schema("DiagnosticResult"), schema("Diagnostic")
    assert result_schema is not None and diagnostic_schema is not None
    jsonschema.Draft4Validator(result_schema).validate(
        json.loads(rdjson_of_formats_fixture("rdjson")))
    for line in rdjson_of_formats_fixture("rdjsonl").splitlines():
        jsonschema.Draft4Validator(diagnostic_schema).validate(json.loads(line))


def test_rdjson_validates_and_carries_source_code_severity_range() -> None:
    result = json.loads(rdjson_of_formats_fixture("rdjson"))
    validate(result, "DiagnosticResult")
    assert result["source"]["name"] == "valohai-image-lint"
    assert result["source"]["url"].startswith("https://")
    assert result["severity"] == "ERROR"
    diagnostics = result["diagnostics"]
    assert {d["location"]["path"] for d in diagnostics} == {"valohai.yaml",
                                                            "broken/valohai.yaml"}
    rules = all_rules()
    for item in diagnostics:
        assert item["severity"] in ("ERROR", "WARNING", "INFO")
        code = item["code"]["value"]
        module = rules[code].__module__.rsplit(".", 1)[1]
        assert item["code"]["url"].endswith(f"/src/valohai_image_lint/rules/{module}.py")
        start, end = item["location"]["range"]["start"], item["location"]["range"]["end"]
        assert (start["line"], start["column"]) <= (end["line"], end["column"])
    # The span is the image exactly: check it against the file's bytes.
    floating = next(d for d in diagnostics if d["code"]["value"] == "VIL002")
    line = (FORMATS / "valohai.yaml").read_bytes().split(b"\n")[
        floating["location"]["range"]["start"]["line"] - 1]
    start = floating["location"]["range"]["start"]["column"] - 1
    end = floating["location"]["range"]["end"]["column"] - 1
    assert line[start:end] == b'"tensorflow/tensorflow:latest"'  # quotes included
    fixable = [d for d in diagnostics if "suggestions" in d]
    assert fixable and all(d["code"]["value"] == "VIL010" for d in fixable)
    assert fixable[0]["suggestions"][0]["text"] == "docker.io/myorg/app:1.0"


def test_rdjsonl_is_one_valid_diagnostic_per_line() -> None:
    lines = rdjson_of_formats_fixture("rdjsonl").splitlines()
    whole = json.loads(rdjson_of_formats_fixture("rdjson"))["diagnostics"]
    assert [json.loads(line) for line in lines] == whole
    for line in lines:
        validate(json.loads(line), "Diagnostic")


def test_a_clean_run_is_valid_and_empty() -> None:
    result = json.loads(renderer("rdjson")(Report([], files_checked=["valohai.yaml"])))
    assert result["diagnostics"] == [] and "severity" not in result
    validate(result, "DiagnosticResult")
    assert renderer("rdjsonl")(Report([])) == ""


@pytest.mark.parametrize("before", ["", "# a comment\n"], ids=["first-line", "second-line"])
def test_columns_are_utf8_bytes(before: str, tmp_path: Path) -> None:
    # Non-BMP and two-byte characters before the image on its line, and a BOM, which
    # reviewdog counts on the first line as it reads bytes.
    text = ("\ufeff" + before
            + "- step: {name: \"\U0001f40d\u00e9\", image: python:latest, command: x}\n")
    (tmp_path / "valohai.yaml").write_bytes(text.encode("utf-8"))
    result = run(["--format", "rdjsonl", "valohai.yaml"], tmp_path)
    (item,) = [json.loads(line) for line in result.stdout.splitlines()]
    start, end = item["location"]["range"]["start"], item["location"]["range"]["end"]
    assert start["line"] == end["line"] == before.count("\n") + 1
    line = text.encode("utf-8").split(b"\n")[start["line"] - 1]
    assert line[start["column"] - 1 : end["column"] - 1] == b"python:latest"
    validate(item, "Diagnostic")


def apply_suggestions(data: bytes, items: list[dict[str, Any]]) -> bytes:
    """Apply suggestions as reviewdog positions them; identical ones (a fix reported at an
    anchor for each alias) once."""
    lines = data.split(b"\n")
    line_starts = [0]
    for line in lines[:-1]:
        line_starts.append(line_starts[-1] + len(line) + 1)

    def offset(position: dict[str, int]) -> int:
        return line_starts[position["line"] - 1] + position["column"] - 1

    edits = {(offset(s["range"]["start"]), offset(s["range"]["end"]), s["text"])
             for item in items for s in item.get("suggestions", [])}
    for start, end, text in sorted(edits, reverse=True):
        data = data[:start] + text.encode("utf-8") + data[end:]
    return data


def config_for(fixture: Path) -> Path:
    own = fixture.with_suffix(".toml")
    return own if own.exists() else FIX_FIXTURES / "default.toml"


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("fixture", FIX_INPUTS, ids=lambda p: p.stem)
def test_suggestions_round_trip_to_the_fix(fixture: Path, unsafe: bool, tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    shutil.copyfile(fixture, target)
    original = target.read_bytes()
    flags = ["--unsafe-fixes"] if unsafe else []
    config = ["--config", str(config_for(fixture))]
    result = run([*config, *flags, "--format", "rdjsonl", "valohai.yaml"], tmp_path)
    assert result.returncode in (0, 1), result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    suggested = apply_suggestions(original, items)
    for item in items:
        validate(item, "Diagnostic")
        if "suggestions" in item:
            first = item["message"].split("\n", 1)[0]
            assert first.endswith("check it)") == ("unsafe fix" in first)
    fixed = run([*config, *flags, "--fix", "valohai.yaml"], tmp_path)
    assert fixed.returncode in (0, 1), fixed.stderr
    assert suggested == target.read_bytes()
    if unsafe:
        assert suggested != original  # every fixture has something to fix


ROOT = TESTS.parent


def readme_workflow() -> dict[str, Any]:
    import re

    import yaml

    match = re.search(r"<!-- tested: reviewdog -->\n```yaml\n(.*?)\n```",
                      (ROOT / "README.md").read_text("utf-8"), re.DOTALL)
    assert match, "README.md has no workflow marked <!-- tested: reviewdog -->"
    assert match.group(1) in (ROOT / "docs" / "reviewdog.md").read_text("utf-8")
    workflow: dict[str, Any] = yaml.safe_load(match.group(1))
    return workflow


def test_readme_reviewdog_workflow_feeds_reviewdog_valid_rdjson(tmp_path: Path) -> None:
    """The workflow's lint step, run by bash as the runner would, with the checkout's linter
    and a stand-in `reviewdog` (not installable here) that keeps what it reads and its
    arguments."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    (job,) = readme_workflow()["jobs"].values()
    assert job["permissions"]["pull-requests"] == "write"
    (step,) = [s for s in job["steps"] if "reviewdog" in s.get("run", "")]
    assert step["env"]["REVIEWDOG_GITHUB_API_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    project = tmp_path / "p"
    project.mkdir()
    (project / "valohai.yaml").write_text(
        "- step:\n    name: train\n    image: myorg/app:1.0\n    command: x\n", "utf-8")
    (project / ".valohai-image-lint.toml").write_text(
        'private-registries = ["docker.io/myorg/*"]\n', "utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "valohai-image-lint").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m valohai_image_lint "$@"\n', "utf-8")
    (bin_dir / "reviewdog").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\ncat > "{tmp_path}/input"\n',
        "utf-8")
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               REVIEWDOG_GITHUB_API_TOKEN="x")
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=project,
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "args").read_text("utf-8").split()
    assert {"-f=rdjson", "-reporter=github-pr-review"} <= set(args)
    sent = json.loads((tmp_path / "input").read_text("utf-8"))
    validate(sent, "DiagnosticResult")
    (item,) = sent["diagnostics"]
    assert item["location"]["path"] == "valohai.yaml"
    assert item["suggestions"] == [{
        "range": {"start": {"line": 3, "column": 12}, "end": {"line": 3, "column": 25}},
        "text": "docker.io/myorg/app:1.0"}]
