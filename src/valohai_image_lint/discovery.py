"""Finding valohai.yaml files under the paths given on the command line."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_NAMES = ("valohai.yaml", "valohai.yml")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv",
                       ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


class DiscoveryError(Exception):
    pass


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def walk(directory: str) -> list[str]:
    """Every valohai.yaml / valohai.yml below ``directory``, skipping VCS, virtual environments
    and node_modules."""
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
    seen: set[str] = set()
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
            key = path if path == "-" else str(Path(path).resolve())
            if key not in seen:
                seen.add(key)
                result.append(path)
    return result
