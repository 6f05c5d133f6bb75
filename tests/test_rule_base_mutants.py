"""The rule base (rules/__init__.py), pinned where its mutation run found it loose (issue 16).

- Which anchored image a fix edits where it is written and which it writes out at the alias
  (``AnchorUses``): aliases counted once per use, anchored collections walked once, the items
  Valohai reads (those with a kind key) told from the ones it does not, ``*name`` told from
  ``*nameX``. Expected texts are the documented behaviour of ``RuleContext.replace_image``
  (DESIGN "Fixes"): an anchor used only by images is edited once; one also used for something
  else Valohai reads is left alone and the image is written out at the alias.
- A context without the parsed document does not edit an anchored image (it cannot tell).
- ``report_at`` passes the rule's help on (VIL007's advice).
- A block collection's span ends at its last line: whole-line comments after it are left out
  whichever YAML line break ends the line before them (NEL, LS and PS too: they were not, and
  the span ran onto the comment's line), and a line that only starts like a comment is kept.
- ``rule_class`` imports the module of a rule that no one has imported yet.
- ``rule CODE`` with an unknown code names it in the usage error.
"""

from __future__ import annotations

import sys

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import config_from_table
from valohai_image_lint.diagnostic import Applicability
from valohai_image_lint.fixes import fix_source
from valohai_image_lint.linter import _check_site, lint_source
from valohai_image_lint.model import SITE_KEYS, read_config
from valohai_image_lint.rules import Rule, RuleContext, rule_class, select_rules, written_end
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import Mapping, parse


def _fixed(text: str) -> tuple[str, list[tuple[str, str, bool]]]:
    """VIL021's unsafe fix (``python:3.11`` -> ``python:3.11-slim``) applied to ``text``:
    the fixed text and what remains (code, YAML path, has a fix)."""
    config = config_from_table({}, "test", ".")
    rules = select_rules(("VIL021",), (), ())
    source = SourceFile("valohai.yaml", text, False)
    outcome = fix_source(source, lambda s: lint_source(s, config, rules), unsafe=True)
    assert outcome.rejected == []
    remaining = [(d.code, d.yaml_path, d.fix is not None) for d in outcome.remaining]
    return outcome.fixed.text, remaining


# --- Where an anchored image is edited ------------------------------------------------------

def test_anchor_used_by_two_image_aliases_is_edited_once_where_written() -> None:
    text = """\
- step:
    name: a
    image: &img python:3.11
- step:
    name: b
    image: *img
- step:
    name: c
    image: *img
"""
    fixed, remaining = _fixed(text)
    assert fixed == text.replace("&img python:3.11", "&img python:3.11-slim")
    assert remaining == []


def test_image_alias_inside_an_anchored_step_counts_once() -> None:
    # The anchored step is reachable from the root and from the list of anchored nodes: its
    # ``image: *img`` is still one use at an image, and ``default: *img`` is another use.
    text = """\
- step:
    name: eval
    image: &img python:3.11
    parameters:
      - name: base
        default: *img
- step: &train
    name: train
    image: *img
"""
    fixed, remaining = _fixed(text)
    assert fixed == text.replace("    image: *img\n", "    image: python:3.11-slim\n")
    # The site that holds the anchored scalar keeps its finding, without a fix.
    assert remaining == [("VIL021", "[0].step.image", False)]


def test_anchor_defined_in_a_parameter_default_is_written_out_at_the_alias() -> None:
    text = """\
- step:
    name: a
    image: python:3.12
    parameters:
      - name: base
        default: &img python:3.11
- step:
    name: b
    image: *img
"""
    fixed, remaining = _fixed(text)
    assert fixed == text.replace("python:3.12", "python:3.12-slim").replace(
        "image: *img", "image: python:3.11-slim")
    assert remaining == []


def test_anchor_defined_in_an_item_valohai_does_not_read_is_edited_there() -> None:
    # ``defaults`` has no kind key: Valohai ignores the item, so the anchor is only an image.
    text = """\
- defaults:
    base: &img python:3.11
- step:
    name: b
    image: *img
"""
    fixed, remaining = _fixed(text)
    assert fixed == text.replace("&img python:3.11", "&img python:3.11-slim")
    assert remaining == []


