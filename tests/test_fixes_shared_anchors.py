"""Fixes never change a value that is not an image (issue 9, item 7).

An anchored image that is also used elsewhere (a parameter default) is not edited where it is
written; the image sites that name it get the new image written out instead. The re-parse
check compares everything Valohai reads, not only the image sites.
"""

from __future__ import annotations

from valohai_image_lint.config import config_from_table
from valohai_image_lint.diagnostic import Edit
from valohai_image_lint.fixes import fix_source, verify_fixed
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

SHARED = """\
- step:
    name: train
    image: &img python:3.11
    command: python train.py
    parameters:
      - name: base
        default: *img
- step:
    name: eval
    image: *img
    command: python eval.py
"""


def _edit(text: str, old: str, new: str, nth: int = 0) -> Edit:
    source = SourceFile("valohai.yaml", text, False)
    start = -1
    for _ in range(nth + 1):
        start = text.index(old, start + 1)
    return Edit(source.span(start, start + len(old)), new)


def test_editing_a_shared_anchor_is_refused() -> None:
    edit = _edit(SHARED, "python:3.11", "python:3.11-slim")
    after = SHARED.replace("python:3.11", "python:3.11-slim", 1)
    reason = verify_fixed(SHARED, after, [edit])
    assert reason is not None and "not an edited image would change (item [0])" in reason


def test_writing_the_image_out_at_an_alias_is_accepted() -> None:
    edit = _edit(SHARED, "*img", "python:3.11-slim", nth=1)
    after = SHARED.replace("image: *img", "image: python:3.11-slim")
    assert verify_fixed(SHARED, after, [edit]) is None


def test_unsafe_variant_fix_leaves_the_parameter_default_alone() -> None:
    config = config_from_table({}, "test", ".")
    rules = select_rules(("VIL021",), (), ())
    source = SourceFile("valohai.yaml", SHARED, False)
    outcome = fix_source(source, lambda s: lint_source(s, config, rules), unsafe=True)
    assert outcome.rejected == []
    assert outcome.fixed.text == SHARED.replace("image: *img", "image: python:3.11-slim")
    # The site that holds the anchored scalar keeps its finding, without a fix.
    (left,) = [d for d in outcome.remaining if d.code == "VIL021"]
    assert left.yaml_path == "[0].step.image" and left.fix is None


def test_anchor_used_only_by_images_is_still_edited_once() -> None:
    text = SHARED.replace("        default: *img\n", "        default: 1\n")
    config = config_from_table({}, "test", ".")
    rules = select_rules(("VIL021",), (), ())
    source = SourceFile("valohai.yaml", text, False)
    outcome = fix_source(source, lambda s: lint_source(s, config, rules), unsafe=True)
    assert outcome.fixed.text == text.replace("&img python:3.11", "&img python:3.11-slim")
