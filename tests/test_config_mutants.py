"""Configuration corners the older config tests leave open (config.py, in-process).

A Config made in code has its paths relative to the working directory; the hint for a
``tool`` key in the dedicated file is given only when that key really holds our table; a
per-file-ignores pattern with a ``/`` (even inside ``[...]``) is a path from the
configuration's directory, never a file name; ``lighter-variants`` read from a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from valohai_image_lint.config import (
    Config,
    ConfigError,
    load_config_file,
    path_matches,
)
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

FLOATING = "- step: {name: a, image: 'python:latest'}\n"


def codes(path: str, config: Config) -> list[str]:
    rules = select_rules(("VIL002",), (), ())
    return [d.code for d in lint_source(SourceFile(path, FLOATING), config, rules)]


def test_a_config_made_in_code_is_relative_to_the_working_directory() -> None:
    config = Config(per_file_ignores=(("legacy/*", ("VIL002",)),))
    assert codes("legacy/valohai.yaml", config) == []
    assert codes("other/valohai.yaml", config) == ["VIL002"]
    assert config.root == "."


@pytest.mark.parametrize(("text", "message"), [
    # The hint is for our own table written under [tool...] in the dedicated file...
    ("[tool.valohai-image-lint]\nselect = ['VIL002']\n",
     "unknown key 'tool' (in .valohai-image-lint.toml the keys go at the top level,"
     " without [tool.valohai-image-lint])"),
    # ...not for some other tool's table, nor for our table under another key.
    ("[tool.ruff]\nline-length = 99\n", "unknown key 'tool'"),
    ("tool = 3\n", "unknown key 'tool'"),
    ("[tools.valohai-image-lint]\nselect = ['VIL002']\n", "unknown key 'tools'"),
])
def test_the_hint_for_a_tool_table_in_the_dedicated_file(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / ".valohai-image-lint.toml"
    file.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_file(file)
    assert str(caught.value) == f"{file}: {message}"


@pytest.mark.parametrize(("path", "expected"), [
    ("legacy/valohai.yaml", True),
    ("legacy-valohai.yaml", True),
    # The file name alone would match; the path from the root does not.
    ("sub/legacy-valohai.yaml", False),
    ("sub/legacy/valohai.yaml", False),
])
def test_a_pattern_with_a_slash_in_brackets_is_still_a_path(
    tmp_path: Path, path: str, expected: bool
) -> None:
    assert path_matches("legacy[/-]valohai.yaml", str(tmp_path / path), str(tmp_path)) is (
        expected)


def test_lighter_variants_from_a_configuration_file(tmp_path: Path) -> None:
    file = tmp_path / ".valohai-image-lint.toml"
    file.write_text("[[lighter-variants]]\nrepositories = ['myorg/base', 'ghcr.io/o/b']\n"
                    "tag = '(?P<v>[0-9.]+)-full'\nlighter = '{v}-slim'\nnote = 'smaller'\n",
                    "utf-8")
    (variant,) = load_config_file(file).lighter_variants
    assert (variant.repositories, variant.note) == (
        ("docker.io/myorg/base", "ghcr.io/o/b"), "smaller")
    assert variant.lighter_tag("3.1-full") == "3.1-slim"
