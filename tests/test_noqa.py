"""``# noqa`` read exactly as ruff reads it, and VIL100 unused-noqa (issue 11, case 7; issue 9,
item 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import Config, config_from_table
from valohai_image_lint.linter import lint_source
from valohai_image_lint.noqa import parse_directive
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile


@pytest.mark.parametrize(("comment", "codes"), [
    ("# noqa", None),
    ("#noqa", None),
    ("# NOQA", None),
    ("# noqa because the platform team pins it", None),
    ("# noqa # and another comment", None),
    # As ruff reads it (its own RUF100 calls this a blanket noqa): the colon is missing.
    ("# noqa VIL002", None),
    ("# noqa: VIL002", ["VIL002"]),
    ("# noqa:VIL002", ["VIL002"]),
    ("# noqa: VIL002,VIL001", ["VIL002", "VIL001"]),
    ("# noqa: VIL002 , VIL001", ["VIL002", "VIL001"]),
    ("# noqa: VIL002 VIL001", ["VIL002", "VIL001"]),
    ("# noqa: floating-tag", ["floating-tag"]),
    ("# noqa: VIL002 pinned upstream", ["VIL002"]),
    ("# keep # noqa: vil002", ["vil002"]),
])
def test_directives(comment: str, codes: Optional[list[str]]) -> None:
    directive = parse_directive(comment, 0, 1)
    assert directive is not None
    assert (None if directive.codes is None else [c for c, _, _ in directive.codes]) == codes


@pytest.mark.parametrize("comment", [
    "# noqa-ish text", "# noqa:", "# noqa: ", "# noqaVIL002", "# noqa_x",
    "# not noqa", "# noqa-VIL002",
])
def test_what_merely_starts_with_noqa_is_no_directive(comment: str) -> None:
    assert parse_directive(comment, 0, 1) is None


def codes(text: str, config: Optional[Config] = None, select: tuple[str, ...] = ()
          ) -> list[tuple[str, int]]:
    rules = select_rules(None, select, ())
    found = lint_source(SourceFile("valohai.yaml", text), config or Config(), rules)
    return [(d.code, d.span.start.line) for d in found]


def test_noqa_ish_silences_nothing() -> None:
    assert codes("- step: {name: a, image: python}  # noqa-ish text\n") == [("VIL001", 1)]
    assert codes("- step: {name: a, image: python}  # noqa\n") == []
    assert codes("- step: {name: a, image: python}  # noqa: VIL002\n") == [("VIL001", 1)]


def test_unused_noqa_is_off_by_default_and_reports_when_selected() -> None:
    text = ("- step: {name: a, image: python:3.12-slim}  # noqa: VIL002\n"
            "- step: {name: b, image: python}  # noqa\n"
            "- step: {name: c, image: python:3.12-slim}  # noqa\n"
            "- step: {name: d, image: python:latest}  # noqa: VIL002, VIL001, VIL99\n"
            "- step: {name: e, image: python:3.12-slim}  # noqa: VIL003\n")
    assert codes(text) == []
    # VIL003 is not enabled: its code is left alone, it may silence something in another run.
    assert codes(text, select=("VIL100",)) == [("VIL100", 1), ("VIL100", 3), ("VIL100", 4)]
    found = lint_source(SourceFile("valohai.yaml", text), Config(),
                        select_rules(None, ("VIL100",), ()))
    assert [d.message for d in found] == [
        "unused `# noqa` code (unused: VIL002)",
        "unused `# noqa` directive",
        "unused `# noqa` code (unused: VIL001; unknown: VIL99)",
    ]
    assert all(d.fix is not None and str(d.fix.applicability) == "safe" for d in found)
    # With VIL003 on, line 5's code silences it (used) and line 3's bare noqa too; line 1
    # names only VIL002, so VIL003 shows there.
    assert codes(text, select=("VIL100", "VIL003")) == [
        ("VIL003", 1), ("VIL100", 1), ("VIL100", 4)]


def test_unknown_codes_warn_on_stderr_even_when_vil100_is_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".valohai-image-lint.toml").write_text("")
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: python  # noqa: VIL99\n")
    capsys.readouterr()
    code = cli.main(["--format", "concise", "valohai.yaml"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == "valohai.yaml:3:12: VIL001 [error] image 'python' has no tag or digest\n"
    assert ("warning: valohai.yaml:3:20: unknown rule 'VIL99' in `# noqa`; `valohai-image-lint"
            " rules` lists them\n") in captured.err


def test_vil100_can_be_ignored_per_file() -> None:
    config = config_from_table({"per-file-ignores": {"valohai.yaml": ["VIL100"]}}, "t", ".")
    assert codes("- step: {name: a, image: python:3.12-slim}  # noqa\n", config,
                 ("VIL100",)) == []
