"""The fixes API: ordering, overlaps, dedupe, verification, the pass loop, writing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Severity
from valohai_image_lint.fixes import (
    FixWriteError,
    apply_edits,
    fix_source,
    unified_diff,
    verify_fixed,
    write_fixed,
)
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

CONFIG = """\
- step:
    name: a
    image: python:3.11-slim   # a comment
- step:
    name: b
    image: ghcr.io/org/app:1
"""

# CONFIG without the comment: two steps for the fix tests of other files.
TWO_STEPS = """\
- step:
    name: a
    image: python:3.11-slim
- step:
    name: b
    image: ghcr.io/org/app:1
"""


def edit(source: SourceFile, start: int, end: int, content: str) -> Edit:
    return Edit(source.span(start, end), content)


def diagnostic(source: SourceFile, edits: list[Edit], code: str = "VIL999",
               applicability: Applicability = Applicability.SAFE,
               yaml_path: str = "[0].step.image") -> Diagnostic:
    first = edits[0].span if edits else source.span(0, 0)
    return Diagnostic(code, "test-fix", Severity.ERROR, "test", source.path, first,
                      yaml_path, None, Fix(f"fix {code}", tuple(edits), applicability))


def once(diagnostics: list[Diagnostic]) -> Callable[[SourceFile], list[Diagnostic]]:
    """A lint function that reports ``diagnostics`` for the first text only, as a rule
    whose problem the fix removed would."""
    texts: list[str] = []

    def lint(source: SourceFile) -> list[Diagnostic]:
        texts.append(source.text)
        return diagnostics if len(texts) == 1 else []

    return lint


def span_of(text: str, needle: str) -> tuple[int, int]:
    start = text.index(needle)
    return start, start + len(needle)


def test_apply_edits_splices_and_rejects_overlaps() -> None:
    source = SourceFile("x", "abcdef")
    assert apply_edits(source.text, [edit(source, 1, 2, "XY"), edit(source, 4, 4, "+")]) == \
        "aXYcd+ef"
    with pytest.raises(ValueError):
        apply_edits(source.text, [edit(source, 1, 3, "X"), edit(source, 2, 4, "Y")])


def test_a_fix_that_would_break_the_yaml_is_not_applied() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    broken = diagnostic(source, [edit(source, start, end, '"python:3.12-slim')])
    outcome = fix_source(source, once([broken]))
    assert outcome.fixed.text == CONFIG
    assert not outcome.changed
    assert [r.diagnostic for r in outcome.rejected] == [broken]
    assert "not valid YAML" in outcome.rejected[0].reason
    assert "VIL999 fix 'fix VIL999' not applied: the result is not valid YAML" in \
        str(outcome.rejected[0])


def test_a_bad_fix_is_dropped_alone_and_the_good_ones_still_apply() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    a_start, a_end = span_of(CONFIG, "python:3.11-slim")
    b_start, b_end = span_of(CONFIG, "ghcr.io/org/app:1")
    good = diagnostic(source, [edit(source, a_start, a_end, "python:3.12-slim")], "VIL998")
    bad = diagnostic(source, [edit(source, b_start, b_end, "[unclosed")], "VIL999",
                     yaml_path="[1].step.image")
    outcome = fix_source(source, once([good, bad]))
    assert outcome.fixed.text == CONFIG.replace("python:3.11-slim", "python:3.12-slim")
    assert outcome.applied == [good]
    assert [r.diagnostic for r in outcome.rejected] == [bad]


def test_a_fix_that_turns_the_image_into_a_number_is_refused() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    outcome = fix_source(source, once([diagnostic(source, [edit(source, start, end, "3.10")])]))
    assert not outcome.changed
    assert "no longer be a string" in outcome.rejected[0].reason


def test_a_fix_that_changes_another_image_site_is_refused() -> None:
    text = ("- defaults: &d\n    image: ghcr.io/org/base:1\n"
            "- other: &e\n    image: ghcr.io/org/other:1\n"
            "- step:\n    <<: *d\n    name: a\n"
            "- step:\n    name: b\n    image: myorg/app:1\n")
    source = SourceFile("valohai.yaml", text)
    start, end = span_of(text, "*d")
    # The edit touches no image scalar, yet step a's image changes through the merge key.
    sneaky = diagnostic(source, [edit(source, start, end, "*e")], yaml_path="[3].step.image")
    outcome = fix_source(source, once([sneaky]))
    assert not outcome.changed
    assert outcome.rejected[0].reason == \
        "the image at [2].step.image would change although no edit touches it"


def test_a_fix_that_removes_an_image_site_is_refused() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start = CONFIG.index("- step:\n    name: b")
    outcome = fix_source(source, once([diagnostic(source, [edit(source, start, start + 6,
                                                                "- stap")])]))
    assert not outcome.changed
    assert "changes which image sites exist" in outcome.rejected[0].reason


def test_verify_accepts_an_edit_of_the_edited_site_only() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    edits = [edit(source, start, end, "'python:3.12-slim'")]
    assert verify_fixed(CONFIG, apply_edits(CONFIG, edits), edits) is None


def test_identical_edits_from_several_diagnostics_apply_once() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    same = [diagnostic(source, [edit(source, start, end, "python:3.12-slim")],
                       yaml_path=f"[{i}].step.image") for i in range(3)]
    outcome = fix_source(source, once(same))
    assert outcome.fixed.text == CONFIG.replace("python:3.11-slim", "python:3.12-slim")
    assert outcome.applied == same


def test_overlapping_fixes_wait_for_the_next_pass() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"
    source = SourceFile("valohai.yaml", text)
    start, end = span_of(text, "myorg/app:1")
    first = diagnostic(source, [edit(source, start, end, "myorg/app:2")], "VIL001")
    # Same span: the order is by code, and the loser waits for the next pass.
    second = diagnostic(source, [edit(source, start, end, "docker.io/myorg/app:1")], "VIL002")
    passes: list[str] = []

    def lint(current: SourceFile) -> list[Diagnostic]:
        passes.append(current.text)
        if len(passes) == 1:
            return [first, second]
        if len(passes) == 2:
            assert current.text == text.replace("app:1", "app:2")
            at = current.text.index("myorg/app:2")
            return [diagnostic(current, [edit(current, at, at, "docker.io/")], "VIL002")]
        return []

    outcome = fix_source(source, lint)
    assert outcome.fixed.text == text.replace("myorg/app:1", "docker.io/myorg/app:2")
    assert [d.code for d in outcome.applied] == ["VIL001", "VIL002"]
    assert len(passes) == 3
    assert outcome.converged


def test_fixes_that_undo_each_other_stop() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"

    def lint(current: SourceFile) -> list[Diagnostic]:
        old, new = ("app:1", "app:2") if "app:1" in current.text else ("app:2", "app:1")
        start = current.text.index(old)
        return [diagnostic(current, [edit(current, start, start + len(old), new)])]

    outcome = fix_source(SourceFile("valohai.yaml", text), lint, max_passes=10)
    assert not outcome.converged
    assert len(outcome.applied) == 2


def test_fixes_that_never_settle_stop_after_the_pass_limit() -> None:
    text = "- step:\n    name: a\n    image: myorg/app:1\n"

    def lint(current: SourceFile) -> list[Diagnostic]:
        _, end = span_of(current.text, "app:")
        return [diagnostic(current, [edit(current, end, end, "1")])]

    outcome = fix_source(SourceFile("valohai.yaml", text), lint, max_passes=4)
    assert not outcome.converged
    assert outcome.fixed.text == text.replace("app:1", "app:11111")


def test_unsafe_fixes_apply_only_when_asked() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    unsafe = diagnostic(source, [edit(source, start, end, "python:3.12-slim")],
                        applicability=Applicability.UNSAFE)
    assert not fix_source(source, once([unsafe])).changed
    assert fix_source(source, once([unsafe]), unsafe=True).changed


def test_malformed_edits_are_reported_not_applied() -> None:
    source = SourceFile("valohai.yaml", CONFIG)
    start, end = span_of(CONFIG, "python:3.11-slim")
    crossed = diagnostic(source, [edit(source, start, end, "x"), edit(source, start + 1, end,
                                                                        "y")])
    outcome = fix_source(source, once([crossed]))
    assert not outcome.changed
    assert "overlap each other" in outcome.rejected[0].reason


def test_bom_is_kept_in_the_fixed_bytes() -> None:
    data = b"\xef\xbb\xbf- step:\r\n    name: a\r\n    image: myorg/app:1\r\n"
    source = SourceFile.from_bytes("valohai.yaml", data)
    config = Config(private_registries=("docker.io/myorg/*",))
    rules = select_rules(None, (), ())
    outcome = fix_source(source, lambda s: lint_source(s, config, rules))
    assert outcome.fixed_bytes() == data.replace(b"myorg/app", b"docker.io/myorg/app")
    assert outcome.remaining == []


def test_unified_diff_keeps_the_bom_line_and_crlf() -> None:
    before = SourceFile("x/valohai.yaml", "a\r\nb\r\n", has_bom=True)
    after = SourceFile("x/valohai.yaml", "a\r\nc\r\n", has_bom=True)
    assert unified_diff("./x/valohai.yaml", before, after) == (
        "--- a/x/valohai.yaml\n+++ b/x/valohai.yaml\n@@ -1,2 +1,2 @@\n"
        " \ufeffa\r\n-b\r\n+c\r\n"
    )


def test_write_fixed_refuses_a_file_that_changed(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"new content\n")
    with pytest.raises(FixWriteError, match="changed on disk while it was being fixed"):
        write_fixed(str(target), b"old content\n", b"fixed\n")
    assert target.read_bytes() == b"new content\n"


def test_write_fixed_replaces_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(b"old\n")
    target.chmod(0o604)
    inode: Optional[int] = target.stat().st_ino
    write_fixed(str(target), b"old\n", b"new\n")
    assert target.read_bytes() == b"new\n"
    if os.name == "posix":
        assert target.stat().st_mode & 0o777 == 0o604
        # A new file took the old one's place: readers never see a half-written file.
        assert target.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valohai.yaml"]


def test_write_fixed_on_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FixWriteError, match="cannot read it again before writing"):
        write_fixed(str(tmp_path / "gone.yaml"), b"a", b"b")


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("patterns", "image", "fixed"), [
    (("docker.io/myorg/*",), "myorg/app:1", "docker.io/myorg/app:1"),
    (("docker.io/myorg/*",), "index.docker.io/myorg/app:1", "docker.io/myorg/app:1"),
    (("docker.io/library/*",), "python:3", "docker.io/library/python:3"),
    (("docker.io/*",), "python:3", "docker.io/python:3"),
    (("docker.io/myorg",), f"myorg/app@{DIGEST}", f"docker.io/myorg/app@{DIGEST}"),
])
def test_vil010_writes_the_shortest_full_name_that_matches(
    patterns: tuple[str, ...], image: str, fixed: str
) -> None:
    text = f"- step:\n    name: a\n    image: {image}  # keep me\n"
    source = SourceFile("valohai.yaml", text)
    config = Config(private_registries=patterns)
    rules = select_rules(("VIL010",), (), ())
    outcome = fix_source(source, lambda s: lint_source(s, config, rules))
    assert outcome.fixed.text == text.replace(image, fixed)
    assert [d.code for d in outcome.applied] == ["VIL010"]
    assert outcome.remaining == []


@pytest.mark.parametrize("seed", range(40))
def test_in_place_diff_matches_difflib_when_lines_are_unique(seed: int) -> None:
    """The linear diff for in-place line changes prints what difflib prints."""
    import difflib
    import random

    from valohai_image_lint.fixes import unified_diff

    rng = random.Random(seed)
    count = rng.randint(1, 60)
    old = [f"line {i}\n" for i in range(count)]
    new = [f"changed {i}\n" if rng.random() < 0.15 else line for i, line in enumerate(old)]
    if rng.random() < 0.5:
        old[-1], new[-1] = old[-1].rstrip("\n"), new[-1].rstrip("\n")
    expected = []
    for line in difflib.unified_diff(old, new, "a/v.yaml", "b/v.yaml"):
        expected.append(line if line.endswith("\n")
                        else line + "\n\\ No newline at end of file\n")
    got = unified_diff("v.yaml", SourceFile("v.yaml", "".join(old)),
                       SourceFile("v.yaml", "".join(new)))
    assert got == "".join(expected)
