"""Files that attack (issue 10): reading with a bound, and fixes written without losing
anyone's work. Each run ends quickly with one clear line and the documented exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from valohai_image_lint.fixes import FixWriteError, write_fixed

# Enough for the linter; far too little to hold a 3 GiB file.
MEMORY_LIMIT = 600 * 2**20
_LIMITED = (
    "import resource, runpy, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))\n"
    "sys.argv = ['valohai-image-lint', *sys.argv[2:]]\n"
    "runpy.run_module('valohai_image_lint', run_name='__main__')\n"
)


def lint(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """The command line in a child with at most ``MEMORY_LIMIT`` of address space."""
    return subprocess.run([sys.executable, "-c", _LIMITED, str(MEMORY_LIMIT), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_sparse_three_gigabyte_file_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    with target.open("wb") as handle:
        handle.truncate(3 * 2**30)
    started = time.monotonic()
    run = lint("--format", "json", str(target))
    print(f"sparse 3 GiB file, {MEMORY_LIMIT >> 20} MiB address-space limit:"
          f" {time.monotonic() - started:.2f} s")
    assert run.returncode == 1, run.stderr
    [found] = json.loads(run.stdout)
    assert found["code"] == "VIL000"
    assert found["message"].startswith("file is 3072.0 MiB; files over 10 MiB are not linted")


@pytest.mark.parametrize("name", ["/dev/zero", "fifo", "directory"])
def test_what_is_not_a_regular_file_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    if name == "fifo":
        path = tmp_path / "valohai.yaml"
        os.mkfifo(path)  # nobody ever writes to it: reading would wait for ever
        expected = "is a FIFO, not a regular file; not read"
    elif name == "directory":
        path = tmp_path / "valohai.yaml"
        path.mkdir()
        expected = "is a directory, not a file"
    else:
        path = Path(name)
        expected = "is a device, not a regular file; not read"
    run = lint(str(path))
    assert run.returncode == 2, run.stderr
    # One error line (the usual summary may follow it), and nothing else.
    lines = run.stderr.splitlines()
    assert lines[0] in (f"error: {path}: {expected}", f"error: {path}: cannot read: {expected}")
    assert all(not line.startswith("error") and "Traceback" not in line for line in lines[1:])
    assert len(lines) <= 2, run.stderr
    assert run.stdout == ""


def test_fix_writes_in_place_when_the_file_has_hard_links(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"- step:\n    image: old\n")
    target.chmod(0o640)
    other = tmp_path / "elsewhere.yaml"
    os.link(target, other)
    inode = target.stat().st_ino
    write_fixed(str(target), b"- step:\n    image: old\n", b"- step:\n    image: new:1.0\n")
    assert other.read_bytes() == target.read_bytes() == b"- step:\n    image: new:1.0\n"
    assert target.stat().st_ino == inode and target.stat().st_nlink == 2
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.yaml", "valohai.yaml"]
    # Shorter content too: nothing of the old text is left at the end.
    write_fixed(str(other), b"- step:\n    image: new:1.0\n", b"x\n")
    assert target.read_bytes() == b"x\n"


def test_fix_keeps_hard_links_through_the_command_line(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text("- step:\n    name: s\n    image: myorg/app:1\n")
    (tmp_path / ".valohai-image-lint.toml").write_text(
        'private-registries = ["docker.io/myorg/*"]\n')
    other = tmp_path / "linked.yaml"
    os.link(target, other)
    run = subprocess.run([sys.executable, "-m", "valohai_image_lint", "--fix", "valohai.yaml"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=30, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert other.read_text() == target.read_text() == (
        "- step:\n    name: s\n    image: docker.io/myorg/app:1\n")


def test_a_failed_in_place_write_leaves_the_whole_original(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    original = b"- step:\n    image: old\n"
    target.write_bytes(original)
    os.link(target, tmp_path / "linked.yaml")
    # The new content cannot fit under the file size limit: the write fails part way.
    script = textwrap.dedent(f"""
        import resource, signal
        from valohai_image_lint.fixes import FixWriteError, write_fixed
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
        try:
            write_fixed({str(target)!r}, {original!r}, b"#" * 5000)
        except FixWriteError as exc:
            print(exc)
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30, check=False)
    assert "cannot write" in run.stdout, run.stdout + run.stderr
    assert target.read_bytes() == original == (tmp_path / "linked.yaml").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linked.yaml", "valohai.yaml"]


def test_an_edit_saved_while_the_fix_is_written_is_kept(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"- step:\n    image: old\n")
    real_fsync = os.fsync
    saved: list[bool] = []

    def editor_saves_meanwhile(descriptor: int) -> None:
        real_fsync(descriptor)
        if not saved:  # the user saves while the temporary file is being made durable
            saved.append(True)
            target.write_bytes(b"- step:\n    image: the user's edit\n")

    monkeypatch.setattr(os, "fsync", editor_saves_meanwhile)
    with pytest.raises(FixWriteError, match="changed on disk while it was being fixed"):
        write_fixed(str(target), b"- step:\n    image: old\n", b"- step:\n    image: new\n")
    assert saved
    assert target.read_bytes() == b"- step:\n    image: the user's edit\n"
    assert [p.name for p in tmp_path.iterdir()] == ["valohai.yaml"]
