"""The fix-computing and verifying side of ``fixes`` in-process, with exact expectations:
which edits touch an image site (for any edit list the public ``verify_fixed`` is given),
grouping and ordering of fixes, clashes, the verified apply and its culprit search, and what
counts as a change of a value Valohai reads. Each test pins a behaviour a mutant of
``fixes.py`` changed unseen."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import pytest

from test_fixes_api import TWO_STEPS, diagnostic, edit, once, span_of
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit
from valohai_image_lint.fixes import apply_edits, fix_source, verify_fixed
from valohai_image_lint.source import SourceFile

# --- Which edits touch a site -------------------------------------------------------------

@pytest.mark.parametrize("overlapping", [False, True], ids=["sorted", "overlapping"])
def test_touching_is_the_same_for_any_edit_list(overlapping: bool) -> None:
    """A non-empty edit touches a site when their ranges share a character; an insertion
    when it is inside or at either end. Edits that overlap each other (no fix yields them,
    but verify_fixed is public) are searched one at a time, by the same rule."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    other_start, other_end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    # Two edits of "- step" that overlap each other and touch no site; or one that does not
    # overlap, so that the first edit near a site is not the first of all.
    noise = ([edit(source, 0, 6, "- step"), edit(source, 2, 3, "s")] if overlapping
             else [edit(source, 0, 1, "-")])
    theirs = edit(source, other_start, other_end, "ghcr.io/org/app:2")
    both = TWO_STEPS.replace("python:3.11-slim", "python:3.12-slim").replace(
        "ghcr.io/org/app:1", "ghcr.io/org/app:2")
    untouched = "the image at [0].step.image would change although no edit touches it"
    # Ending where the site starts, or starting where it ends: not touching.
    for outside in (edit(source, start - 1, start, " "), edit(source, end, end + 1, "\n")):
        assert verify_fixed(TWO_STEPS, both, [*noise, outside, theirs]) == untouched
    # One character of the value at either end, or across either end: touching.
    for inside in (edit(source, start, start + 1, "p"), edit(source, end - 1, end, "3"),
                   edit(source, start - 1, start + 1, " p"),
                   edit(source, end - 1, end + 1, "3\n")):
        assert verify_fixed(TWO_STEPS, both, [*noise, inside, theirs]) is None
    # Next to an edit that does not touch it, one that does.
    assert verify_fixed(TWO_STEPS, both, [*noise, edit(source, start - 1, start, " "),
                                          edit(source, start + 2, start + 3, "t"),
                                          theirs]) is None
    # An insertion at either end, or inside: touching; one character before it: not.
    for at in (start, start + 3, end):
        assert verify_fixed(TWO_STEPS, both, [*noise, edit(source, at, at, ""), theirs]) is None
    for at in (start - 1, end + 1):
        assert verify_fixed(TWO_STEPS, both,
                            [*noise, edit(source, at, at, ""), theirs]) == untouched


