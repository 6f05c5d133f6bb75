"""Hierarchical configuration (issue 11, case 2): each file uses the nearest configuration
above it, as in ruff; ``--config`` overrides all; paths in a configuration are relative to it;
``-v`` says which configuration each file used; discovery is cached per directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from valohai_image_lint import cli, workspace
from valohai_image_lint.config import discover_config
from valohai_image_lint.workspace import Overrides, Workspace, WorkspaceError

SHORT = "- step:\n    name: train\n    image: myorg/app:1.0\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert discover_config().source is None, "a configuration above the temporary directory"
    write(tmp_path / ".valohai-image-lint.toml", 'ignore = ["VIL021"]\n')
    write(tmp_path / "projects/vision/.valohai-image-lint.toml",
          'private-registries = ["docker.io/myorg/*"]\n')
    write(tmp_path / "projects/vision/valohai.yaml", SHORT)
    write(tmp_path / "projects/nlp/valohai.yaml", SHORT)
    return tmp_path


def concise(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = cli.main(["--format", "concise", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_each_file_uses_the_nearest_configuration(repo: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = concise(capsys, ".")
    assert code == 1
    assert [line.split(": ")[0:2] for line in lines] == [
        ["projects/vision/valohai.yaml:3:12", "VIL010 [error] image 'myorg/app:1.0' matches"
         " `private-registries` only as 'docker.io/myorg/app:1.0'"]]
    # The same from inside a project, and from outside the repository.
    assert concise(capsys, str(repo / "projects/vision/valohai.yaml"))[0] == 1
    assert concise(capsys, str(repo / "projects/nlp/valohai.yaml"))[0] == 0


def test_pyproject_with_the_table_counts_and_without_it_is_skipped(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "projects/nlp/pyproject.toml", "[project]\nname = 'nlp'\n")
    assert concise(capsys, "projects/nlp/valohai.yaml")[0] == 0
    write(repo / "projects/nlp/pyproject.toml",
          "[project]\nname = 'nlp'\n[tool.valohai-image-lint]\nallowed-registries = ['quay.io']\n")
    code, lines, _ = concise(capsys, "projects/nlp/valohai.yaml")
    assert code == 1 and ["VIL012" in line for line in lines] == [True]


def test_config_option_overrides_every_file(repo: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "lint.toml", "")
    code, lines, _ = concise(capsys, "--config", "lint.toml", ".")
    assert code == 0 and lines == []


def test_per_file_ignores_are_relative_to_their_configuration(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo / "projects/vision/.valohai-image-lint.toml",
          'private-registries = ["docker.io/myorg/*"]\n'
          '[per-file-ignores]\n"legacy/*" = ["VIL010"]\n')
    write(repo / "projects/vision/legacy/valohai.yaml", SHORT)
    _, lines, _ = concise(capsys, ".")
    assert [line.split(":")[0] for line in lines] == ["projects/vision/valohai.yaml"]
    # Run from elsewhere, the pattern is still relative to the configuration's directory.
    write(repo / "elsewhere/.keep", "")
    monkeypatch.chdir(repo / "elsewhere")
    _, lines, _ = concise(capsys, str(repo / "projects"))
    assert [line.split(":")[0] for line in lines] == [str(repo / "projects/vision/valohai.yaml")]


def test_verbose_says_which_configuration_each_file_used(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = concise(capsys, "-v", ".")
    assert (f"checking projects/nlp/valohai.yaml (configuration:"
            f" {repo / '.valohai-image-lint.toml'})") in err
    assert (f"checking projects/vision/valohai.yaml (configuration:"
            f" {repo / 'projects/vision/.valohai-image-lint.toml'})") in err


def test_a_bad_configuration_anywhere_is_exit_2_naming_it(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "projects/nlp/.valohai-image-lint.toml", 'ignore = ["VIL999"]\n')
    code, lines, err = concise(capsys, ".")
    assert (code, lines) == (2, [])
    assert err.startswith(f"error: {repo / 'projects/nlp/.valohai-image-lint.toml'}: 'ignore':")


def test_discovery_is_cached_per_directory(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / ".valohai-image-lint.toml", 'ignore = ["VIL021"]\n')
    loads: list[str] = []
    real = workspace.load_config_file

    def counting(path: str) -> object:
        loads.append(path)
        return real(path)

    monkeypatch.setattr(workspace, "load_config_file", counting)
    checked: list[str] = []
    real_is_file = os.path.isfile

    def is_file(path: str) -> bool:
        checked.append(path)
        return real_is_file(path)

    monkeypatch.setattr(os.path, "isfile", is_file)
    ws = Workspace(cwd=tmp_path)
    for d in range(20):
        for f in range(50):
            settings = ws.settings_for(f"a/b{d}/c/{f}/valohai.yaml")
            assert settings.config.ignore == ("VIL021",)
    assert loads == [str(tmp_path / ".valohai-image-lint.toml")]
    # Each directory is looked at once (1 000 leaves, 20 c, 20 b*, a, the root), each of its
    # two candidate files asked about once (the one found, once more when it is loaded).
    in_tree = [path for path in checked if path.startswith(str(tmp_path))]
    assert len(set(in_tree)) == 2 * (1000 + 20 + 20 + 1) + 1
    assert len(in_tree) == len(set(in_tree)) + 1


def test_overrides_are_checked_and_apply_on_top(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"^--ignore: .*VIL999"):
        Workspace(Overrides(ignore=("VIL999",)), cwd=tmp_path)
    write(tmp_path / "p/.valohai-image-lint.toml", 'ignore = ["VIL001"]\nselect = ["VIL0"]\n')
    ws = Workspace(Overrides(select=("VIL002",)), cwd=tmp_path)
    # A --select starts afresh: the configuration's ignore no longer applies.
    assert ws.settings_for("p/valohai.yaml").rules.codes == {"VIL002"}
    source, found = ws.lint("p/valohai.yaml", b"- step: {name: a, image: python}\n")
    assert source is not None and found == []


def test_tool_table_in_the_dedicated_file_hints_at_the_top_level(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".valohai-image-lint.toml", '[tool.valohai-image-lint]\nignore = []\n')
    write(tmp_path / "valohai.yaml", SHORT)
    code, _, err = concise(capsys, ".")
    assert code == 2
    assert err == (f"error: {tmp_path / '.valohai-image-lint.toml'}: unknown key 'tool' (in"
                   " .valohai-image-lint.toml the keys go at the top level, without"
                   " [tool.valohai-image-lint])\n")


def test_stdin_uses_the_configuration_of_its_stdin_filename(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    def lint_stdin(name: str) -> list[str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SHORT.encode())))
        return concise(capsys, "--stdin-filename", name, "-")[1]

    assert [line.split(": ")[1][:6] for line in lint_stdin("projects/vision/valohai.yaml")] \
        == ["VIL010"]
    assert lint_stdin("projects/nlp/valohai.yaml") == []


def test_lint_reads_the_file_when_no_text_is_given(repo: Path) -> None:
    ws = Workspace(cwd=repo)
    source, found = ws.lint("projects/vision/valohai.yaml")
    assert source is not None and [d.code for d in found] == ["VIL010"]
    # Unsaved text (an editor's buffer) is linted with the file's configuration.
    _, found = ws.lint("projects/vision/valohai.yaml", b"- step: {name: a, image: python}\n")
    assert [d.code for d in found] == ["VIL001"]
    with pytest.raises(OSError):
        ws.lint("projects/missing/valohai.yaml")
