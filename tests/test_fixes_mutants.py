"""The last unpinned corners of ``fixes`` in-process, with exact expectations: which edits of
two fixes clash in one pass (an edit ending inside or next to a later edit of a fix taken
before, an insertion where a taken replacement starts, an edit two fixes share), and that
writing out an alias or a merge used twice is no change of a value Valohai reads. Each test
pins a behaviour a mutant of ``fixes.py`` changed unseen."""

from __future__ import annotations

from test_fixes_api import TWO_STEPS, diagnostic, edit, once, span_of
from valohai_image_lint.fixes import fix_source, verify_fixed
from valohai_image_lint.source import SourceFile

THREE_STEPS = TWO_STEPS + """\
- step:
    name: c
    image: ghcr.io/org/tool:1
"""


def _after_name_a(text: str) -> int:
    return text.index("name: a") + len("name: a")


# --- Which edits of a later fix clash with those taken before it ------------------------------

def test_an_edit_ending_inside_a_later_edit_of_a_taken_fix_waits() -> None:
    """The first fix (it starts at the comment) also rewrites the variant; the second starts
    before that edit and ends inside it: the two overlap, so the second waits for the next
    pass (which no longer reports it) rather than being spliced over the first."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    name = _after_name_a(TWO_STEPS)
    variant = diagnostic(source, [edit(source, name, name, "  # a"),
                                  edit(source, start + 7, end, "3.11-alpine")], "VIL001")
    version = diagnostic(source, [edit(source, start, start + 11, "python:3.12")], "VIL002")
    outcome = fix_source(source, once([version, variant]))
    assert outcome.applied == [variant]
    assert outcome.rejected == []
    assert outcome.fixed.text == TWO_STEPS.replace("name: a", "name: a  # a").replace(
        "python:3.11-slim", "python:3.11-alpine")


def test_an_edit_ending_where_a_later_edit_of_a_taken_fix_starts_applies_with_it() -> None:
    """Edits that only meet do not clash: both fixes apply in one pass."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    name = _after_name_a(TWO_STEPS)
    tag = diagnostic(source, [edit(source, name, name, "  # a"),
                              edit(source, start + 7, end, "3.12-slim")], "VIL001")
    registry = diagnostic(source, [edit(source, start, start + 7,
                                        "docker.io/library/python:")], "VIL002")
    outcome = fix_source(source, once([registry, tag]), max_passes=1)
    assert outcome.applied == [tag, registry]
    assert outcome.converged is True
    assert outcome.fixed.text == TWO_STEPS.replace("name: a", "name: a  # a").replace(
        "python:3.11-slim", "docker.io/library/python:3.12-slim")


def test_an_insertion_where_a_taken_replacement_starts_waits() -> None:
    """Inserting where another fix's replacement starts: which goes first would be a guess."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    name = _after_name_a(TWO_STEPS)
    upgrade = diagnostic(source, [edit(source, name, name, "  # a"),
                                  edit(source, start, end, "python:3.12-slim")], "VIL001")
    prefix = diagnostic(source, [edit(source, start, start, "docker.io/library/")], "VIL002")
    outcome = fix_source(source, once([prefix, upgrade]))
    assert outcome.applied == [upgrade]
    assert outcome.fixed.text == TWO_STEPS.replace("name: a", "name: a  # a").replace(
        "python:3.11-slim", "python:3.12-slim")


def test_an_edit_shared_with_a_fix_taken_before_is_made_once_and_both_apply() -> None:
    """One fix bumps every image, another only the third one, identically: the shared edit
    is made once and both fixes apply in the same pass."""
    source = SourceFile("valohai.yaml", THREE_STEPS)
    bumps = [("python:3.11-slim", "python:3.12-slim"), ("ghcr.io/org/app:1", "ghcr.io/org/app:2"),
             ("ghcr.io/org/tool:1", "ghcr.io/org/tool:2")]
    edits = [edit(source, *span_of(THREE_STEPS, old), new) for old, new in bumps]
    every = diagnostic(source, edits, "VIL001")
    third = diagnostic(source, [edits[2]], "VIL002", yaml_path="[2].step.image")
    outcome = fix_source(source, once([third, every]), max_passes=1)
    assert outcome.applied == [every, third]
    assert outcome.rejected == []
    assert outcome.converged is True
    fixed = THREE_STEPS
    for old, new in bumps:
        fixed = fixed.replace(old, new)
    assert outcome.fixed.text == fixed


def test_an_insertion_shared_with_a_fix_that_also_replaces_there_waits() -> None:
    """The first fix inserts a registry and replaces the image that starts at the same
    offset; the second fix makes only the same insertion. That edit is shared, but the
    first fix's replacement is a different edit starting where the insertion is, which is a
    clash as for any insertion at the start of a taken replacement: the second fix waits."""
    source = SourceFile("valohai.yaml", TWO_STEPS)
    start, end = span_of(TWO_STEPS, "python:3.11-slim")
    insertion = edit(source, start, start, "docker.io/library/")
    both = diagnostic(source, [insertion, edit(source, start, end, "python:3.12-slim")],
                      "VIL001")
    only = diagnostic(source, [insertion], "VIL002")
    outcome = fix_source(source, once([only, both]))
    assert outcome.applied == [both]
    assert outcome.fixed.text == TWO_STEPS.replace(
        "python:3.11-slim", "docker.io/library/python:3.12-slim")


# --- Writing out what an alias or a merge names is no change -----------------------------------

def test_writing_out_an_alias_of_a_value_used_twice_changes_nothing_valohai_reads() -> None:
    """The command anchored in step a and aliased in step b, written out in b: Valohai reads
    the same commands. Changing the written-out copy is a change."""
    before = ("- step:\n    name: a\n    image: python:3.11\n    command: &c echo hi\n"
              "- step:\n    name: b\n    image: python:3.12\n    command: *c\n")
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "*c")
    written_out = [edit(source, start, end, "echo hi")]
    assert verify_fixed(before, before.replace("*c", "echo hi"), written_out) is None
    assert verify_fixed(before, before.replace("*c", "echo ho"), written_out) == (
        "a value that is not an edited image would change (item [1])")


def test_writing_out_a_merge_used_twice_changes_nothing_valohai_reads() -> None:
    """Two steps merge one anchored mapping; the second merge written out as its key is the
    same step to Valohai. Leaving the key out is a change."""
    before = ("- step:\n    name: a\n    image: python:3.11\n    <<: &d {command: echo hi}\n"
              "- step:\n    name: b\n    image: python:3.12\n    <<: *d\n")
    source = SourceFile("valohai.yaml", before)
    start, end = span_of(before, "<<: *d")
    written_out = [edit(source, start, end, "command: echo hi")]
    assert verify_fixed(before, before.replace("<<: *d", "command: echo hi"),
                        written_out) is None
    assert verify_fixed(before, before.replace("<<: *d", "environment: e"), written_out) == (
        "a value that is not an edited image would change (item [1])")