def test_an_edit_around_a_site_touches_it_whatever_lies_inside_it() -> None:
    """An edit from "name" to past the first image holds a smaller one that ends before the
    image: sorted by start, the ends fall, and the edit around the image is still found."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    end = span_of(TWO_STEPS, "python:3.11-slim")[1]
    name = TWO_STEPS.index("name: a")
    other_start, other_end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    edits = [edit(source, name, end + 1, "x"), edit(source, name + 1, name + 4, "AME"),
             edit(source, other_start, other_end, "ghcr.io/org/app:2")]
    both = TWO_STEPS.replace("python:3.11-slim", "python:3.12-slim").replace(
        "ghcr.io/org/app:1", "ghcr.io/org/app:2")
    assert verify_fixed(TWO_STEPS, both, edits) is None


def test_a_step_without_an_image_is_never_touched() -> None:
    before = TWO_STEPS + "- step:\n    name: c\n"
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "ghcr.io/org/app:1")
    for at in (0, len(before)):  # no edit, not even at either end of the file, reaches it
        fix = [edit(source, start, end, "ghcr.io/org/app:2"), edit(source, at, at, "")]
        assert verify_fixed(before, before.replace("app:1", "app:2"), fix) is None


# --- Values Valohai reads, besides the edited images ----------------------------------------

def test_an_anchor_in_a_replaced_item_may_be_edited_for_the_item_that_replaces_it() -> None:
    """Valohai keeps the last of two same-named steps; the first is not read, so editing the
    image it anchors (for the second, which aliases it) changes nothing Valohai reads."""
    before = ("- step:\n    name: a\n    image: &img python:3.11\n"
              "- step:\n    name: a\n    image: *img\n")
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "python:3.11")
    after = before.replace("python:3.11", "python:3.12")
    assert verify_fixed(before, after, [edit(source, start, end, "python:3.12")]) is None
    # Named apart, both steps are read and both images are edited sites: accepted too; but
    # a change to the first step's other values is not.
    apart = before.replace("name: a\n    image: *img", "name: b\n    image: *img")
    source = SourceFile("valohai.yaml", apart)
    assert verify_fixed(apart, apart.replace("python:3.11", "python:3.12"),
                        [edit(source, start, end, "python:3.12")]) is None
    renamed = apart.replace("python:3.11", "python:3.12").replace("name: a", "name: c")
    assert verify_fixed(apart, renamed, [edit(source, start, end, "python:3.12")]) == (
        "a value that is not an edited image would change (item [0])")


MIXED = """\
- foo: {a: 1}
- step:
    name: a
    image: python:3.11
    command: x
- pipeline:
    name: p
    nodes: []
    edges: []
"""


def test_items_of_every_kind_are_compared_and_unknown_ones_skipped() -> None:
    source = SourceFile("valohai.yaml", MIXED)
    start, end = span_of(MIXED, "python:3.11")
    image = edit(source, start, end, "python:3.12")
    fixed = MIXED.replace("python:3.11", "python:3.12")
    # An item of no kind Valohai knows is not read: it neither stops the comparison nor
    # counts when it changes.
    assert verify_fixed(MIXED, fixed, [image]) is None
    assert verify_fixed(MIXED, fixed.replace("a: 1", "a: 2"), [image]) is None
    # What follows it is read: a step's other value, a pipeline's.
    reason = "a value that is not an edited image would change ({})"
    assert verify_fixed(MIXED, fixed.replace("command: x", "command: y"), [image]) == (
        reason.format("item [1]"))
    assert verify_fixed(MIXED, fixed.replace("edges: []", "edges: [x]"), [image]) == (
        reason.format("item [2]"))
    # An item more (with no image site) is a change too.
    more = fixed + "- pipeline:\n    name: q\n    nodes: []\n    edges: []\n"
    assert verify_fixed(MIXED, more, [image]) == reason.format("the number of items")


def test_items_after_a_replaced_one_are_still_compared() -> None:
    before = ("- step:\n    name: a\n    image: &img python:3.11\n"
              "- step:\n    name: a\n    image: *img\n    command: x\n")
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "python:3.11")
    after = before.replace("python:3.11", "python:3.12").replace("command: x", "command: y")
    assert verify_fixed(before, after, [edit(source, start, end, "python:3.12")]) == (
        "a value that is not an edited image would change (item [1])")


def test_a_value_reached_through_aliases_many_times_is_compared_once() -> None:
    """Forty levels of ``[*a, *a]`` name 2**40 values; comparing them one by one would never
    end. Each node is compared once, and a change deep in it is still seen."""
    lines = ["- step:", "    name: a", "    image: python:3.11", "    x0: &a0 [1, 1]"]
    lines += [f"    x{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    before = "\n".join(lines) + "\n"
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "python:3.11")
    image = [edit(source, start, end, "python:3.12")]
    after = before.replace("python:3.11", "python:3.12")
    assert verify_fixed(before, after, image) is None
    assert verify_fixed(before, after.replace("[1, 1]", "[1, 2]"), image) == (
        "a value that is not an edited image would change (item [0])")


# --- Merge keys and complex keys, as YAML loads them ----------------------------------------

def _image_fix(before: str) -> list[Edit]:
    start, end = span_of(before, "python:3.11")
    return [edit(SourceFile("valohai.yaml", before), start, end, "python:3.12")]


def _verdict(before: str, old: str, new: str) -> Optional[str]:
    """verify_fixed of the image fix plus ``old`` replaced by ``new`` elsewhere."""
    after = before.replace("python:3.11", "python:3.12").replace(old, new)
    assert after.count("python:3.12") == 1 and (old == new or new in after)
    return verify_fixed(before, after, _image_fix(before))


def _changed(item: int) -> str:
    return f"a value that is not an edited image would change (item [{item}])"


MERGED = """\
- foo: &base {command: x, environment: e1}
- step:
    <<: *base
    name: a
    image: python:3.11
    command: y
