"""Messages are one short sentence naming the image; the advice is ``help`` (issue 11, case 5).

On the real-world corpus (beside the repository, or ``VIL_CORPUS``) the median message is at
most 80 characters and none is over 120, measured by ``bench/message_lengths.py``. How each
format shows the help is tested here too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import config_from_table
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
# VIL_CORPUS, or beside the repository (``../shared``), or beside the directory of worktrees.
CORPUS = Path(os.environ.get("VIL_CORPUS") or next(
    (c for c in (base / "shared" / "corpus" / "real-world" for base in (ROOT.parent,
                                                                        ROOT.parent.parent))
     if c.is_dir()), ROOT.parent / "shared" / "corpus" / "real-world"))


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("message_lengths",
                                                  ROOT / "bench" / "message_lengths.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_corpus_messages_are_short() -> None:
    bench = _bench()
    files = bench.corpus_files(CORPUS) if CORPUS.is_dir() else []
    if not files:
        pytest.skip(f"the real-world corpus is not present at {CORPUS}")
    result = bench.measure(files)
    assert result["findings"] > 100
    assert result["median"] <= 80, result
    assert result["max"] <= 120, result
    assert result["ok"]


LONG = "registry.example.com/" + "team/" * 20 + "app"


def test_a_long_image_keeps_every_message_short() -> None:
    # Each rule's message with an image far longer than the screen: elided in the middle.
    config = config_from_table({
        "private-registries": ["docker.io/myorg/*"],
        "allowed-registries": ["docker.io/myorg/*"],
        "image-sizes": {f"{LONG}:1.0": "9 GB"},
        "private-hosts": ["registry.example.com"],
    }, "test", ".")
    text = "".join(f"- step: {{name: s{i}, image: '{image}'}}\n" for i, image in enumerate([
        LONG, f"{LONG}:latest", f"{LONG}:1.0", f"{LONG}:1.0-devel", "myorg/" + "a" * 150 + ":1",
        f"{LONG}:3.11", f"{LONG}:" + "x" * 200,
    ]))
    found = lint_source(SourceFile("valohai.yaml", text), config, select_rules(("ALL",), (), ()))
    codes = {d.code for d in found}
    assert {"VIL001", "VIL002", "VIL003", "VIL004", "VIL010", "VIL011", "VIL012",
            "VIL020"} <= codes
    for diagnostic in found:
        assert len(diagnostic.message) <= 120, diagnostic.message
        assert "…" in diagnostic.message or diagnostic.code == "VIL004", diagnostic.message


def test_every_default_rule_gives_help(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "valohai.yaml").write_text(
        "- step: {name: a, image: python}\n- step: {name: b, image: python:latest}\n"
        "- step: {name: c, image: Bad/Image:1}\n- step: {name: d}\n"
        "- step: {name: e, image: 3.9}\n- step: {name: f, image: 'python:3.11'}\n")
    capsys.readouterr()
    cli.main(["--format", "json", "--config", str(_empty_config(tmp_path)),
              str(tmp_path / "valohai.yaml")])
    items = json.loads(capsys.readouterr().out)
    assert [item["code"] for item in items] == ["VIL001", "VIL002", "VIL004", "VIL005",
                                               "VIL005", "VIL021"]
    for item in items:
        assert item["help"], item
        assert item["help"] not in item["message"]


def _empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "lint.toml"
    path.write_text("")
    return path


def test_full_is_compact_for_info_findings_unless_verbose(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text("- step: {name: a, image: 'python:3.11'}\n")
    config = str(_empty_config(tmp_path))
    capsys.readouterr()
    cli.main(["--config", config, str(target)])
    out = capsys.readouterr().out
    assert out == (f"{target}:1:26: VIL021 [info] image 'python:3.11' has a lighter tag"
                   " '3.11-slim'\n"
                   "  = help: -slim leaves out compilers and build headers, needed only to build"
                   " packages without wheels\n"
                   "  = fix: Switch to the lighter `python:3.11-slim` (unsafe fix)\n\n")
    cli.main(["--config", config, "--verbose", str(target)])
    assert "  1 | - step: {name: a, image: 'python:3.11'}\n" in capsys.readouterr().out


def test_concise_keeps_one_line_per_problem_for_a_path_with_a_newline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a\nb"
    folder.mkdir()
    (folder / "valohai.yaml").write_text("- step: {name: a, image: python}\n")
    capsys.readouterr()
    cli.main(["--format", "concise", "--config", str(_empty_config(tmp_path)),
              str(folder / "valohai.yaml")])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(str(tmp_path) + "/a\\nb/valohai.yaml:1:26: VIL001 [error] ")


def test_a_step_that_defines_its_merge_source_is_not_said_to_use_an_alias() -> None:
    # Issue 11, case 9: the step that writes `<<: &a {...}` holds the image itself; the step
    # that merges `*a` reaches it through an alias.
    text = ("- step:\n    <<: &a {image: python}\n    name: own\n"
            "- step:\n    <<: *a\n    name: other\n")
    found = lint_source(SourceFile("valohai.yaml", text), config_from_table({}, "t", "."),
                        select_rules(("VIL001",), (), ()))
    assert [d.message for d in found] == [
        "image 'python' has no tag or digest",
        "image 'python' has no tag or digest (in step 'other', through an alias)",
    ]
