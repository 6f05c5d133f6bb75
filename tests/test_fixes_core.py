"""The fixes core in-process, with exact expectations: verification reasons, edit ordering and
clashes, the pass loop's bookkeeping, summaries and diffs (difflib is the diff's oracle)."""

from __future__ import annotations

import difflib

import pytest

from test_fixes_api import TWO_STEPS, diagnostic, edit, once, span_of
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Fix, Severity
from valohai_image_lint.fixes import (
    RejectedFix,
    applied_summary,
    fix_is_wanted,
    fix_source,
    unified_diff,
    verify_fixed,
)
from valohai_image_lint.source import SourceFile

# --- Verification reasons -----------------------------------------------------------------

def test_a_second_document_is_refused() -> None:
    after = TWO_STEPS + "---\n- step: {name: c, image: 'x:1'}\n"
    assert verify_fixed(TWO_STEPS, after, []) == "the result holds more than one YAML document"


def test_a_result_that_is_no_valohai_config_is_refused() -> None:
    assert verify_fixed(TWO_STEPS, "step: {image: x}\n", []) == (
        "the result is not a Valohai config (top level is a mapping; a valohai.yaml is a list"
        " of items (`- step: ...`))")


def test_a_result_that_is_no_yaml_is_refused_with_the_parser_s_reason() -> None:
    reason = verify_fixed(TWO_STEPS, "- step: [\n", [])
    assert reason is not None and reason.startswith("the result is not valid YAML (")
    assert reason.endswith(")") and "\n" not in reason


def test_an_original_that_cannot_be_read_is_said_so() -> None:
    reason = verify_fixed("- step: [\n", TWO_STEPS, [])
    assert reason is not None
    assert reason.startswith("the original could not be checked (the result is not valid YAML (")


def test_added_and_removed_sites_are_named() -> None:
    added = TWO_STEPS + "- endpoint:\n    name: e\n    image: x:1\n"
    assert verify_fixed(TWO_STEPS, added, []) == (
        "the result changes which image sites exist (added ['[2].endpoint.image'],"
        " removed none)")
    assert verify_fixed(added, TWO_STEPS, []) == (
        "the result changes which image sites exist (added none,"
        " removed ['[2].endpoint.image'])")


def test_an_untouched_site_must_keep_its_value_and_a_touched_one_may_change() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    other_start, other_end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    mine = edit(source, start, end, "python:3.12-slim")
    both = TWO_STEPS.replace("python:3.11-slim", "python:3.12-slim").replace(
        "ghcr.io/org/app:1", "ghcr.io/org/app:2")
    assert verify_fixed(TWO_STEPS, both, [mine]) == (
        "the image at [1].step.image would change although no edit touches it")
    theirs = edit(source, other_start, other_end, "ghcr.io/org/app:2")
    assert verify_fixed(TWO_STEPS, both, [mine, theirs]) is None
    # An edit that ends where the site starts, or starts where it ends, does not touch it.
    before_it = edit(source, start - 1, start, " ")
    after_it = edit(source, end, end + 1, "\n")
    assert verify_fixed(TWO_STEPS, both, [before_it, after_it, theirs]) == (
        "the image at [0].step.image would change although no edit touches it")
    # An insertion right at either end of the value touches it.
    for at in (start, end):
        insertion = edit(source, at, at, "")
        assert verify_fixed(TWO_STEPS, both.replace("ghcr.io/org/app:2", "ghcr.io/org/app:1"),
                            [insertion]) is None


def test_rejected_fix_names_its_place_and_reason() -> None:
    source = SourceFile("dir/valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    rejected = RejectedFix(diagnostic(source, [edit(source, start, end, "x")], "VIL010"),
                           "the result is odd")
    assert str(rejected) == ("dir/valohai.yaml:6:12: VIL010 fix 'fix VIL010' not applied:"
                             " the result is odd")


# --- Choosing fixes -----------------------------------------------------------------------

