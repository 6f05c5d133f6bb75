"""The benchmark runs end to end on its smallest size. Nothing here is timed: CI machines are
too noisy for timing assertions; this only keeps bench/run.py working."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_source
from valohai_image_lint.model import find_image_sites
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import parse

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "run.py"


def _bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_generated_file_exercises_the_linter() -> None:
    bench = _bench_module()
    text = bench.generate(20)
    document = parse(text)
    sites = find_image_sites(document.root)
    # 20 steps, and per ten steps one endpoint and one pipeline node override.
    assert [s.kind for s in sites].count("step") == 20
    assert [s.kind for s in sites].count("endpoint") == 2
    assert [s.kind for s in sites].count("pipeline") == 2
    assert any(s.via_alias for s in sites), "the file should use an alias for an image"
    config = Config(private_registries=("docker.io/acme/*", "acme.azurecr.io/*"))
    codes = {d.code for d in lint_source(SourceFile("valohai.yaml", text), config,
                                         select_rules(None, (), ()))}
    # Untagged, floating and short-named private images are all there to be found.
    assert {"VIL001", "VIL002", "VIL010"} <= codes


def test_bench_prints_a_table(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a__valohai.yaml", "b__valohai.yaml", "c__valohai.yml"):
        shutil.copy(ROOT / "examples" / "valohai.yaml", corpus / name)
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "10", "--runs", "1", "--corpus", str(corpus),
         "--out", str(tmp_path / "out"), "--python-files", "200"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Machine: ")
    assert "| steps | tool | median time |" in out
    assert "| 10 | valohai-image-lint | " in out
    assert "| - | python -c pass | " in out
    # Each tool is either measured or skipped with a note saying how to install it.
    for tool, note in (("yamllint", "yamllint is not installed"),
                       ("vh lint", "vh (valohai-cli) is not installed")):
        assert (f"| 10 | {tool} | " in out) != (note in out), tool
    assert "3 corpus files in one process" in out
    assert "Targets:" in out and "10 steps <= 4x `python -c pass`" in out
    assert "exited with" not in out, "the linter must run normally on the generated file"
    assert "| 200 .py files (" in out and ", no valohai, directory walked | " in out
    assert "| 200 .py files, 5 call valohai.prepare, passed by name | " in out
    assert (tmp_path / "out" / "steps-10" / "valohai.yaml").is_file()


def test_import_breakdown_adds_up() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "imports.py"), "--runs", "1"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    rows = [line.split(" | ") for line in result.stdout.splitlines()
            if line.startswith("| ") and not line.startswith(("| part", "| **"))]
    parts = {row[0].lstrip("| "): float(row[1]) for row in rows}
    assert "PyYAML" in parts and "valohai_image_lint rules" in parts
    assert "interpreter start-up (`python -c pass`)" in parts
    assert "| **whole run** |" in result.stdout


# Anchors defined inside values the pruned parse drops (parameters, commands), used later as
# an image, a merge source or an override: the linter (pruned tree) must report exactly what
# the full tree gives.
DROPPED_ANCHORS = """\
- step:
    name: a
    parameters:
      - name: x
        default: &img python:latest
        other: &m {image: python, name: [*img]}
      - &pm
        name: y
        deep: {a: [1, &inner {image: 'ubuntu'}], b: *img}
    image: *img
- step:
    <<: *m
    name: b
- step:
    <<: [*pm, *inner]
    command: [&cmd [1, [2]], *cmd]
- endpoint:
    image: {a: [1, 2]}
    name: e
- pipeline:
    name: p
    nodes:
      - name: n
        override: &ov
          image: python
          parameters: [a, *img]
      - name: n2
        override: *ov
      - name: n3
        <<: {override: {image: "python:nightly"}}
        inputs: &ins [x, {y: *ov}]
"""


def test_pruned_parse_lints_like_the_full_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    import valohai_image_lint.linter as linter

    texts = [DROPPED_ANCHORS, _bench_module().generate(30),
             (ROOT / "examples" / "valohai.yaml").read_text(encoding="utf-8")]
    rules = select_rules(("ALL",), (), ())

    def lint(text: str) -> list[tuple[object, ...]]:
        source = SourceFile("valohai.yaml", text)
        return [(d.code, d.message, d.span, d.fix) for d in lint_source(source, Config(), rules)]

    pruned = [lint(text) for text in texts]
    monkeypatch.setattr(linter, "SITE_KEYS", None)  # parse(text, keep_keys=None): full tree
    assert pruned == [lint(text) for text in texts]
    assert len(pruned[0]) >= 6


def test_python_tree_has_a_handful_of_prepare_calls(tmp_path: Path) -> None:
    from valohai_image_lint.discovery import collect

    bench = _bench_module()
    bench.generate_python_tree(tmp_path, 300, bench.PREPARE_FILES)
    found = collect([str(tmp_path)])
    python = [p for p in found if p.endswith(".py")]
    assert len(python) == bench.PREPARE_FILES
    assert [p for p in found if not p.endswith(".py")] == [str(tmp_path / "valohai.yaml")]
