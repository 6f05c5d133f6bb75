"""The ``full`` format's code frame on lines too long for a screen."""

from __future__ import annotations

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_source
from valohai_image_lint.output import Report, renderer
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile


def _render(text: str) -> list[str]:
    source = SourceFile("valohai.yaml", text)
    config = Config()
    diagnostics = lint_source(source, config, select_rules(None, (), ()))
    report = Report(diagnostics, {"valohai.yaml": source}, ["valohai.yaml"])
    return renderer("full")(report).splitlines()


def test_a_huge_line_prints_as_a_window_around_the_span() -> None:
    filler = "y" * 1_000_000
    lines = _render(f"- step: {{name: b, command: '{filler}', image: python}}\n")
    code, marker = lines[1], lines[2]
    assert len(code) < 300
    assert code.startswith("  1 | …") and code.endswith("image: python}")
    # The carets still sit under the image in the clipped line.
    caret = marker.index("^")
    assert code[caret : caret + 6] == "python"
    assert marker[caret:].split()[0] == "^" * 6


def test_short_lines_are_printed_whole() -> None:
    lines = _render("- step:\n    name: a\n    image: python  # note\n")
    assert lines[1] == "  3 |     image: python  # note"
    assert lines[2] == "    |            ^^^^^^ VIL001"
