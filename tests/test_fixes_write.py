"""Writing fixes back (``write_fixed``), in-process so that mutation testing sees it (issue 16):
the atomic write's temporary file (hidden, beside the file), an owner the user cannot give
the file back to, the in-place write of a hard-linked file (a copy beside it, space reserved
before the first byte, the original written back on failure, the copy kept and named only
when that fails too), the one error line each failing step gives, and the diff's paths.

Failures that a test cannot provoke for real in-process (a full disk, a short write, a
filesystem without ``fallocate``) are simulated at the system call, with the errno the kernel
gives; a file size limit (``RLIMIT_FSIZE``) is set for real around one call, and when the tests
run as root a test takes the identity of ``nobody`` for one call (keeping root as its saved
user id, to return) so that ownership binds.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from unprivileged import NOBODY, shared_directory
from valohai_image_lint.fixes import FixWriteError, unified_diff, write_fixed
from valohai_image_lint.source import SourceFile

ORIGINAL = b"- step:\n    name: train\n    image: myorg/app:1\n"
FIXED = b"- step:\n    name: train\n    image: docker.io/myorg/app:1\n"
SHORTER = b"- step:\n    name: train\n    image: app:1\n"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="hard links, pwrite, rlimits")


def _linked(tmp_path: Path, content: bytes = ORIGINAL) -> tuple[Path, Path]:
    """``valohai.yaml`` and a second name for the same file, so it is written in place."""
    target = tmp_path / "valohai.yaml"
    target.write_bytes(content)
    other = tmp_path / "linked.yaml"
    os.link(target, other)
    return target, other


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """No file may grow past ``limit`` bytes (as ``ulimit -f``) while the block runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Turn a hang (an open that waits for a FIFO's reader) into a failure."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _at_first_fsync(monkeypatch: pytest.MonkeyPatch, action: object) -> None:
    """Run ``action()`` when the copy of the original has just been made durable (the first
    fsync of an in-place write), before the file itself is opened."""
    real_fsync = os.fsync
    done: list[bool] = []

    def fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        if not done:
            done.append(True)
            action()  # type: ignore[operator]

    monkeypatch.setattr(os, "fsync", fsync)


@contextmanager
def _as_nobody() -> Iterator[None]:
    """Run the block as ``nobody`` (real and effective ids), then become root again."""
    groups = os.getgroups()
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, 0)
    os.setresuid(NOBODY, NOBODY, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)
        os.setgroups(groups)


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="only root can make another user's file and become nobody")


# --- the atomic write ---------------------------------------------------------------------