def test_which_fixes_are_wanted() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    safe = diagnostic(source, [edit(source, 0, 1, "-")])
    unsafe = diagnostic(source, [edit(source, 0, 1, "-")], applicability=Applicability.UNSAFE)
    no_edits = Diagnostic("VIL999", "x", Severity.ERROR, "m", "valohai.yaml",
                          source.span(0, 1), None, None, Fix("t", (), Applicability.SAFE))
    no_fix = Diagnostic("VIL999", "x", Severity.ERROR, "m", "valohai.yaml", source.span(0, 1))
    assert [fix_is_wanted(d, False) for d in (safe, unsafe, no_edits, no_fix)] == \
        [True, False, False, False]
    assert [fix_is_wanted(d, True) for d in (safe, unsafe, no_edits, no_fix)] == \
        [True, True, False, False]


@pytest.mark.parametrize(("spans", "reason"), [
    ([(10, 5)], "its edits overlap each other or lie outside the file"),
    ([(0, len(TWO_STEPS) + 1)], "its edits overlap each other or lie outside the file"),
    ([(-1, 2)], "its edits overlap each other or lie outside the file"),
    ([(3, 8), (5, 9)], "its edits overlap each other or lie outside the file"),
])
def test_malformed_edits(spans: list[tuple[int, int]], reason: str) -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    from valohai_image_lint.diagnostic import Edit
    from valohai_image_lint.source import Position, Span

    def raw(start: int, end: int) -> Edit:
        # Spans built by hand: SourceFile.span would refuse these.
        return Edit(Span(Position(start, 1, 1), Position(end, 1, 1)), "x")

    bad = diagnostic(source, [raw(s, e) for s, e in spans])
    outcome = fix_source(source, once([bad]))
    assert not outcome.changed
    assert [(r.diagnostic, r.reason) for r in outcome.rejected] == [(bad, reason)]


def test_edits_that_touch_end_to_start_are_well_formed() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    middle = start + len("python:")
    fix = diagnostic(source, [edit(source, middle, end, "3.12-slim"),
                              edit(source, start, middle, "python:")])
    outcome = fix_source(source, once([fix]))
    assert outcome.rejected == []
    assert outcome.fixed.text == TWO_STEPS.replace("3.11-slim", "3.12-slim")


def test_two_insertions_at_one_point_take_turns() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    at = TWO_STEPS.index("python:3.11-slim")
    first = diagnostic(source, [edit(source, at, at, "docker.io/library/")], "VIL001")
    second = diagnostic(source, [edit(source, at, at, "library/")], "VIL002")
    seen: list[str] = []

    def lint(current: SourceFile) -> list[Diagnostic]:
        seen.append(current.text)
        return [first, second] if len(seen) == 1 else []

    outcome = fix_source(source, lint)
    # Their order would be a guess: one applies, the other waits for a pass that no longer
    # asks for it.
    assert outcome.applied == [first]
    assert outcome.fixed.text == TWO_STEPS.replace("python:3.11", "docker.io/library/python:3.11")


def test_adjacent_fixes_both_apply_in_one_pass() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    colon = start + len("python")
    left = diagnostic(source, [edit(source, start, colon, "pypy")], "VIL001")
    right = diagnostic(source, [edit(source, colon, end, ":3.10-slim")], "VIL002")
    passes: list[str] = []

    def lint(current: SourceFile) -> list[Diagnostic]:
        passes.append(current.text)
        return [right, left] if len(passes) == 1 else []

    outcome = fix_source(source, lint)
    assert outcome.fixed.text == TWO_STEPS.replace("python:3.11-slim", "pypy:3.10-slim")
    assert [d.code for d in outcome.applied] == ["VIL001", "VIL002"]  # in start order
    assert len(passes) == 2