@pytest.mark.parametrize("other", ["imB", "imb", "im7", "im_x", "im-x"])
def test_an_alias_of_a_longer_anchor_name_is_not_a_use(other: str) -> None:
    # libyaml's anchor names are [0-9A-Za-z_-]: ``*imB`` names ``&imB``, not ``&im``.
    text = f"""\
- step:
    name: a
    image: &im python:3.11
    parameters:
      - name: p
        default: &{other} x
      - name: q
        default: *{other}
- step:
    name: b
    image: *im
"""
    fixed, remaining = _fixed(text)
    assert fixed == text.replace("&im python:3.11", "&im python:3.11-slim")
    assert remaining == []


def test_without_the_document_an_anchored_image_gets_no_fix() -> None:
    text = """\
- step:
    name: a
    image: &img python:3.11
- step:
    name: b
    image: python:3.10
"""
    source = SourceFile("valohai.yaml", text, False)
    sites = [_check_site(site) for site in read_config(parse(text, keep_keys=SITE_KEYS).root)
             .sites]
    ctx = RuleContext(source, config_from_table({}, "test", "."))
    anchored, plain = sites
    assert ctx.replace_image(anchored, "python:3.11-slim", "t", Applicability.UNSAFE) is None
    fix = ctx.replace_image(plain, "python:3.10-slim", "t", Applicability.UNSAFE)
    assert fix is not None
    (edit,) = fix.edits
    assert edit.content == "python:3.10-slim"
    assert text[edit.span.start.offset:edit.span.end.offset] == "python:3.10"


# --- Reports --------------------------------------------------------------------------------

def test_a_whole_file_report_carries_the_rules_help() -> None:
    text = """\
- step:
    name: train
    image: python:3.12
- step:
    name: train
    image: python:3.12
"""
    config = config_from_table({}, "test", ".")
    diagnostics = lint_source(SourceFile("valohai.yaml", text, False), config,
                              select_rules(("VIL007",), (), ()))
    (found,) = diagnostics
    assert found.code == "VIL007" and found.yaml_path == "[0].step"
    assert found.help == ("rename one of the two, or remove the earlier: Valohai keeps the last"
                          " of a name")


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029"])
def test_a_comment_after_a_block_image_is_not_in_its_span(brk: str) -> None:
    text = ("- step:\n    name: a\n    image:\n      - python:3.12\n"
            f"{brk}    # a comment\n    command: x\n")
    config = config_from_table({}, "test", ".")
    diagnostics = lint_source(SourceFile("valohai.yaml", text, False), config,
                              select_rules(("ALL",), (), ()))
    (found,) = diagnostics
    assert (found.code, found.yaml_path) == ("VIL005", "[0].step.image")
    # From the "-" of the item to the end of "python:3.12", all on line 4.
    start, end = found.span.start, found.span.end
    assert (start.line, start.column, end.line, end.column) == (4, 7, 4, 20)
    assert text[start.offset:end.offset] == "- python:3.12"


@pytest.mark.parametrize("last", ["X#b: 2", "XX#b: 2", "\xa0#b: 2"])
def test_a_last_line_that_only_starts_like_a_comment_stays_in_the_span(last: str) -> None:
    # ``X#b`` and ``\xa0#b`` are keys: a comment starts after spaces and tabs only.
    text = f"k:\n  a: 1\n  {last}\nz: 3\n"
    root = parse(text).root
    assert isinstance(root, Mapping)
    (_, value), _ = root.pairs
    assert text[value.start:written_end(text, value)] == f"a: 1\n  {last}"


# --- Finding rules --------------------------------------------------------------------------

def test_rule_class_imports_a_rule_module_no_one_imported(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import valohai_image_lint.rules as rules_package

    module = "valohai_image_lint.rules.vil007_shadowed_definition"
    before = rule_class("VIL007")
    # As in a fresh run: the module not imported, the rule not registered.
    monkeypatch.delitem(Rule.registry, "VIL007")
    monkeypatch.delitem(sys.modules, module)
    monkeypatch.delattr(rules_package, "vil007_shadowed_definition")
    found = rule_class("VIL007")
    assert found is not before
    assert (found.code, found.name, found.__module__) == ("VIL007", "shadowed-definition", module)
    assert Rule.registry["VIL007"] is found
    assert rule_class("VIL007") is found


def test_rule_command_names_an_unknown_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["rule", "VIL999"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].endswith(
        "unknown rule 'VIL999'; `valohai-image-lint rules` lists them")
