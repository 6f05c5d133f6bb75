"""A Python image site and its valohai.yaml step (``sites.project``), pinned in-process.

Which valohai.yaml a Python file belongs to, which steps and lines it holds (and as it was
before a run's fixes), which image ``vh yaml step`` keeps, and when a fix of one file of a
matching pair is refused because the other would be left behind: called directly and through
``cli.main`` in this process (``test_python_sites.py`` drives the same flows in a child
process, which mutation testing cannot see).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from valohai_image_lint import cli
from valohai_image_lint.sites import project as pairing
from valohai_image_lint.sites import python as pysites
from valohai_image_lint.source import SourceFile

STEP = "- step:\n    name: {name}\n    image: {image}\n    command: python train.py\n"
PY = 'import valohai\nvalohai.prepare(step="{step}", image="{image}")\n'
SAME = ("not applied: valohai.yaml:3 names the same image for step 'train' and would not"
        " change with it; fix both files in one run")
LEFT = ("not applied: src/train.py names the same image for step 'train' and is not fixed in"
        " this run; fix both files in one run")


@pytest.fixture(autouse=True)
def _fresh_state() -> Any:
    pairing.forget_yaml_texts()
    yield
    pairing.forget_yaml_texts()


def make_project(root: Path, yaml_image: str = "python:3.12",
                 python_image: str = "python:3.12", step: str = "train") -> Path:
    """root/.git, root/valohai.yaml (step train), root/src/train.py; returns the Python file."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "valohai.yaml").write_text(STEP.format(name="train", image=yaml_image))
    (root / "src").mkdir(exist_ok=True)
    path = root / "src" / "train.py"
    path.write_text(PY.format(step=step, image=python_image))
    return path


def site_of(text: str, path: str = "train.py") -> pysites.PythonImageSite:
    (site,) = pysites.find_sites(SourceFile(path, text))
    return site


# ---------------------------------------------------------------------------------------------
# Which valohai.yaml


def test_project_yaml_is_the_nearest_up_to_the_work_tree_top(tmp_path: Path) -> None:
    python = make_project(tmp_path)
    top = str(tmp_path / "valohai.yaml")
    assert pairing.project_yaml(str(python)) == top
    (tmp_path / "valohai.yml").write_text("[]\n")
    assert pairing.project_yaml(str(python)) == top  # .yaml before .yml
    (tmp_path / "src" / "valohai.yml").write_text("[]\n")
    assert pairing.project_yaml(str(python)) == str(tmp_path / "src" / "valohai.yml")
    (tmp_path / "src" / "valohai.yml").unlink()
    (tmp_path / "src" / "valohai.yaml").mkdir()  # not a file
    assert pairing.project_yaml(str(python)) == top


def test_project_yaml_stops_at_the_git_work_tree_top(tmp_path: Path) -> None:
    (tmp_path / "valohai.yaml").write_text(STEP.format(name="train", image="python:3.12"))
    inner = tmp_path / "repo"
    (inner / ".git").mkdir(parents=True)
    (inner / "sub").mkdir()
    python = inner / "sub" / "train.py"
    assert pairing.project_yaml(str(python)) is None
    (inner / "valohai.yml").write_text("[]\n")  # the top of the work tree is looked in
    assert pairing.project_yaml(str(python)) == str(inner / "valohai.yml")


def test_project_yaml_outside_any_work_tree_looks_up_to_the_root(tmp_path: Path) -> None:
    python = tmp_path / "a" / "b" / "train.py"
    assert pairing.project_yaml(str(python)) is None
    (tmp_path / "valohai.yml").write_text("[]\n")
    assert pairing.project_yaml(str(python)) == str(tmp_path / "valohai.yml")


def test_project_yaml_of_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path / "src")
    assert pairing.project_yaml("train.py") == str(tmp_path / "valohai.yaml")


def test_a_fixed_text_not_yet_written_counts_as_a_valohai_yaml(tmp_path: Path) -> None:
    python = make_project(tmp_path)
    nearer = str(tmp_path / "src" / "valohai.yml")
    pairing.remember_yaml_text(nearer, "[]\n", STEP.format(name="train", image="python:3"))
    assert pairing.project_yaml(str(python)) == nearer


