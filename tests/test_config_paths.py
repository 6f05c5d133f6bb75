"""Paths as the configuration and the messages write them: ``as_pathlib_writes`` must give what
``str(pathlib.PurePosixPath(path))`` gives, since messages named files that way before the
start-up path stopped importing pathlib."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valohai_image_lint.config import as_pathlib_writes


@pytest.mark.parametrize("path", [
    "", ".", "./", "/", "//", "///", "////a", "//a", "//a/", "///a//b/", "a", "a/", "a//b",
    "a/./b", "./a", "../a", "a/..", "/./a/.", ".a/b.", "..", "a/.../b",
])
def test_as_pathlib_writes_examples(path: str) -> None:
    assert as_pathlib_writes(path) == str(PurePosixPath(path))


@given(st.text(alphabet="/.a", max_size=14))
def test_as_pathlib_writes_is_what_pathlib_writes(path: str) -> None:
    assert as_pathlib_writes(path) == str(PurePosixPath(path))