"""


def test_a_merged_key_counts_unless_an_own_key_overrides_it() -> None:
    assert _verdict(MERGED, "e1", "e2") == _changed(1)
    assert _verdict(MERGED, "command: x", "command: z") is None
    assert _verdict(MERGED, "command: y", "command: z") == _changed(1)
    # Writing the merge out is the same mapping to Valohai.
    assert _verdict(MERGED, "    <<: *base\n", "    environment: e1\n") is None


def test_in_a_merge_list_the_first_mapping_wins() -> None:
    before = ("- foo: [&b1 {command: x}, &b2 {command: w, environment: e1}]\n"
              "- step:\n    <<: [*b1, *b2]\n    name: a\n    image: python:3.11\n")
    assert _verdict(before, "command: x", "command: z") == _changed(1)
    assert _verdict(before, "command: w", "command: z") is None
    assert _verdict(before, "e1", "e2") == _changed(1)


def test_of_two_merge_keys_the_later_wins() -> None:
    before = ("- foo: [&b1 {command: x, environment: e1}, &b2 {command: w}]\n"
              "- step:\n    <<: *b1\n    <<: *b2\n    name: a\n    image: python:3.11\n")
    assert _verdict(before, "command: x", "command: z") is None
    assert _verdict(before, "command: w", "command: z") == _changed(1)
    assert _verdict(before, "e1", "e2") == _changed(1)


def test_a_mapping_that_merges_itself_is_compared() -> None:
    before = "- step: &s\n    name: a\n    image: python:3.11\n    <<: *s\n"
    assert _verdict(before, "name: a", "name: a") is None
    assert _verdict(before, "name: a", "name: b") == _changed(0)


def test_a_long_merge_chain_is_read_once_per_mapping() -> None:
    """Each mapping merges the one before it twice: 2**40 paths, read once each."""
    lines = ["- foo:", "  - &m0 {command: x}"]
    lines += [f"  - &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: v}}" for i in range(1, 40)]
    lines += ["- step:", "    <<: *m39", "    name: a", "    image: python:3.11"]
    before = "\n".join(lines) + "\n"
    assert _verdict(before, "name: a", "name: a") is None
    assert _verdict(before, "command: x", "command: z") == _changed(1)


def test_a_complex_key_is_compared_by_its_content() -> None:
    before = "- step:\n    name: a\n    image: python:3.11\n    ? [a, b]\n    : 1\n"
    assert _verdict(before, "[a, b]", "[a, b]") is None
    assert _verdict(before, "[a, b]", "[a, c]") == _changed(0)


# --- Choosing the fixes of one pass ---------------------------------------------------------

@pytest.mark.parametrize("earlier", [False, True], ids=["alone", "after-another-fix"])
def test_a_fix_starting_inside_an_earlier_fix_waits_for_the_next_pass(earlier: bool) -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    name = TWO_STEPS.index("name: a") + len("name: ")
    version = diagnostic(source, [edit(source, start, start + 11, "python:3.12")], "VIL001")
    variant = diagnostic(source, [edit(source, start + 7, end, "3.11-alpine")], "VIL002")
    comment = diagnostic(source, [edit(source, name + 1, name + 1, "  # a")], "VIL003")
    first = [comment, version] if earlier else [version]
    outcome = fix_source(source, once([variant, *first]))
    assert outcome.applied == first
    assert outcome.rejected == []
    fixed = TWO_STEPS.replace("python:3.11-slim", "python:3.12-slim")
    assert outcome.fixed.text == (fixed.replace("name: a", "name: a  # a") if earlier else fixed)


ALIASED = """\
- step:
    name: a
    image: &img python:3.11
