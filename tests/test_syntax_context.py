"""VIL000 keeps libyaml's context: what was being read, where it started, and the diagnostic
points where the problem starts (issue 11, case 8)."""

from __future__ import annotations

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import select_rules


def _syntax(text: str) -> tuple[str, int, int]:
    _, diagnostics = lint_bytes("valohai.yaml", text.encode(), Config(),
                                select_rules(None, (), ()))
    assert [d.code for d in diagnostics] == ["VIL000"]
    d = diagnostics[0]
    return d.message, d.span.start.line, d.span.start.column


def test_a_key_without_its_colon_is_pointed_at_where_it_starts() -> None:
    # The shape of the real file of the issue: the key on line 4 lacks its colon; libyaml
    # only notices two lines later.
    text = ("- step:\n    name: a\n    image: python:3.11\n    command\n"
            "      python train.py\n      --epochs 3\n    environment: x\n")
    message, line, column = _syntax(text)
    assert message == ("while scanning a simple key that starts at 4:5,"
                       " could not find expected ':'")
    assert (line, column) == (4, 5)


def test_an_unclosed_quote_is_pointed_at_where_it_opens() -> None:
    message, line, column = _syntax('- step:\n    name: "a\n    image: python:3.11\n')
    assert message.startswith("while scanning a quoted scalar that starts at 2:11, ")
    assert (line, column) == (2, 11)


def test_an_enclosing_context_keeps_the_problem_position() -> None:
    # "while parsing a block mapping" only encloses the problem: the bad line is reported.
    message, line, column = _syntax("- step:\n    name: a\n   image: x\n")
    assert message == ("while parsing a block mapping that starts at 1:3,"
                       " did not find expected key")
    assert (line, column) == (3, 4)