def test_given_diagnostics_spare_the_first_lint() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    fix = diagnostic(source, [edit(source, start, end, "python:3.12-slim")])
    texts: list[str] = []

    def lint(current: SourceFile) -> list[Diagnostic]:
        texts.append(current.text)
        return []

    outcome = fix_source(source, lint, diagnostics=[fix])
    assert texts == [TWO_STEPS.replace("3.11", "3.12")]
    assert outcome.applied == [fix] and outcome.converged and outcome.remaining == []


def test_a_rejected_fix_is_not_tried_again_and_what_it_blocked_applies() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    bad = diagnostic(source, [edit(source, start, end, "[broken")], "VIL001")
    good = diagnostic(source, [edit(source, start, end, "python:3.12-slim")], "VIL002")
    calls: list[str] = []

    def lint(current: SourceFile) -> list[Diagnostic]:
        calls.append(current.text)
        return [bad, good] if current.text == TWO_STEPS else []

    outcome = fix_source(source, lint)
    assert outcome.fixed.text == TWO_STEPS.replace("3.11", "3.12")
    assert [r.diagnostic for r in outcome.rejected] == [bad]
    assert outcome.applied == [good]
    assert outcome.converged


def test_the_pass_limit_is_reported_only_when_fixes_remain() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"

    def lint(current: SourceFile) -> list[Diagnostic]:
        count = current.text.count("1")
        if count >= 3:
            return []
        _, end = span_of(current.text, "app:")
        return [diagnostic(current, [edit(current, end, end, "1")])]

    settled = fix_source(SourceFile("valohai.yaml", text), lint, max_passes=2)
    assert settled.fixed.text == text.replace("app:1", "app:111")
    assert settled.converged
    limited = fix_source(SourceFile("valohai.yaml", text), lint, max_passes=1)
    assert limited.fixed.text == text.replace("app:1", "app:11")
    assert not limited.converged


def test_applied_summary() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    one = diagnostic(source, [edit(source, 0, 1, "-")], "VIL010")
    assert applied_summary([one, one]) == ["VIL010 (test-fix): fix VIL010"] * 2
    assert applied_summary([]) == []


# --- Diffs, against difflib ---------------------------------------------------------------

def reference_diff(old: str, new: str) -> str:
    out = []
    for line in difflib.unified_diff(old.splitlines(keepends=True),
                                     new.splitlines(keepends=True), "a/v.yaml", "b/v.yaml"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


LINES = "".join(f"line {i}\n" for i in range(20))


@pytest.mark.parametrize(("old", "new"), [
    (LINES, LINES.replace("line 0\n", "first\n")),
    (LINES, LINES.replace("line 19\n", "last\n")),
    (LINES, LINES.replace("line 3\n", "x\n").replace("line 4\n", "y\n")),
    # Changes 6 equal lines apart share a hunk; 7 apart they do not.
    (LINES, LINES.replace("line 2\n", "x\n").replace("line 9\n", "y\n")),
    (LINES, LINES.replace("line 2\n", "x\n").replace("line 10\n", "y\n")),
    ("a\n", "b\n"),
    ("a", "b"),
    ("a\nb", "a\nc"),
    (LINES, LINES + "more\n"),
    (LINES, LINES.replace("line 5\n", "")),
    ("", "a\n"),
    ("a\n", ""),
    ("a\n", "a\n"),
])
def test_unified_diff_is_what_difflib_prints(old: str, new: str) -> None:
    got = unified_diff("v.yaml", SourceFile("v.yaml", old), SourceFile("v.yaml", new))
    assert got == reference_diff(old, new)


def test_unified_diff_paths() -> None:
    before, after = SourceFile("x", "a\n"), SourceFile("x", "b\n")
    assert unified_diff("./sub/v.yaml", before, after).startswith(
        "--- a/sub/v.yaml\n+++ b/sub/v.yaml\n@@ -1 +1 @@\n-a\n+b\n")
    assert unified_diff("/abs/v.yaml", before, after).startswith("--- a/abs/v.yaml\n")