- step:
    name: b
    image: *img
- step:
    name: c
    image: ghcr.io/org/app:1
"""


def test_an_alias_may_be_written_out_for_its_own_site() -> None:
    source = SourceFile("valohai.yaml", ALIASED)
    start, end = span_of(ALIASED, "*img")
    written_out = [edit(source, start, end, "python:3.12")]
    after = ALIASED.replace("*img", "python:3.12")
    assert verify_fixed(ALIASED, after, written_out) is None
    # The sites after it are still checked, each by itself.
    assert verify_fixed(ALIASED, after.replace("app:1", "app:2"), written_out) == (
        "the image at [2].step.image would change although no edit touches it")


def test_an_image_that_is_no_string_is_compared_by_its_text() -> None:
    before = TWO_STEPS.replace("ghcr.io/org/app:1", "[ghcr.io/org/app:1]")
    source = SourceFile("valohai.yaml", before)
    fix = _image_fix(before)
    after = before.replace("python:3.11", "python:3.12")
    assert verify_fixed(before, after, fix) is None
    assert verify_fixed(before, after.replace("app:1]", "app:2]"), fix) == (
        "the image at [1].step.image would change although no edit touches it")
    # An edit may make it a string, not the other way round.
    start, end = span_of(before, "[ghcr.io/org/app:1]")
    assert verify_fixed(before, before.replace("[ghcr.io/org/app:1]", "ghcr.io/org/app:1"),
                        [edit(source, start, end, "ghcr.io/org/app:1")]) is None
    start, end = span_of(before, "python:3.11-slim")
    assert verify_fixed(before, before.replace("python:3.11-slim", "[python]"),
                        [edit(source, start, end, "[python]")]) == (
        "the image at [0].step.image would no longer be a string")


def test_edits_at_the_very_start_and_end_of_the_file_apply() -> None:
    """A file without a final newline can end in the image; a fix may also insert at 0."""
    text = TWO_STEPS.rstrip("\n")
    source = SourceFile("valohai.yaml", text)
    start, end = span_of(text, "ghcr.io/org/app:1")
    assert end == len(text)
    at_end = diagnostic(source, [edit(source, start, end, "ghcr.io/org/app:2")], "VIL001",
                        yaml_path="[1].step.image")
    at_start = diagnostic(source, [edit(source, 0, 0, "# fixed\n")], "VIL002")
    outcome = fix_source(source, once([at_end, at_start]))
    assert outcome.rejected == []
    assert outcome.applied == [at_start, at_end]
    assert outcome.fixed.text == "# fixed\n" + text.replace("app:1", "app:2")


def test_a_fix_that_clashes_does_not_hold_back_the_fixes_after_it() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    other_start, other_end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    version = diagnostic(source, [edit(source, start, start + 11, "python:3.12")], "VIL001")
    variant = diagnostic(source, [edit(source, start + 7, end, "3.11-alpine")], "VIL002")
    other = diagnostic(source, [edit(source, other_start, other_end, "ghcr.io/org/app:2")],
                       "VIL003", yaml_path="[1].step.image")
    outcome = fix_source(source, once([other, variant, version]))
    assert outcome.applied == [version, other]
    assert outcome.fixed.text == TWO_STEPS.replace("3.11", "3.12").replace("app:1", "app:2")


def test_a_fix_between_the_edits_of_another_applies_with_it() -> None:
    """One fix edits both images; another, between them, still applies in the same pass."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    other_start, other_end = span_of(TWO_STEPS, "ghcr.io/org/app:1")
    both = diagnostic(source, [edit(source, other_start, other_end, "ghcr.io/org/app:2"),
                               edit(source, start, end, "python:3.12-slim")], "VIL001")
    name = TWO_STEPS.index("name: b") + len("name: b")
    comment = diagnostic(source, [edit(source, name, name, "  # b")], "VIL002")
    outcome = fix_source(source, once([comment, both]))
    assert outcome.applied == [both, comment]
    assert outcome.fixed.text == TWO_STEPS.replace("3.11", "3.12").replace(
        "app:1", "app:2").replace("name: b", "name: b  # b")


