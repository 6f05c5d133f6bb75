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
