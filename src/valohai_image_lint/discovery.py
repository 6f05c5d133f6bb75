"""Finding valohai.yaml files, and Python files that call ``valohai.prepare``, under the paths
given on the command line."""

from __future__ import annotations

import os

CONFIG_NAMES = ("valohai.yaml", "valohai.yml")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv",
                       ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


class DiscoveryError(Exception):
    pass


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


_SCREEN_CHUNK = 64 * 1024
_SCREEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _calls_prepare(path: str) -> bool:
    """The byte screen of sites.python: only files naming both valohai and prepare are kept.

    Called for every .py file of a tree (thousands), so one open and one bounded read: the
    caller saw a regular file, and a FIFO swapped in meanwhile reads as empty (non-blocking).
    """
    from valohai_image_lint.source import MAX_SOURCE_BYTES

    try:
        descriptor = os.open(path, _SCREEN_FLAGS)
    except OSError:
        return False
    chunks: list[bytes] = []
    size = 0
    try:
        # In chunks: os.read(fd, n) allocates n bytes up front, whatever the file holds.
        while size < MAX_SOURCE_BYTES:
            chunk = os.read(descriptor, _SCREEN_CHUNK)
            chunks.append(chunk)
            size += len(chunk)
            if len(chunk) < _SCREEN_CHUNK:
                break
    except OSError:
        return False
    finally:
        os.close(descriptor)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return b"prepare" in data and b"valohai" in data


def walk(directory: str) -> list[str]:
    """Every valohai.yaml / valohai.yml below ``directory``, and every ``.py`` file that may call
    ``valohai.prepare``, skipping VCS, virtual environments and node_modules."""
    found: list[str] = []
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name, reverse=True):
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS and not _is_virtualenv(entry.path):
                        stack.append(entry.path)
                elif entry.name in CONFIG_NAMES and entry.is_file():
                    # `sub/valohai.yaml`, not `./sub/valohai.yaml`, as ruff prints paths.
                    found.append(os.path.normpath(entry.path))
                elif (entry.name.endswith(".py") and entry.is_file()
                        and _calls_prepare(entry.path)):
                    found.append(os.path.normpath(entry.path))
            except OSError:
                continue
    found.sort()
    return found


def git_ignored(paths: list[str], cwd: str) -> set[str]:
    """The subset of ``paths`` that git ignores (empty outside a git work tree or without git)."""
    if not paths:
        return set()
    # Only directories need git; linting named files (a pre-commit hook) never loads this.
    import subprocess

    absolute = {os.path.abspath(p): p for p in paths}
    try:
        result = subprocess.run(
            ["git", "check-ignore", "-z", "--stdin"],
            input="\0".join(absolute).encode() + b"\0",
            capture_output=True,
            cwd=cwd,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode not in (0, 1):  # 128: not a git repository
        return set()
    reported = result.stdout.decode(errors="replace").split("\0")
    return {absolute[p] for p in reported if p in absolute}


def collect(paths: list[str]) -> list[str]:
    """Files to lint, in order, without duplicates. ``-`` stands for standard input.

    Files named explicitly are always linted; files found in directories are filtered by
    git's ignore rules.
    """
    result: list[str] = []
    seen: set[object] = set()
    for raw in paths:
        if raw == "-":
            candidates = ["-"]
        elif os.path.isdir(raw) and os.path.basename(os.path.normpath(raw)) in CONFIG_NAMES:
            raise DiscoveryError(f"{raw}: is a directory, not a file")
        elif os.path.isdir(raw):
            walked = walk(raw)
            ignored = git_ignored(walked, raw)
            candidates = [p for p in walked if p not in ignored]
        elif os.path.exists(raw):
            candidates = [raw]
        else:
            raise DiscoveryError(f"{raw}: no such file or directory")
        for path in candidates:
            key: object = path if path == "-" else _identity(path)
            if key not in seen:
                seen.add(key)
                result.append(path)
    return result


def _identity(path: str) -> object:
    """The same for two names of one file. A stat, not a path resolution: pre-commit passes
    thousands of Python files by name, and resolving each costs a stat per path component."""
    try:
        status = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    if status.st_nlink > 1:
        # Hard links are separate files to the user (and to --fix): tell them apart by path.
        return os.path.realpath(path)
    return (status.st_dev, status.st_ino)
