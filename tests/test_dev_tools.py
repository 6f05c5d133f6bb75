"""scripts/mutation: the wrapper README and CONTRIBUTING.md tell developers to use."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "mutation"


def test_usage_without_a_module() -> None:
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout.startswith("Mutation-test one module of the core with mutmut")
    assert "scripts/mutation rules/_patterns" in result.stdout


def test_unknown_module_is_refused_before_mutmut_runs() -> None:
    result = subprocess.run([str(SCRIPT), "no_such_module"], capture_output=True, text=True,
                            timeout=30, env={"PATH": "/usr/bin:/bin", "MUTMUT": "/bin/false"})
    assert result.returncode == 2
    assert result.stderr == ("scripts/mutation: no module no_such_module under"
                             " src/valohai_image_lint\n")


def test_every_module_in_the_table_exists() -> None:
    """CONTRIBUTING.md's table names modules the script accepts."""
    table = (ROOT / "CONTRIBUTING.md").read_text("utf-8")
    modules = [line.split("`")[1] for line in table.splitlines()
               if line.startswith("| `scripts/mutation ")]
    assert modules, "no scores table in CONTRIBUTING.md"
    for command in modules:
        module = command.split()[1]
        assert (ROOT / "src" / "valohai_image_lint" / f"{module}.py").exists() or (
            ROOT / "src" / "valohai_image_lint" / module / "__init__.py").exists(), module


SCORES = ROOT / "scripts" / "mutation-scores"


def test_scores_table_counts_a_modules_own_mutants(tmp_path: Path) -> None:
    """scripts/mutation-scores prints CONTRIBUTING.md's table from mutmut's results: a
    module's row counts its own functions' mutants, not its submodules', and the score is
    (killed + timeout) / all."""
    results = tmp_path / "results.txt"
    results.write_text(
        "    valohai_image_lint.rules.x_select_rules__mutmut_1: killed\n"
        "    valohai_image_lint.rules.x_select_rules__mutmut_2: timeout\n"
        "    valohai_image_lint.rules.xǁRuleSetǁrule__mutmut_1: survived\n"
        "    valohai_image_lint.rules.x_rule_code__mutmut_3: no tests\n"
        "    valohai_image_lint.rules._patterns.x_glob_matches__mutmut_1: not checked\n"
        "    valohai_image_lint.fixes.x_apply_edits__mutmut_1: killed\n", "utf-8")
    result = subprocess.run([str(SCORES), str(results)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| Command | Module | Mutants |")
    assert ("| `scripts/mutation rules` | the rule base, rules/__init__.py | 4 | 2 | 1 | 1 | 0"
            " | 50.0% |") in lines
    assert ("| `scripts/mutation rules/_patterns` | registry patterns | 1 | 0 | 0 | 0 | 1"
            " | 0.0% |") in lines
    assert "| `scripts/mutation fixes` | fixes | 1 | 1 | 0 | 0 | 0 | 100.0% |" in lines
    assert "| `scripts/mutation reference` | image reference grammar | 0 | 0 | 0 | 0 | 0 | - |" \
        in lines


def test_the_scores_table_lists_the_modules_the_script_prints() -> None:
    table = (ROOT / "CONTRIBUTING.md").read_text("utf-8")
    in_doc = [line.split("|")[1].strip() for line in table.splitlines()
              if line.startswith("| `scripts/mutation ")]
    result = subprocess.run([str(SCORES), "/dev/null"], capture_output=True, text=True,
                            timeout=30)
    printed = [line.split("|")[1].strip() for line in result.stdout.splitlines()[2:]]
    assert in_doc == printed
