"""Start-up: what a run imports. A pre-commit hook pays every import on every commit, so the
modules a run does not need must stay unimported (the timings are in bench/run.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from valohai_image_lint.registry.cache import AnswerCache, SizeAnswer

NETWORK = ("http.client", "email", "concurrent.futures", "ssl", "socket", "urllib.request",
           "valohai_image_lint.registry.transport", "valohai_image_lint.registry.client",
           "valohai_image_lint.registry.auth")
RULES = "valohai_image_lint.rules."
# Reports with repr, not json, so that the harness imports nothing the check looks for.
SCRIPT = """
import sys
from valohai_image_lint.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(repr({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def run(cwd: Path, *argv: str) -> tuple[int, str, set[str]]:
    completed = subprocess.run([sys.executable, "-c", SCRIPT, *argv], cwd=cwd,
                               capture_output=True, text=True, timeout=60, check=False)
    last = ast.literal_eval(completed.stderr.strip().splitlines()[-1])
    return last["code"], completed.stdout, set(last["modules"])


def test_offline_reads_the_cache_without_network_code(tmp_path: Path) -> None:
    digest = "sha256:" + "c0" * 32
    cache = AnswerCache(str(tmp_path / "cache"), 3600.0, lambda note: None)
    cache.put_tag("docker.io/library/python", "3.11", digest)
    cache.put_size(digest, "linux/amd64", SizeAnswer(3_000_000_000, "linux/amd64"))
    (tmp_path / ".valohai-image-lint.toml").write_text(
        f'cache-dir = "{tmp_path / "cache"}"\nmax-image-size = "1 GB"\n', "utf-8")
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python:3.11\n    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--offline", "--format", "concise", "valohai.yaml")
    # The size came from the cache ...
    assert code == 1
    assert "VIL020" in out and "cache" in out, out
    # ... and nothing of the network stack was imported to read it.
    assert "valohai_image_lint.registry.lookup" in modules
    assert sorted(m for m in NETWORK if m in modules) == []
    # With registry answers (here the cache's), the rules that read them are imported.
    assert {f"{RULES}vil013_image_not_found", f"{RULES}vil016_needs_credentials"} <= modules


def test_a_default_run_imports_no_registry_no_server_no_colour(tmp_path: Path) -> None:
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python:latest\n    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "--color", "never",
                             "valohai.yaml")
    assert code == 1 and "VIL002" in out
    unwanted = ("valohai_image_lint.registry", "valohai_image_lint.server", "pygls", "rich",
                "json", "dataclasses", "inspect", *NETWORK)
    assert sorted(m for m in unwanted if m in modules) == []


def rule_modules(modules: set[str]) -> list[str]:
    return sorted(m[len(RULES):] for m in modules if m.startswith(RULES + "vil"))


def test_a_default_run_imports_only_the_rules_that_can_report(tmp_path: Path) -> None:
    """Not the opt-in rules (VIL003, VIL100), not those that read registry answers (VIL013-16)
    without any, not the Python-only ones (VIL008, VIL009) for a YAML file, not those whose
    configuration is empty (VIL010-012, VIL020), not VIL000 (the linter reports it itself)
    while the file is valid; the index is read instead."""
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python:latest\n    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "valohai.yaml")
    assert code == 1 and "VIL002" in out
    assert rule_modules(modules) == [
        "vil001_untagged_image", "vil002_floating_tag", "vil004_invalid_image_reference",
        "vil005_missing_image", "vil006_ambiguous_merged_image", "vil007_shadowed_definition",
        "vil021_heavy_variant"]
    assert f"{RULES}_make_index" not in modules and "fnmatch" not in modules
    # No "noqa" in the file: no directive to read.
    assert "valohai_image_lint.noqa" not in modules
    # Paths are os.path's: pathlib would bring urllib.parse and ipaddress.
    assert sorted(m for m in ("pathlib", "urllib.parse", "ipaddress") if m in modules) == []
    # VIL021's table of lighter variants only for an image of a repository it lists.
    assert "valohai_image_lint.data.lighter_variants" in modules
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: ubuntu:latest\n    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "valohai.yaml")
    assert code == 1 and "VIL002" in out
    assert "valohai_image_lint.data.lighter_variants" not in modules
    # A configuration brings in the rules that read it.
    (tmp_path / ".valohai-image-lint.toml").write_text(
        'private-registries = ["docker.io/acme/*"]\n', "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "valohai.yaml")
    assert {"vil010_private_image_short_name", "vil011_registry_without_credentials"} <= set(
        rule_modules(modules))
    assert "vil012_untrusted_registry" not in rule_modules(modules)
    # A Python source with a valohai.prepare call brings in the Python-only rules.
    (tmp_path / "train.py").write_text(
        "import valohai\nvalohai.prepare(step='a', image=IMAGE)\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "train.py")
    assert "VIL009" in out
    assert {"vil008_image_mismatch", "vil009_non_literal_image"} <= set(rule_modules(modules))
    # Broken YAML: VIL000's module gives the diagnostic its name and severity.
    (tmp_path / "valohai.yaml").write_text("- step: [\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "valohai.yaml")
    assert code == 1 and "VIL000" in out
    assert "vil000_yaml_syntax" in rule_modules(modules)


def test_a_narrow_selection_imports_its_rules_alone(tmp_path: Path) -> None:
    """Neither the other rule modules nor VIL021's table of lighter variants (the
    configuration reads that module only for its ``lighter-variants`` key)."""
    (tmp_path / ".valohai-image-lint.toml").write_text('select = ["VIL002"]\n', "utf-8")
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python:latest  # noqa: VIL001\n    command: x\n"
        "- step:\n    name: b\n    image: python:edge  # NoQA: floating-tag\n"
        "    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--format", "concise", "valohai.yaml")
    # The directive is read in any case, by name, without importing the rule it names.
    assert code == 1 and "python:latest" in out and "python:edge" not in out, out
    assert "valohai_image_lint.noqa" in modules
    assert rule_modules(modules) == ["vil002_floating_tag"]
    assert "valohai_image_lint.data.lighter_variants" not in modules


def test_the_value_classes_behave_as_the_dataclasses_they_replace() -> None:
    """_record's classes: == by field between one class's instances, a hash and no assignment
    when frozen, a repr naming the fields, fields not compared left out of ==."""
    import pytest

    from valohai_image_lint.config import Config
    from valohai_image_lint.model import ValohaiConfig
    from valohai_image_lint.reference import ImageReference
    from valohai_image_lint.source import Position, SourceFile

    a, b = ImageReference("docker.io", "library/python", "3.12"), ImageReference(
        "docker.io", "library/python", tag="3.12")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != ImageReference("docker.io", "library/python", "3.13")
    assert repr(a) == ("ImageReference(domain='docker.io', path='library/python', tag='3.12',"
                       " digest=None)")
    assert Position(1, 1, 2) != (1, 1, 2)
    with pytest.raises(AttributeError):
        a.tag = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.other = 1  # type: ignore[attr-defined]
    assert Config(source="a.toml", root="x") == Config()
    assert Config().with_overrides(online=True, select=None) == Config(online=True)
    assert SourceFile("p", "t") == SourceFile("p", "t", False, [0])
    assert "_line_starts" not in repr(SourceFile("p", "t"))
    first, second = ValohaiConfig(), ValohaiConfig()
    first.sites.append(None)  # type: ignore[arg-type]
    assert second.sites == [] and first != second
    with pytest.raises(TypeError):
        hash(first)


def test_a_process_run_leaves_what_it_made_to_the_process(tmp_path: Path) -> None:
    """main() on the process's own command line freezes what the run made, so that the
    interpreter's collections at exit have nothing to traverse; called with arguments (the
    tests, a program embedding the linter) it leaves the collector as it found it."""
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python:latest\n    command: x\n", "utf-8")
    script = (
        "import gc, sys\n"
        "from valohai_image_lint.cli import main\n"
        "assert main(['--format', 'concise', 'valohai.yaml']) == 1\n"
        "assert gc.get_freeze_count() == 0 and gc.isenabled()\n"
        "sys.argv = ['valohai-image-lint', '--format', 'concise', 'valohai.yaml']\n"
        "code = main()\n"
        "print('exit', code, gc.get_freeze_count() > 0, gc.isenabled())\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[-1] == "exit 1 True True"
    assert sum("VIL002" in line for line in lines) == 2