# ---------------------------------------------------------------------------------------------
# The steps of a valohai.yaml


YAML = """\
- step: &base
    name: train
    image: &img python:3.10
    command: python train.py
- step:
    <<: *base
    name: merged
- step:
    name: aliased
    image: *img
    command: x
- step:
    name: number
    image: 3.12
    command: x
- step:
    image: python:3.0
    command: x
- step:
    name: [listed]
    image: python:3.0
    command: x
- endpoint:
    name: serve
    image: python:3.1
- pipeline:
    name: pipe
    nodes:
      - name: n
        type: execution
        step: train
        override:
          image: python:3.2
    edges: []
- step:
    name: train
    image: python:3.13
    command: x
"""


def test_yaml_steps_are_the_steps_with_string_images(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "valohai.yaml").write_text(YAML)
    monkeypatch.chdir(tmp_path)
    expected = {
        "train": pairing.YamlStep("valohai.yaml", 37, "python:3.13"),  # the last of the name
        "merged": pairing.YamlStep("valohai.yaml", 3, "python:3.10"),
        "aliased": pairing.YamlStep("valohai.yaml", 3, "python:3.10"),
    }
    assert pairing.yaml_steps(str(tmp_path / "valohai.yaml")) == expected
    assert pairing.yaml_steps("valohai.yaml") == expected  # asked again: the same


def test_yaml_steps_shows_the_path_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path / "proj")
    (tmp_path / "elsewhere").mkdir()
    yaml_path = str(tmp_path / "proj" / "valohai.yaml")
    monkeypatch.chdir(tmp_path)
    assert pairing.yaml_steps(yaml_path) == {
        "train": pairing.YamlStep(os.path.join("proj", "valohai.yaml"), 3, "python:3.12")}
    pairing.forget_yaml_texts()
    monkeypatch.chdir(tmp_path / "elsewhere")  # outside: shown in full
    assert pairing.yaml_steps(yaml_path) == {
        "train": pairing.YamlStep(yaml_path, 3, "python:3.12")}


@pytest.mark.parametrize(("text", "steps"), [
    ("step: {name: train, image: python:3.12}\n", {}),
    ("", {}),
    ("- step: {name: train, image: python:3.12\n", None),  # not YAML
    (b"- step: {name: train, image: \xff}\n", None),  # not UTF-8
])
def test_yaml_steps_of_files_without_steps(text: Any, steps: Any, tmp_path: Path) -> None:
    path = tmp_path / "valohai.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert pairing.yaml_steps(str(path)) == steps
    assert pairing.yaml_steps(str(tmp_path / "missing.yaml")) is None


