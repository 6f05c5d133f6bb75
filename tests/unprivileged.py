"""Run a command as an unprivileged user, for tests whose point is a permission that binds.

CI runs as root, for whom directory permissions do not bind; such tests run their command as
``nobody`` through ``setpriv`` (util-linux) instead of being skipped. As any other user the
command runs as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

NOBODY = 65534


def as_unprivileged(command: list[str]) -> list[str]:
    """``command``, run as ``nobody`` when we are root."""
    if os.name != "posix":
        pytest.skip("POSIX users and permissions")
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:  # pragma: no cover - util-linux is part of every Debian system
        pytest.fail("running as root needs setpriv (util-linux) to test as another user")
    # nobody keeps CAP_DAC_READ_SEARCH (read and search only): the interpreter, its packages and
    # the source tree may live where only root can read (CI's Python is under /root), while
    # every write, chmod and chown still binds as for any other user.
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--", *command]


def shared_directory() -> Path:
    """A new directory the unprivileged user can enter and write: pytest's own temporary
    directories are private to the user running the tests."""
    path = Path(tempfile.mkdtemp(prefix="vil-unprivileged-"))
    path.chmod(0o777)
    return path
