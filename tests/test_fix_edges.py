"""--fix edges no other test pinned (issue 16, behaviours 1, 4, 7 and 9), in-process where the
code allows so that mutation testing sees them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from unprivileged import NOBODY, as_unprivileged, shared_directory
from valohai_image_lint import cli
from valohai_image_lint.config import Config
from valohai_image_lint.diagnostic import Edit
from valohai_image_lint.fixes import (
    FixWriteError,
    apply_edits,
    describe_applied,
    fix_source,
    verify_fixed,
    write_fixed,
)
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

PRIVATE = Config(private_registries=("docker.io/myorg/*",))

# One step without an image (VIL005, no fix) and one whose short name VIL010 fixes.
NO_IMAGE_AND_SHORT_NAME = """\
- step:
    name: no-image
    command: echo hi
- step:
    name: short
    image: myorg/app:1
"""


def lint_with(config: Config) -> object:
    rules = select_rules(None, (), ())
    return lambda source: lint_source(source, config, rules)


# --- 1. A site with no image is untouched by any edit ------------------------------------

def test_a_step_without_image_does_not_block_the_other_fixes() -> None:
    source = SourceFile("valohai.yaml", NO_IMAGE_AND_SHORT_NAME)
    outcome = fix_source(source, lint_with(PRIVATE))  # type: ignore[arg-type]
    assert outcome.rejected == []
    assert outcome.fixed.text == NO_IMAGE_AND_SHORT_NAME.replace("myorg/app:1",
                                                                 "docker.io/myorg/app:1")
    assert [d.code for d in outcome.applied] == ["VIL010"]
    assert [d.code for d in outcome.remaining] == ["VIL005"]


def test_verify_ignores_a_site_without_image_with_sorted_and_unsorted_edits() -> None:
    before = NO_IMAGE_AND_SHORT_NAME
    source = SourceFile("valohai.yaml", before)
    start = before.index("myorg/app:1")
    end = start + len("myorg/app:1")
    whole = Edit(source.span(start, end), "docker.io/myorg/app:1")
    after = apply_edits(before, [whole])
    assert verify_fixed(before, after, [whole]) is None
    # Edits whose ends are not in start order take the one-by-one path.
    inner = Edit(source.span(start + 1, start + 2), "y")
    assert verify_fixed(before, after, [whole, inner]) is None
    # An insertion at the start of the image touches it too.
    insertion = Edit(source.span(start, start), "docker.io/")
    assert verify_fixed(before, apply_edits(before, [insertion]), [insertion]) is None


def test_verify_still_refuses_an_edit_that_removes_an_image_value() -> None:
    before = NO_IMAGE_AND_SHORT_NAME
    source = SourceFile("valohai.yaml", before)
    start = before.index("myorg/app:1")
    end = start + len("myorg/app:1")
    for edits in ([Edit(source.span(start, end), "")],
                  [Edit(source.span(start, end), ""), Edit(source.span(start + 1, start + 2),
                                                           "")]):
        after = apply_edits(before, edits[:1])
        assert verify_fixed(before, after, edits) == \
            "the image at [1].step.image would no longer be a string"


def test_fix_through_the_cli_with_a_step_without_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text(NO_IMAGE_AND_SHORT_NAME, "utf-8")
    settings = tmp_path / "settings.toml"
    settings.write_text('private-registries = ["docker.io/myorg/*"]\n', "utf-8")
    code = cli.main(["--fix", "--format", "concise", "--config", str(settings), str(target)])
    out, err = capsys.readouterr()
    assert code == 1  # VIL005 remains
    assert "not applied" not in err
    assert target.read_text("utf-8") == NO_IMAGE_AND_SHORT_NAME.replace(
        "myorg/app:1", "docker.io/myorg/app:1")
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()] == ["VIL005"]


# --- 4. The temporary file is written beside the file, not in $TMPDIR ------------------------

@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A directory on another filesystem than ``tmp_path`` (tmpfs), or a missing one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        directory = Path(tempfile.mkdtemp(dir=shm))
        yield directory
        shutil.rmtree(directory, ignore_errors=True)
    else:
        # No second filesystem: a $TMPDIR that does not exist fails the same way.
        yield tmp_path / "no-such-tmpdir"


def test_write_fixed_does_not_use_tmpdir(tmp_path: Path, other_filesystem: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(other_filesystem))
    monkeypatch.setattr(tempfile, "tempdir", str(other_filesystem))
    target = tmp_path / "project" / "valohai.yaml"
    target.parent.mkdir()
    target.write_bytes(b"old\n")
    write_fixed(str(target), b"old\n", b"new\n")
    assert target.read_bytes() == b"new\n"
    assert [p.name for p in target.parent.iterdir()] == ["valohai.yaml"]
    if other_filesystem.exists():
        assert list(other_filesystem.iterdir()) == []


def test_write_fixed_of_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmpdir"))
    Path("valohai.yaml").write_bytes(b"old\n")
    write_fixed("valohai.yaml", b"old\n", b"new\n")
    assert Path("valohai.yaml").read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valohai.yaml"]


# --- 7. The file keeps its owner and group ----------------------------------------------

needs_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                                reason="only root can give a file to another user")


@needs_root
@pytest.mark.parametrize(("uid", "gid"), [(NOBODY, NOBODY), (0, NOBODY), (NOBODY, 0)])
def test_write_fixed_keeps_the_owner_and_group(tmp_path: Path, uid: int, gid: int) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"old\n")
    os.chown(target, uid, gid)
    target.chmod(0o640)
    write_fixed(str(target), b"old\n", b"new\n")
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (uid, gid)
    assert info.st_mode & 0o777 == 0o640
    assert target.read_bytes() == b"new\n"


@needs_root
def test_fix_through_the_cli_keeps_the_owner(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text("- step: {name: a, image: 'myorg/app:1'}\n", "utf-8")
    os.chown(target, NOBODY, NOBODY)
    settings = tmp_path / "settings.toml"
    settings.write_text('private-registries = ["docker.io/myorg/*"]\n', "utf-8")
    assert cli.main(["--fix", "--config", str(settings), str(target)]) == 0
    assert "docker.io/myorg/app:1" in target.read_text("utf-8")
    assert (target.stat().st_uid, target.stat().st_gid) == (NOBODY, NOBODY)


def test_a_user_who_cannot_give_the_file_away_still_writes_it() -> None:
    """Another user's file, writable by all, in a directory we may write: the content matters
    more than the owner, which only root could keep."""
    directory = shared_directory()
    try:
        target = directory / "valohai.yaml"
        target.write_bytes(b"old\n")
        target.chmod(0o666)
        if os.geteuid() != 0:
            pytest.skip("needs a file owned by another user; only root can make one")
        script = ("import sys; from valohai_image_lint.fixes import write_fixed;"
                  " write_fixed(sys.argv[1], b'old\\n', b'new\\n')")
        result = subprocess.run(as_unprivileged([sys.executable, "-c", script, str(target)]),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert target.read_bytes() == b"new\n"
        assert target.stat().st_uid == NOBODY
        assert target.stat().st_mode & 0o777 == 0o666
    finally:
        shutil.rmtree(directory)


def test_write_fixed_in_an_unwritable_directory_raises(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"old\n")

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), b"old\n", b"new\n")
    assert str(caught.value) == (f"{target}: cannot write a temporary file beside it:"
                                 " Permission denied")
    assert target.read_bytes() == b"old\n"


def test_a_failed_replace_leaves_no_temporary(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"old\n")

    def refuse(source: str, destination: str) -> None:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), b"old\n", b"new\n")
    assert str(caught.value) == f"{target}: cannot write: Device or resource busy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valohai.yaml"]
    assert target.read_bytes() == b"old\n"


# --- 9. --show-fixes wording ----------------------------------------------------------------

def test_describe_applied() -> None:
    assert describe_applied({}) == "No fixes applied.\n"
    assert describe_applied({"a.yaml": []}) == "No fixes applied.\n"
    assert describe_applied({"a.yaml": ["VIL010 (x): t"]}) == (
        "Fixed 1 problem:\n- a.yaml:\n    1 \u00d7 VIL010 (x): t\n")
    assert describe_applied({"a.yaml": ["A", "B", "A"], "empty.yaml": [], "b.yaml": ["B"]}) == (
        "Fixed 4 problems:\n"
        "- a.yaml:\n    2 \u00d7 A\n    1 \u00d7 B\n"
        "- b.yaml:\n    1 \u00d7 B\n")


def test_show_fixes_after_one_fix_and_over_several_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    Path("settings.toml").write_text('private-registries = ["docker.io/myorg/*"]\n', "utf-8")
    Path("one").mkdir()
    Path("one/valohai.yaml").write_text("- step: {name: a, image: 'myorg/app:1'}\n", "utf-8")
    capsys.readouterr()
    assert cli.main(["--fix", "--show-fixes", "--config", "settings.toml", "one"]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "Fixed 1 problem:\n"
        "- one/valohai.yaml:\n"
        "    1 \u00d7 VIL010 (private-image-short-name): Write the full name"
        " `docker.io/myorg/app:1`\n")
    assert "No fixes applied." not in out

    Path("two").mkdir()
    Path("two/valohai.yaml").write_text(
        "- step: {name: a, image: 'myorg/app:2'}\n- step: {name: b, image: 'myorg/app:2'}\n",
        "utf-8")
    Path("three").mkdir()
    Path("three/valohai.yaml").write_text("- step: {name: a, image: 'myorg/x:3'}\n", "utf-8")
    assert cli.main(["--fix", "--show-fixes", "--config", "settings.toml", "one", "two",
                     "three"]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "Fixed 3 problems:\n"
        "- two/valohai.yaml:\n"
        "    2 \u00d7 VIL010 (private-image-short-name): Write the full name"
        " `docker.io/myorg/app:2`\n"
        "- three/valohai.yaml:\n"
        "    1 \u00d7 VIL010 (private-image-short-name): Write the full name"
        " `docker.io/myorg/x:3`\n")
    assert "one/valohai.yaml" not in out  # already fixed: nothing applied there

    assert cli.main(["--fix", "--show-fixes", "--config", "settings.toml", "."]) == 0
    assert capsys.readouterr().out.endswith("No fixes applied.\n")
