"""Rules as a whole: codes and names, documentation, documented examples, fix fixtures, and
the `rule` / `rules` commands that print them."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import config_from_table
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import Rule, all_rules, select_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES = all_rules()
FIX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"
SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Options", "Fix")
# Rules whose documented example can only fire with registry answers; each is skipped with
# this reason unless its docs give the offline configuration in a ```toml block.
NEEDS_REGISTRY = {"VIL020": "its example needs a registry's size answer (online) or an"
                            " image-sizes entry, and its docs give no ```toml block"}


def sections(doc: str) -> dict[str, str]:
    """The ``## Heading`` sections of a rule's documentation, by heading."""
    parts = re.split(r"^## (.+)$", doc, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def code_block(text: str, language: str) -> Optional[str]:
    match = re.search(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    return match.group(1) if match else None


def lint_text(text: str, code: str, table: dict[str, Any]) -> list[str]:
    """Codes reported for ``text`` with the rule ``code`` selected on top of the defaults."""
    config = config_from_table(table, "<docs>", ".")
    rules = select_rules(config.select, (*config.extend_select, code), config.ignore)
    _, diagnostics = lint_bytes("valohai.yaml", text.encode(), config, rules)
    return [d.code for d in diagnostics]


def test_there_are_rules() -> None:
    assert {"VIL000", "VIL001", "VIL002", "VIL003", "VIL004", "VIL005", "VIL010", "VIL011",
            "VIL012"} <= set(RULES)


@pytest.mark.parametrize("code", RULES)
def test_code_and_name_are_well_formed(code: str) -> None:
    rule = RULES[code]
    assert rule.code == code
    assert re.fullmatch(r"VIL\d{3}", code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
    assert rule.summary and not rule.summary.endswith(".")
    assert rule.__module__.rsplit(".", 1)[-1].startswith(code.lower() + "_"), (
        "one module per rule, named after its code"
    )


def test_codes_and_names_are_unique() -> None:
    rules = list(Rule.registry.values())
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)
    # A name never looks like a code, so selectors are unambiguous.
    assert not any(re.fullmatch(r"vil\d*", r.name) for r in rules)


def test_every_rule_is_found_even_after_importing_one_directly(tmp_path: Path) -> None:
    """A fresh interpreter that imports one rule module first still sees every rule."""
    import subprocess

    code = ("from valohai_image_lint.rules.vil003_unpinned_digest import UnpinnedDigest\n"
            "from valohai_image_lint.rules import all_rules\n"
            "print(' '.join(all_rules()))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.split() == list(RULES)


def test_registering_a_duplicate_code_is_refused() -> None:
    with pytest.raises(RuntimeError, match="duplicate rule code VIL002"):
        type("Again", (Rule,), {"code": "VIL002", "name": "again"})
    assert RULES["VIL002"] is Rule.registry["VIL002"]


@pytest.mark.parametrize("code", RULES)
def test_documentation_has_every_section_in_order(code: str) -> None:
    doc = RULES[code].documentation()
    assert doc.startswith(f"{code} {RULES[code].name}:"), "first line: CODE name: summary"
    headings = [h.strip() for h in re.findall(r"^## (.+)$", doc, flags=re.MULTILINE)]
    assert headings == list(SECTIONS)
    found = sections(doc)
    for heading in SECTIONS:
        assert found[heading].strip(), f"{code}: section {heading!r} is empty"
    for section in ("Example", "Use instead"):
        assert code_block(found[section], "yaml") or code_block(found[section], "python"), (
            f"{code}: {section} has no ```yaml or ```python block")


def lint_project(tmp_path: Path, yaml_text: Optional[str], python: str, code: str,
                 table: dict[str, Any]) -> list[str]:
    """Codes reported for ``python`` as train.py beside ``yaml_text`` as valohai.yaml."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / ".git").mkdir(exist_ok=True)  # the project ends here
    if yaml_text is not None:
        (tmp_path / "valohai.yaml").write_text(yaml_text, encoding="utf-8")
    train = tmp_path / "train.py"
    train.write_text(python, encoding="utf-8")
    config = config_from_table(table, "<docs>", ".")
    rules = select_rules(config.select, (*config.extend_select, code), config.ignore)
    _, diagnostics = lint_bytes(str(train), python.encode(), config, rules)
    return [d.code for d in diagnostics]


@pytest.mark.parametrize("code", RULES)
def test_documented_example_triggers_and_use_instead_does_not(code: str,
                                                                tmp_path: Path) -> None:
    found = sections(RULES[code].documentation())
    toml = code_block(found["Options"], "toml")
    if RULES[code].needs_online:
        # Its example needs a registry (tests/online/test_checks.py); offline it never reports.
        data = tomllib.loads(toml) if toml else {}
        for block in (code_block(found["Example"], "yaml"), code_block(found["Use instead"],
                                                                         "yaml")):
            assert block is not None and code not in lint_text(block, code, data)
        return
    if toml is None and code in NEEDS_REGISTRY:
        pytest.skip(f"{code}: {NEEDS_REGISTRY[code]}")
    data = tomllib.loads(toml) if toml else {}
    # A block may spell the table header (`[[tool.valohai-image-lint.x]]`); use its contents.
    table = data.get("tool", {}).get("valohai-image-lint", data)
    example = code_block(found["Example"], "yaml")
    instead = code_block(found["Use instead"], "yaml")
    example_py = code_block(found["Example"], "python")
    instead_py = code_block(found["Use instead"], "python")
    if example_py is not None and instead_py is not None:
        # A rule about Python sources: the Python is linted beside the YAML, if any.
        assert code in lint_project(tmp_path / "example", example, example_py, code, table)
        assert code not in lint_project(tmp_path / "instead", instead, instead_py, code, table)
        return
    assert example is not None and instead is not None
    assert code in lint_text(example, code, table), f"{code}: the documented example is clean"
    assert code not in lint_text(instead, code, table), f"{code}: 'Use instead' still triggers"
    # The good example is good YAML and a good Valohai config, too.
    assert "VIL000" not in lint_text(instead, code, table)


def _fixable_offline() -> list[str]:
    return [code for code, rule in RULES.items()
            if rule.fix_applicability is not None and not rule.fix_needs_online]


def test_some_rules_are_fixable_offline() -> None:
    assert "VIL010" in _fixable_offline()


@pytest.mark.parametrize("code", _fixable_offline())
def test_fixable_rule_has_a_fix_fixture(code: str) -> None:
    """Some ``fix/x.yaml`` with a ``fix/x.fixed.yaml`` beside it gets a fix from this rule
    (with ``x.toml`` or ``default.toml`` as configuration, as tests/test_fixes.py uses them)."""
    inputs = sorted(p for p in FIX_FIXTURES.glob("*.yaml") if not p.name.endswith(".fixed.yaml"))
    covering = []
    for path in inputs:
        if not path.with_name(path.stem + ".fixed.yaml").is_file():
            continue
        toml_path = path.with_suffix(".toml")
        if not toml_path.is_file():
            toml_path = FIX_FIXTURES / "default.toml"
        table = tomllib.loads(toml_path.read_text()) if toml_path.is_file() else {}
        config = config_from_table(table, str(toml_path), str(FIX_FIXTURES))
        rules = select_rules(config.select, (*config.extend_select, code), config.ignore)
        _, diagnostics = lint_bytes(str(path), path.read_bytes(), config, rules)
        if any(d.code == code and d.fix is not None for d in diagnostics):
            covering.append(path.name)
    assert covering, f"no fixture pair under fixtures/fix/ exercises {code}'s fix"


# --- The commands that print the documentation. ---

def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("code", RULES)
def test_rule_command_prints_the_documentation(code: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rule = RULES[code]
    status, by_code, _ = run(["rule", code], capsys)
    assert status == 0
    assert by_code.startswith(f"# {code} {rule.name}\n")
    for heading in SECTIONS:
        assert f"## {heading}" in by_code
    example_section = sections(rule.documentation())["Example"]
    example = code_block(example_section, "yaml") or code_block(example_section, "python")
    assert example is not None and example in by_code
    assert f"Severity: {rule.severity}" in by_code
    status, by_name, _ = run(["rule", rule.name], capsys)
    assert (status, by_name) == (0, by_code)
    status, lower, _ = run(["rule", code.lower()], capsys)
    assert (status, lower) == (0, by_code)


@pytest.mark.parametrize("argv", [["rule", "VIL999"], ["rule", "floating"], ["rule"],
                                  ["rule", "VIL001", "VIL002"], ["rules", "extra"]])
def test_rule_commands_reject_bad_arguments(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["rule", "rules"])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_rule_commands_have_help(command: str, flag: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run([command, flag], capsys)
    assert (status, err) == (0, "")
    assert out.startswith(f"usage: valohai-image-lint {command}")


def test_rules_command_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["rules"], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["code", "name", "severity", "default", "fix"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == set(RULES)
    for code, rule in RULES.items():
        row = rows[code]
        assert row[1] == rule.name
        assert row[2] == str(rule.severity)
        assert row[3] == ("on" if rule.default_enabled else "off")
        fix = " ".join(row[4:])
        if rule.fix_applicability is None:
            assert fix == "-"
        else:
            assert fix.startswith(str(rule.fix_applicability))
            assert ("online" in fix) == rule.fix_needs_online
    assert rows["VIL003"][3] == "off"
    assert rows["VIL010"][4] == "safe"