def test_the_temporary_file_is_hidden_beside_the_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Not in $TMPDIR (the rename must not cross filesystems), not in the working directory,
    and hidden and named after the file while it exists, so that globs and watchers skip it."""
    project = tmp_path / "project"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    target = project / "valohai.yaml"
    target.write_bytes(ORIGINAL)
    during: list[list[str]] = []
    _at_first_fsync(monkeypatch, lambda: during.append(_names(project)))
    write_fixed(str(target), ORIGINAL, FIXED)
    [[temporary, name]] = during
    assert name == "valohai.yaml"
    assert re.fullmatch(r"\.valohai\.yaml\.[^.]+\.tmp", temporary), temporary
    assert target.read_bytes() == FIXED
    assert _names(project) == ["valohai.yaml"] and list(elsewhere.iterdir()) == []


def test_an_edit_saved_before_the_rename_is_kept(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(ORIGINAL)
    edit = b"- step:\n    name: train\n    image: myorg/app:2\n"
    _at_first_fsync(monkeypatch, lambda: target.write_bytes(edit))
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == (f"{target}: changed on disk while it was being fixed;"
                                 " not written (run again)")
    assert target.read_bytes() == edit
    assert _names(tmp_path) == ["valohai.yaml"]


def test_a_temporary_file_removed_meanwhile_is_one_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(ORIGINAL)

    def clean_up() -> None:  # a cleanup job removes stray hidden files
        for path in tmp_path.glob(".valohai.yaml.*"):
            path.unlink()

    _at_first_fsync(monkeypatch, clean_up)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == f"{target}: cannot write: No such file or directory"
    assert target.read_bytes() == ORIGINAL
    assert _names(tmp_path) == ["valohai.yaml"]


def test_a_file_gone_before_writing_is_one_error_line(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == (f"{target}: cannot read it again before writing:"
                                 " No such file or directory")
    assert _names(tmp_path) == []


@needs_root
def test_a_user_who_cannot_give_the_file_away_still_writes_it_in_process() -> None:
    """root's file, writable by all, fixed by nobody: the content matters more than the owner,
    which only root could keep (tests/test_fix_edges.py runs the same as a child process)."""
    directory = shared_directory()
    try:
        target = directory / "valohai.yaml"
        target.write_bytes(ORIGINAL)
        target.chmod(0o666)
        with _as_nobody():
            write_fixed(str(target), ORIGINAL, FIXED)
        assert target.read_bytes() == FIXED
        assert (target.stat().st_uid, target.stat().st_gid) == (NOBODY, NOBODY)
        assert target.stat().st_mode & 0o7777 == 0o666
        assert _names(directory) == ["valohai.yaml"]
    finally:
        shutil.rmtree(directory)


@needs_root
def test_a_user_fixing_an_own_file_keeps_its_mode_bits() -> None:
    """The temporary file is not handed to the owner it already has: for a user other than
    root that would clear a set-user-ID bit after the mode was copied."""
    directory = shared_directory()
    try:
        target = directory / "valohai.yaml"
        target.write_bytes(ORIGINAL)
        os.chown(target, NOBODY, NOBODY)
        target.chmod(0o4640)
        with _as_nobody():
            write_fixed(str(target), ORIGINAL, FIXED)
        assert target.read_bytes() == FIXED
        assert target.stat().st_mode & 0o7777 == 0o4640
    finally:
        shutil.rmtree(directory)


# --- the in-place write succeeds --------------------------------------------------------------

def test_short_writes_are_continued_until_all_is_written(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """pwrite may write less than asked (a signal, a network filesystem); the rest follows
    at the right offset."""
    target, other = _linked(tmp_path)
    real_pwrite = os.pwrite
    calls: list[int] = []

    def short_pwrite(descriptor: int, data: bytes, offset: int) -> int:
        calls.append(offset)
        assert len(calls) < 1000, "the write does not advance"
        return real_pwrite(descriptor, bytes(data)[:7], offset)

    monkeypatch.setattr(os, "pwrite", short_pwrite)
    write_fixed(str(target), ORIGINAL, FIXED)
    assert target.read_bytes() == other.read_bytes() == FIXED
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


def test_new_content_exactly_at_the_file_size_limit_is_written(tmp_path: Path) -> None:
    """Space is reserved for exactly the new content, from the first byte: a result that
    just fits under ``ulimit -f`` is written."""
    target, other = _linked(tmp_path)
    with _file_size_limit(len(FIXED)):
        write_fixed(str(target), ORIGINAL, FIXED)
    assert target.read_bytes() == other.read_bytes() == FIXED
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EINVAL])
def test_a_filesystem_that_cannot_reserve_space_is_still_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    target, other = _linked(tmp_path)

    def unsupported(descriptor: int, offset: int, size: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    write_fixed(str(target), ORIGINAL, FIXED)
    assert target.read_bytes() == other.read_bytes() == FIXED
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


def test_a_copy_removed_by_someone_else_meanwhile_is_no_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, other = _linked(tmp_path)

    def clean_up() -> None:  # a cleanup job removes stray hidden files
        for path in tmp_path.glob(".valohai.yaml.*"):
            path.unlink()

    _at_first_fsync(monkeypatch, clean_up)
    write_fixed(str(target), ORIGINAL, FIXED)
    assert target.read_bytes() == other.read_bytes() == FIXED
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


# --- the in-place write fails -----------------------------------------------------------------

def test_no_room_for_the_new_content_leaves_the_original_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reservation fails before a byte of the file is overwritten; the file holds the
    original and nothing is left beside it."""
    target, other = _linked(tmp_path)
    bigger = FIXED + b"# " + b"x" * 4000 + b"\n"
    real_pwrite = os.pwrite
    written: list[tuple[int, bytes]] = []

    def recording_pwrite(descriptor: int, data: bytes, offset: int) -> int:
        count = real_pwrite(descriptor, data, offset)
        written.append((offset, bytes(data)[:count]))
        return count

    monkeypatch.setattr(os, "pwrite", recording_pwrite)
    with pytest.raises(FixWriteError) as caught, _file_size_limit(1000):
        write_fixed(str(target), ORIGINAL, bigger)
    assert str(caught.value) == f"{target}: cannot write: File too large"
    # Never a byte of the new content: a crash at any moment leaves the original.
    assert all(ORIGINAL[offset:offset + len(data)] == data for offset, data in written)
    assert target.read_bytes() == other.read_bytes() == ORIGINAL
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


