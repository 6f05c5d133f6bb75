"""The rule base (rules/__init__.py): where a block collection's span ends (issue 16).

``written_end`` steps back over whole-line comments after a block collection, so that the span
(the underline, the end position of every output format) stops at the collection's last text.
A line ends at any YAML line break: NEL, LS and PS as well as ``\\n`` and ``\\r`` (it used to look
only for ``\\n`` and ``\\r``, and a comment after a NEL was underlined with the image). The
rest of the rule base's mutation survivors are pinned in test_rules_mutants.py.
"""

from __future__ import annotations

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029"])
def test_a_comment_after_a_block_image_is_not_in_its_span(brk: str) -> None:
    text = ("- step:\n    name: a\n    image:\n      - python:3.12\n"
            f"{brk}    # a comment\n    command: x\n")
    (found,) = lint_source(SourceFile("valohai.yaml", text), Config(),
                           select_rules(("ALL",), (), ()))
    assert (found.code, found.yaml_path) == ("VIL005", "[0].step.image")
    # From the "-" of the item to the end of "python:3.12", all on line 4.
    start, end = found.span.start, found.span.end
    assert (start.line, start.column, end.line, end.column) == (4, 7, 4, 20)
    assert text[start.offset:end.offset] == "- python:3.12"


@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029"])
def test_comments_after_nel_ls_or_ps_are_left_out_one_by_one(brk: str) -> None:
    # Two comment lines, each after another line break: both are stepped over.
    text = ("- step:\n    name: a\n    image:\n      - python:3.12\n"
            f"{brk}  # one{brk}    # two\n    command: x\n")
    (found,) = lint_source(SourceFile("valohai.yaml", text), Config(),
                           select_rules(("VIL005",), (), ()))
    assert text[found.span.start.offset:found.span.end.offset] == "- python:3.12"
