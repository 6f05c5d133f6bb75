"""The valohai.yaml partner of a Python image site (sites/project.py), in-process.

Pins what the older pairing tests leave open: a project valohai.yaml that Valohai rejects
for a non-mapping item gives no steps (it used to stop the run with an internal error), and
the steps of a file are read past the items that have no string step image.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from valohai_image_lint import cli
from valohai_image_lint.sites import project as pairing

PY = 'import valohai\nvalohai.prepare(step="train", image="python:3.11")\n'


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    pairing.forget_yaml_texts()
    yield
    pairing.forget_yaml_texts()


def vil008(tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str
           ) -> tuple[int, list[tuple[int, str]]]:
    """Exit code and (line, message) of VIL008 on tmp_path/train.py."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "valohai.yaml").write_text(yaml_text, "utf-8")
    (tmp_path / "train.py").write_text(PY, "utf-8")
    capsys.readouterr()
    code = cli.main(["--format", "json", "--select", "VIL008", str(tmp_path / "train.py")])
    captured = capsys.readouterr()
    assert captured.err == ""
    return code, [(d["line"], d["message"]) for d in json.loads(captured.out)]


@pytest.mark.parametrize("item", ["just a string", "[a, list]", "~"])
def test_a_project_yaml_valohai_rejects_has_no_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str
) -> None:
    text = f"- step: {{name: train, image: 'python:3.12'}}\n- {item}\n"
    assert vil008(tmp_path, capsys, text) == (0, [])
    assert pairing.yaml_steps(str(tmp_path / "valohai.yaml")) is None


@pytest.mark.parametrize("first", [
    "- endpoint: {name: serve, image: 'python:3.9'}\n",
    "- step: {name: other, image: 3}\n",
    "- step: {name: other}\n",
    "- pipeline: {name: p, nodes: []}\n",
])
def test_steps_after_an_item_without_a_string_step_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str
) -> None:
    text = first + "- step: {name: train, image: 'python:3.12'}\n"
    yaml_path = str(tmp_path / "valohai.yaml")  # outside the working directory: in full
    assert vil008(tmp_path, capsys, text) == (1, [
        (2, f"image 'python:3.11' differs from {yaml_path}:2 ('python:3.12')")])
    assert pairing.yaml_steps(yaml_path) == {
        "train": pairing.YamlStep(yaml_path, 2, "python:3.12")}