def test_a_write_failing_half_way_is_undone(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills after part of the new content is written: the original is written back
    and the copy removed."""
    target, other = _linked(tmp_path)
    real_pwrite = os.pwrite
    calls: list[int] = []

    def disk_fills(descriptor: int, data: bytes, offset: int) -> int:
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(descriptor, bytes(data)[:10], offset)

    monkeypatch.setattr(os, "pwrite", disk_fills)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, SHORTER)
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == other.read_bytes() == ORIGINAL
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


def test_when_the_original_cannot_be_written_back_the_copy_is_kept_and_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy goes beside the file (not to $TMPDIR, not to the working directory), hidden
    and named after it, and is the only place the original survives."""
    project = tmp_path / "project"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    target, other = _linked(project)
    real_pwrite = os.pwrite
    calls: list[int] = []

    def disk_fills(descriptor: int, data: bytes, offset: int) -> int:
        calls.append(offset)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(descriptor, bytes(data)[:10], offset)

    monkeypatch.setattr(os, "pwrite", disk_fills)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, SHORTER)
    [copy] = [name for name in _names(project) if name not in ("linked.yaml", "valohai.yaml")]
    assert re.fullmatch(r"\.valohai\.yaml\.[^.]+\.orig", copy), copy
    assert (project / copy).read_bytes() == ORIGINAL
    assert str(caught.value) == (f"{target}: cannot write: No space left on device;"
                                 f" its original content is in {project / copy}")
    assert target.read_bytes() == other.read_bytes() == SHORTER[:10] + ORIGINAL[10:]
    assert list(elsewhere.iterdir()) == []


def test_a_copy_that_cannot_be_made_is_a_clear_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target, other = _linked(tmp_path)

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == f"{target}: cannot write a copy of it beside it: Permission denied"
    assert target.read_bytes() == other.read_bytes() == ORIGINAL


@pytest.mark.parametrize("removed_meanwhile", [False, True])
def test_a_copy_that_cannot_be_completed_is_removed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    removed_meanwhile: bool) -> None:
    """The disk fills while the copy is written: the half copy goes (or is already gone),
    the file is not touched, and the error is one line."""
    target, other = _linked(tmp_path)
    real_fsync = os.fsync

    def disk_full(descriptor: int) -> None:
        if removed_meanwhile:
            for path in tmp_path.glob(".valohai.yaml.*"):
                path.unlink()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert str(caught.value) == (f"{target}: cannot write a copy of it beside it:"
                                 " No space left on device")
    assert target.read_bytes() == other.read_bytes() == ORIGINAL
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


@pytest.mark.parametrize("copy_removed_meanwhile", [False, True])
def test_a_fifo_swapped_in_is_not_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             copy_removed_meanwhile: bool) -> None:
    """The file is replaced by a FIFO after it was read: opening it for writing fails at
    once (no reader) instead of waiting, and the copy is removed (or already gone)."""
    target, other = _linked(tmp_path)

    def swap_in_a_fifo() -> None:
        target.unlink()
        os.mkfifo(target)
        if copy_removed_meanwhile:
            for path in tmp_path.glob(".valohai.yaml.*"):
                path.unlink()

    _at_first_fsync(monkeypatch, swap_in_a_fifo)
    with pytest.raises(FixWriteError) as caught, _deadline(5.0):
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == f"{target}: cannot write: No such device or address"
    assert other.read_bytes() == ORIGINAL
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


def test_an_edit_saved_before_the_in_place_write_is_kept(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    target, other = _linked(tmp_path)
    edit = b"- step:\n    name: train\n    image: myorg/app:2\n"
    _at_first_fsync(monkeypatch, lambda: target.write_bytes(edit))
    with pytest.raises(FixWriteError) as caught:
        write_fixed(str(target), ORIGINAL, FIXED)
    assert str(caught.value) == (f"{target}: changed on disk while it was being fixed;"
                                 " not written (run again)")
    assert target.read_bytes() == other.read_bytes() == edit
    assert _names(tmp_path) == ["linked.yaml", "valohai.yaml"]


# --- the diff ---------------------------------------------------------------------------------

def test_unified_diff_strips_only_leading_slashes() -> None:
    before = SourceFile("Xproject/valohai.yaml", "a: 1\n")
    after = SourceFile("Xproject/valohai.yaml", "a: 2\n")
    assert unified_diff("/Xproject/valohai.yaml", before, after) == (
        "--- a/Xproject/valohai.yaml\n+++ b/Xproject/valohai.yaml\n@@ -1 +1 @@\n"
        "-a: 1\n+a: 2\n")