@pytest.mark.parametrize("written", [False, True], ids=["diff", "fix"])
def test_yaml_steps_before_and_after_this_runs_fixes(written: bool, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """--diff leaves the file as it was, --fix writes it: either way the run's texts count."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "valohai.yaml"
    before = STEP.format(name="train", image="python:3.12")
    fixed = "\n" + STEP.format(name="train", image="python:3.12-slim")
    again = "\n\n" + STEP.format(name="train", image="python:3.13")
    path.write_text(before)
    pairing.remember_yaml_text("valohai.yaml", before, fixed)
    if written:
        path.write_text(fixed)
    pairing.remember_yaml_text("valohai.yaml", fixed, again)  # a second pass
    if written:
        path.write_text(again)
    assert pairing.yaml_steps(str(path)) == {
        "train": pairing.YamlStep("valohai.yaml", 5, "python:3.13")}
    assert pairing.yaml_steps(str(path), original=True) == {
        "train": pairing.YamlStep("valohai.yaml", 3, "python:3.12")}
    assert pairing.yaml_steps(str(path)) == {  # asked again: the same
        "train": pairing.YamlStep("valohai.yaml", 5, "python:3.13")}
    pairing.forget_yaml_texts()
    assert pairing.yaml_steps(str(path)) == {
        "train": pairing.YamlStep("valohai.yaml", 5 if written else 3,
                                  "python:3.13" if written else "python:3.12")}


def test_yaml_steps_follow_the_file_between_runs(tmp_path: Path) -> None:
    path = tmp_path / "valohai.yaml"
    path.write_text(STEP.format(name="train", image="python:3.12"))
    assert pairing.yaml_steps(str(path))["train"].image == "python:3.12"  # type: ignore[index]
    path.write_text(STEP.format(name="train", image="python:3.13"))  # same size, same second
    assert pairing.yaml_steps(str(path))["train"].image == "python:3.13"  # type: ignore[index]


def test_counterpart(tmp_path: Path) -> None:
    python = str(make_project(tmp_path, yaml_image="python:3.9"))
    expected = pairing.YamlStep(str(tmp_path / "valohai.yaml"), 3, "python:3.9")
    found = pairing.counterpart(python, "train")
    assert found is not None and (found.line, found.image) == (3, "python:3.9")
    assert os.path.abspath(found.path) == expected.path
    assert pairing.counterpart(python, "other") is None
    assert pairing.counterpart(python, None) is None
    (tmp_path / "valohai.yaml").write_text("- step: [\n")
    assert pairing.counterpart(python, "train") is None
    (tmp_path / "valohai.yaml").unlink()
    assert pairing.counterpart(python, "train") is None


@pytest.mark.parametrize(("call", "image", "kept"), [
    ('valohai.prepare(step="t", image="python:3.12")', "python:3.12", "python:3.12"),
    ('valohai.prepare(step="t", image="python:3.11-slim")', "python:3.11-slim", "yaml:1"),
    ('valohai.prepare(step="t", image="")', "", "yaml:1"),
    ('vh.prepare(step="t", image="python:3.12")', "python:3.12", "yaml:1"),
])
def test_vh_keeps_what_valohai_utils_merge_keeps(call: str, image: str, kept: str) -> None:
    site = site_of(f"import valohai\nimport valohai as vh\n{call}\n")
    assert pairing.vh_keeps(site, image, "yaml:1") == kept


# ---------------------------------------------------------------------------------------------
# Keeping a pair in step: the Python side


def test_out_of_step_when_only_the_python_image_would_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = str(make_project(tmp_path))
    monkeypatch.chdir(tmp_path)
    before = PY.format(step="train", image="python:3.12")
    after = PY.format(step="train", image="python:3.12-slim")
    assert pairing.out_of_step(python, before, after) == SAME.removeprefix("not applied: ")
    # Not a pair: another step, another image, or nothing changes.
    other = PY.format(step="other", image="python:3.12")
    assert pairing.out_of_step(python, other, other.replace("3.12", "3.12-slim")) is None
    was_apart = PY.format(step="train", image="python:3.11")
    assert pairing.out_of_step(python, was_apart, was_apart.replace("3.11", "3.11-slim")) is None
    assert pairing.out_of_step(python, before, before) is None
    # Not images to compare: not Python, not a literal, no site.
    assert pairing.out_of_step(python, before, "valohai.prepare(\n") is None
    assert pairing.out_of_step(python, before, after.replace('"python:3.12-slim"', "X")) is None
    assert pairing.out_of_step(python, before.replace('"python:3.12"', "X"), after) is None
    assert pairing.out_of_step(python, before, "import valohai\n") is None
    assert pairing.out_of_step(python, before.replace('"train"', "S"),
                               after.replace('"train"', "S")) is None


def test_out_of_step_looks_at_every_site(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    python = str(make_project(tmp_path))
    monkeypatch.chdir(tmp_path)
    before = ("import valohai\n"
              "valohai.prepare(step='train', image=IMAGE)\n"  # not a literal: skipped
              "valohai.prepare(step='other', image='python:3.12')\n"  # no such YAML step
              "valohai.prepare(step='train', image='python:3.12')\n")
    after = before.replace("3.12", "3.12-slim")
    assert pairing.out_of_step(python, before, after) == SAME.removeprefix("not applied: ")


def test_out_of_step_when_the_step_is_new_in_this_run(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    python = str(make_project(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "valohai.yaml").write_text(STEP.format(name="other", image="python:3.1"))
    pairing.remember_yaml_text(str(tmp_path / "valohai.yaml"),
                               STEP.format(name="other", image="python:3.1"),
                               STEP.format(name="train", image="python:3.13"))
    before = PY.format(step="train", image="python:3.13")
    assert pairing.out_of_step(python, before, before.replace("3.13", "3.13-slim")) == (
        SAME.removeprefix("not applied: "))


def test_out_of_step_against_the_yaml_this_run_fixed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    python = str(make_project(tmp_path))
    monkeypatch.chdir(tmp_path)
    yaml_path = str(tmp_path / "valohai.yaml")
    original = STEP.format(name="train", image="python:3.12")
    before = PY.format(step="train", image="python:3.12")
    # The YAML moved to -slim in this run: the Python fix to -slim keeps the pair.
    pairing.remember_yaml_text(yaml_path, original, STEP.format(name="train",
                                                                image="python:3.12-slim"))
    assert pairing.out_of_step(python, before, before.replace("3.12", "3.12-slim")) is None
    # The YAML moved elsewhere: a Python image that matched the YAML before the run must too.
    pairing.remember_yaml_text(yaml_path, original, STEP.format(name="train",
                                                                image="python:3.13"))
    assert pairing.out_of_step(python, before, before.replace("3.12", "3.12-slim")) == (
        SAME.removeprefix("not applied: "))


# ---------------------------------------------------------------------------------------------
# Keeping a pair in step: the YAML side


def test_python_partners_of_a_valohai_yaml(tmp_path: Path) -> None:
    python = make_project(tmp_path)
    (tmp_path / "src" / "broken.py").write_text("import valohai\nvalohai.prepare(\n")
    (tmp_path / "src" / "plain.py").write_text("print('valohai')\n")
    (tmp_path / "src" / "notes.txt").write_text(PY.format(step="train", image="x"))
    (tmp_path / "aaa").mkdir()  # walked first: a project of its own
    (tmp_path / "aaa" / "valohai.yml").write_text("[]\n")
    (tmp_path / "aaa" / "own.py").write_text(PY.format(step="train", image="python:3.12"))
    (tmp_path / "valohai.yml").write_text(  # YAML that is Python too, and not a .py file
        '[valohai.prepare(step="train", image="python:3.12")]\n')
    partners = pairing.python_partners(str(tmp_path / "valohai.yaml"))
    assert [(path, site.yaml_path) for path, site in partners] == [
        (str(python), "train.py::prepare(step='train').image")]
    (tmp_path / "src" / "more.py").write_text(PY.format(step="train", image="python:3.12"))
    assert pairing.python_partners(str(tmp_path / "valohai.yaml")) == partners  # once a run
    pairing.set_run_files([])
    assert len(pairing.python_partners(str(tmp_path / "valohai.yaml"))) == 2


def test_yaml_out_of_step_when_a_python_file_is_not_in_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    yaml_path = str(tmp_path / "valohai.yaml")
    before = STEP.format(name="train", image="python:3.12")
    after = STEP.format(name="train", image="python:3.12-slim")
    assert pairing.yaml_out_of_step(yaml_path, before, after) is None  # a library caller
    pairing.set_run_files(["valohai.yaml"])
    assert pairing.yaml_out_of_step(yaml_path, before, after) == LEFT.removeprefix(
        "not applied: ")
    assert pairing.yaml_out_of_step(yaml_path, before, before) is None
    assert pairing.yaml_out_of_step(yaml_path, before, "- step: [\n") is None
    assert pairing.yaml_out_of_step(yaml_path, before, "[]\n") is None
    other = STEP.format(name="other", image="python:3.12")
    assert pairing.yaml_out_of_step(yaml_path, other, other.replace("3.12", "3.13")) is None
    apart = STEP.format(name="train", image="python:3.11")
    assert pairing.yaml_out_of_step(yaml_path, apart, apart.replace("3.11", "3.12")) is None
    pairing.set_run_files(["valohai.yaml", "src/train.py"])
    assert pairing.yaml_out_of_step(yaml_path, before, after) is None


def test_yaml_out_of_step_looks_at_every_partner(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    python = make_project(tmp_path)
    python.write_text("import valohai\n"
                      "valohai.prepare(step=S, image='python:3.12')\n"
                      "valohai.prepare(step='other', image='python:3.12')\n"
                      "valohai.prepare(step='train', image='python:3.12')\n")
    monkeypatch.chdir(tmp_path)
    pairing.set_run_files(["valohai.yaml"])
    before = STEP.format(name="train", image="python:3.12")
    after = STEP.format(name="train", image="python:3.12-slim")
    assert pairing.yaml_out_of_step(str(tmp_path / "valohai.yaml"), before, after) == (
        LEFT.removeprefix("not applied: "))
    # A step the fix adds was not named by any Python file before.
    other = STEP.format(name="other", image="python:3.1")
    assert pairing.yaml_out_of_step(str(tmp_path / "valohai.yaml"), other, after) is None


def test_yaml_out_of_step_skips_python_steps_that_are_not_literal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = make_project(tmp_path)
    python.write_text(PY.format(step="train", image="python:3.12").replace('"train"', "S"))
    monkeypatch.chdir(tmp_path)
    pairing.set_run_files(["valohai.yaml"])
    before = STEP.format(name="train", image="python:3.12")
    assert pairing.yaml_out_of_step(str(tmp_path / "valohai.yaml"), before,
                                    before.replace("3.12", "3.13")) is None
    (tmp_path / "src" / "train.py").unlink()
    pairing.set_run_files(["valohai.yaml"])
    assert pairing.yaml_out_of_step(str(tmp_path / "valohai.yaml"), before,
                                    before.replace("3.12", "3.13")) is None


# ---------------------------------------------------------------------------------------------
# Through the command line, in this process


FIX = ["--fix", "--unsafe-fixes", "--select", "VIL021"]


def test_fix_of_one_file_of_a_pair_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    python = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    yaml_path = tmp_path / "valohai.yaml"
    python_text, yaml_text = python.read_text(), yaml_path.read_text()
    cli.main([*FIX, "src/train.py"])
    assert python.read_text() == python_text
    assert SAME in capsys.readouterr().err
    cli.main([*FIX, "valohai.yaml"])
    assert yaml_path.read_text() == yaml_text
    assert LEFT in capsys.readouterr().err
    # --diff of both: both change alike, nothing is written.
    assert cli.main([*FIX[1:], "--diff", "."]) == 1
    out = capsys.readouterr().out
    assert out.count("+    image: python:3.12-slim") == 1
    assert out.count('image="python:3.12-slim"') == 1
    assert (python.read_text(), yaml_path.read_text()) == (python_text, yaml_text)
    # Both files: both change alike, in either order.
    assert cli.main([*FIX, "--select", "VIL021,VIL008", "src/train.py", "valohai.yaml"]) == 0
    assert python.read_text() == python_text.replace("3.12", "3.12-slim")
    assert yaml_path.read_text() == yaml_text.replace("3.12", "3.12-slim")
    assert "not applied" not in capsys.readouterr().err


def test_fix_refused_when_the_yaml_side_is_suppressed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    python = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    yaml_path = tmp_path / "valohai.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("3.12", "3.12  # noqa"))
    before = python.read_text()
    cli.main([*FIX, "."])
    assert python.read_text() == before
    assert SAME in capsys.readouterr().err


def test_yaml_fix_is_free_when_python_names_another_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path, python_image="python:3.13-slim")
    monkeypatch.chdir(tmp_path)
    assert cli.main([*FIX, "valohai.yaml"]) == 0
    assert "image: python:3.12-slim" in (tmp_path / "valohai.yaml").read_text()
    assert "not applied" not in capsys.readouterr().err
