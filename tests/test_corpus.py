"""The real-world corpus: 152 public valohai.yaml files lint without a crash.

The corpus lives beside the repository (``../shared/corpus/real-world``) and is not copied
into it. Its files are named ``owner__repo__valohai.yaml``, so they are passed explicitly
(directory discovery looks only for ``valohai.yaml`` / ``valohai.yml``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import select_rules

# Beside the repository (``../shared``), or beside the directory of worktrees that holds it.
CORPUS = next(
    (
        candidate
        for candidate in (
            Path(__file__).resolve().parents[i] / "shared" / "corpus" / "real-world"
            for i in (2, 3)
        )
        if candidate.is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-world",
)
FILES = sorted(p for p in CORPUS.glob("*valohai*")) if CORPUS.is_dir() else []
# The rules of the core linter, whose findings on these files were checked by hand.
CORE = "VIL000,VIL001,VIL002,VIL004,VIL005"

pytestmark = pytest.mark.skipif(
    not FILES, reason=f"the real-world corpus is not present at {CORPUS}"
)


def run_json(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    diagnostics = json.loads(result.stdout)
    # The default fail level is warning: exit 1 exactly when something at or above it is found.
    failing = any(d["severity"] in ("error", "warning") for d in diagnostics)
    assert result.returncode == (1 if failing else 0), result.stderr
    return result.returncode, diagnostics, result.stderr


def test_whole_corpus_in_one_run() -> None:
    assert len(FILES) == 152
    returncode, diagnostics, _ = run_json("--select", "ALL", *map(str, FILES))
    assert returncode == 1
    names = {str(p) for p in FILES}
    for diagnostic in diagnostics:
        assert diagnostic["path"] in names
        assert diagnostic["line"] >= 1 and diagnostic["column"] >= 1
        assert (diagnostic["end_line"], diagnostic["end_column"]) >= (
            diagnostic["line"],
            diagnostic["column"],
        )
        assert diagnostic["severity"] in ("error", "warning", "info")
        assert diagnostic["message"] and "\n" not in diagnostic["message"]
        if diagnostic["code"] != "VIL000":
            assert diagnostic["yaml_path"].startswith("[")
    # Counts of the core rules over the whole corpus, each traced to its files below or
    # by a reading of the images they name (see the module docstring).
    counts = Counter(d["code"] for d in diagnostics if d["code"] in CORE.split(","))
    assert counts == {"VIL001": 68, "VIL002": 10, "VIL004": 5, "VIL000": 1}


def test_spans_hold_the_image_as_written() -> None:
    """Every diagnostic with an image points at exactly that text in its file."""
    _, diagnostics, _ = run_json("--select", "ALL", *map(str, FILES))
    lines: dict[str, list[str]] = {}
    checked = 0
    for diagnostic in diagnostics:
        if diagnostic["image"] is None:
            continue
        path = diagnostic["path"]
        if path not in lines:
            lines[path] = Path(path).read_text(encoding="utf-8-sig").splitlines()
        assert diagnostic["line"] == diagnostic["end_line"]
        line = lines[path][diagnostic["line"] - 1]
        written = line[diagnostic["column"] - 1 : diagnostic["end_column"] - 1]
        assert written.strip("'\"") == diagnostic["image"], (path, diagnostic)
        checked += 1
    assert checked > 500


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_file_in_process(path: Path) -> None:
    rules = select_rules(("ALL",), (), ())
    source, diagnostics = lint_bytes(str(path), path.read_bytes(), Config(), rules)
    assert source is not None
    for diagnostic in diagnostics:
        if diagnostic.code == "VIL000":
            assert diagnostic.yaml_path is None
        else:
            assert diagnostic.yaml_path is not None
            assert source.text[diagnostic.span.start.offset : diagnostic.span.end.offset]


# Hand-checked against the files: (code, line, column, end column, yaml path, image).
HAND_CHECKED = {
    # Line 3 "    image: chenuuu5/cargo-ml-runtime:latest"; line 13 "    image: maven".
    "AnnaChenU__AWS-lambda-MLmodel__valohai.yaml": [
        ("VIL002", 3, 12, 44, "[0].step.image", "chenuuu5/cargo-ml-runtime:latest"),
        ("VIL001", 13, 12, 17, "[1].step.image", "maven"),
    ],
    # Prose ("Tip", "See also") pasted after the steps: the key without its colon starts at
    # line 38 column 1, where VIL000 points (PyYAML notices at line 40).
    "Jeromeshw__ee__valohai.yaml": [("VIL000", 38, 1, 1, None, None)],
    # The template's placeholder left in five steps; item 3 is a pipeline.
    "Qiminfo__glove-mlops__valohai.yaml": [
        ("VIL004", line, 12, 34, f"[{item}].step.image", "<<registry/image:tag>>")
        for line, item in ((4, 0), (53, 1), (91, 2), (165, 4), (200, 5))
    ],
    "SofiaChar__mmdetection3d__valohai.yaml": [
        ("VIL001", 3, 12, 33, "[0].step.image", "valohai/mmdetection3d"),
        ("VIL001", 74, 12, 33, "[1].step.image", "valohai/mmdetection3d"),
    ],
    "CIT-PROJECTS-2021__self-driving-car__valohai.yml.yaml": [
        ("VIL001", 3, 12, 30, "[0].step.image", "juhavalohai/driver"),
    ],
    "valohai__valohai-toolkit__valohai.yaml": [
        ("VIL002", line, 12, 47, f"[{item}].step.image", "valohai/docker-image-builder:latest")
        for line, item in ((3, 0), (43, 1), (92, 2))
    ],
    # Eight steps and two endpoints, all with version tags: clean.
    "CSCfi__machine-learning-scripts__valohai.yaml": [],
    # Starts with "---" and a blank line; python:3.6 is tagged.
    "akx__valohai-pupper-example__valohai.yaml": [],
}


@pytest.mark.parametrize("name", sorted(HAND_CHECKED))
def test_hand_checked_files(name: str) -> None:
    path = CORPUS / name
    returncode, diagnostics, _ = run_json("--select", CORE, str(path))
    found = [
        (d["code"], d["line"], d["column"], d["end_column"], d["yaml_path"], d["image"])
        for d in diagnostics
    ]
    assert found == HAND_CHECKED[name]
    assert returncode == (1 if found else 0)


def test_hand_checked_messages() -> None:
    qiminfo = CORPUS / "Qiminfo__glove-mlops__valohai.yaml"
    _, placeholder, _ = run_json("--select", CORE, str(qiminfo))
    assert {(d["message"], d["help"]) for d in placeholder} == {(
        "invalid image reference: contains the template placeholder '<<registry/image:tag>>'",
        "write the real image name")}
    _, broken, _ = run_json("--select", CORE, str(CORPUS / "Jeromeshw__ee__valohai.yaml"))
    assert [d["message"] for d in broken] == [
        "while scanning a simple key that starts at 38:1, could not find expected ':'"]


def test_endpoint_sites_in_the_corpus() -> None:
    """Every tagged image without a digest is a VIL003 site: the paths show what was found."""
    _, diagnostics, _ = run_json(
        "--select", "VIL003", str(CORPUS / "CSCfi__machine-learning-scripts__valohai.yaml")
    )
    assert [(d["yaml_path"], d["line"], d["end_column"]) for d in diagnostics] == [
        *[(f"[{i}].step.image", line, 90) for i, line in enumerate((5, 19, 37, 56, 75, 90, 103))],
        ("[7].step.image", 116, 44),
        ("[8].endpoint.image", 134, 36),
        ("[9].endpoint.image", 142, 36),
    ]