# --- The file's path takes part in verifying ------------------------------------------------

YAML_PROJECT = ("- step:\n    name: train\n    image: python:3.12\n"
                "- step:\n    name: other\n    image: python:3.11\n")
PYTHON_TRAIN = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
FIX_ARGS = ["--fix", "--unsafe-fixes", "--select", "VIL021", "--format", "concise"]


@pytest.fixture
def python_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """valohai.yaml and src/train.py naming one image for step train; the working dir."""
    from valohai_image_lint.sites import project

    # The run's file list and the partners found are module state: give them back after.
    monkeypatch.setattr(project, "_RUN_FILES", None)
    monkeypatch.setattr(project, "_PARTNERS", {})
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "valohai.yaml").write_text(YAML_PROJECT)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(PYTHON_TRAIN)
    return tmp_path


def test_a_python_fix_waits_for_the_valohai_yaml_naming_the_same_image(
        python_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from valohai_image_lint import cli

    capsys.readouterr()
    cli.main([*FIX_ARGS, "src/train.py"])
    assert ("warning: src/train.py:2:37: VIL021 fix 'Switch to the lighter `python:3.12-slim`'"
            " not applied: valohai.yaml:3 names the same image for step 'train' and would not"
            " change with it; fix both files in one run\n") in capsys.readouterr().err
    assert (python_project / "src" / "train.py").read_text() == PYTHON_TRAIN


def test_a_yaml_fix_waits_for_the_python_file_naming_the_same_image(
        python_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check that needs the path (the project's Python partner) is made for the whole
    pass and for each fix tried alone."""
    from valohai_image_lint import cli

    capsys.readouterr()
    cli.main([*FIX_ARGS, "valohai.yaml"])
    err = capsys.readouterr().err
    assert ("warning: valohai.yaml:3:12: VIL021 fix 'Switch to the lighter `python:3.12-slim`'"
            " not applied: src/train.py names the same image for step 'train' and is not fixed"
            " in this run; fix both files in one run\n") in err
    # The other step's fix is free to apply.
    assert (python_project / "valohai.yaml").read_text() == YAML_PROJECT.replace(
        "3.11", "3.11-slim")
    cli.main([*FIX_ARGS, "valohai.yaml", "src/train.py"])
    assert (python_project / "valohai.yaml").read_text() == YAML_PROJECT.replace(
        "3.11", "3.11-slim").replace("3.12", "3.12-slim")
    assert (python_project / "src" / "train.py").read_text() == PYTHON_TRAIN.replace(
        "3.12", "3.12-slim")


# --- The pass loop's verdict ----------------------------------------------------------------

def _growing(applicability: Applicability, extra: Optional[Applicability] = None,
             ) -> Callable[[SourceFile], list[Diagnostic]]:
    """A lint offering to add a "1" to the tag until it holds three, and, if ``extra``, a fix
    of that applicability that is always offered (it replaces the step's name by itself)."""
    def lint(current: SourceFile) -> list[Diagnostic]:
        found = []
        if current.text.count("1") < 3:
            end = span_of(current.text, "app:")[1]
            found.append(diagnostic(current, [edit(current, end, end, "1")], "VIL001",
                                    applicability))
        if extra is not None:
            at = current.text.index("name: a") + len("name: ")
            found.append(diagnostic(current, [edit(current, at, at + 1, "a")], "VIL002",
                                    extra))
        return found

    return lint


def test_the_pass_limit_counts_only_the_fixes_that_were_asked_for() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"
    source = SourceFile("valohai.yaml", text)
    # Settled within the limit, an unsafe fix left over (not asked for) does not count.
    outcome = fix_source(source, _growing(Applicability.SAFE, Applicability.UNSAFE),
                         max_passes=2)
    assert outcome.fixed.text == text.replace("app:1", "app:111")
    assert outcome.converged is True
    # An unsafe fix that was asked for and still applies at the limit does.
    outcome = fix_source(source, _growing(Applicability.UNSAFE), unsafe=True, max_passes=1)
    assert outcome.fixed.text == text.replace("app:1", "app:11")
    assert outcome.converged is False
    outcome = fix_source(source, _growing(Applicability.UNSAFE), unsafe=True, max_passes=2)
    assert outcome.converged is True


def test_fixes_that_undo_each_other_are_reported_as_not_converged() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"

    def lint(current: SourceFile) -> list[Diagnostic]:
        old, new = ("app:1", "app:2") if "app:1" in current.text else ("app:2", "app:1")
        start = current.text.index(old)
        return [diagnostic(current, [edit(current, start, start + len(old), new)])]

    outcome = fix_source(SourceFile("valohai.yaml", text), lint)
    assert outcome.converged is False
    assert outcome.fixed.text == text
    assert len(outcome.applied) == 2


# --- apply_edits, the public splice -----------------------------------------------------------

def _raw(start: int, end: int, content: str) -> Edit:
    """An edit built by hand: SourceFile.span would refuse a span that leaves the text."""
    from valohai_image_lint.source import Position, Span

    return Edit(Span(Position(start, 1, start + 1), Position(end, 1, end + 1)), content)


@pytest.mark.parametrize(("spans", "offset"), [
    ([(1, 3), (2, 4)], 2),  # overlaps the one before
    ([(4, 2)], 4),  # ends before it starts
    ([(5, 7)], 5),  # ends after the text
])
def test_apply_edits_refuses_what_it_cannot_splice(spans: list[tuple[int, int]],
                                                   offset: int) -> None:
    edits = [_raw(start, end, "x") for start, end in spans]
    with pytest.raises(ValueError) as caught:
        apply_edits("abcdef", edits)
    assert str(caught.value) == f"edit at offset {offset} overlaps another or leaves the text"


def test_apply_edits_splices_at_both_ends_of_the_text() -> None:
    assert apply_edits("abcdef", [_raw(0, 0, "<"), _raw(0, 1, "A"), _raw(1, 1, "+"),
                                  _raw(5, 6, "F"), _raw(6, 6, ">")]) == "<A+bcdeF>"


def test_fixes_that_change_nothing_end_the_loop() -> None:
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    same = diagnostic(source, [edit(source, start, end, "python:3.11-slim")])
    outcome = fix_source(source, lambda current: [same])
    assert outcome.fixed.text == TWO_STEPS
    assert outcome.applied == []
    assert outcome.converged is True
    assert outcome.remaining == [same]


def test_fixes_that_go_round_in_a_longer_cycle_stop_when_a_text_comes_back() -> None:
    """1 -> 2 -> 3 -> 2: the third pass makes a text seen before, and the loop ends there."""
    text = "- step:\n    name: a\n    image: myorg/app:1\n"
    step = {"1": "2", "2": "3", "3": "2"}

    def lint(current: SourceFile) -> list[Diagnostic]:
        start = current.text.index("app:") + len("app:")
        return [diagnostic(current, [edit(current, start, start + 1,
                                          step[current.text[start]])])]

    outcome = fix_source(SourceFile("valohai.yaml", text), lint)
    assert outcome.converged is False
    assert len(outcome.applied) == 3
    assert outcome.fixed.text == text.replace("app:1", "app:2")
    assert outcome.remaining == lint(outcome.fixed)
