"""The rule base (rules/__init__.py) on what the older rule-base tests leave open, in-process.

VIL007's advice reaches the output through ``report_at``; ``replace_image`` without the
parsed document cannot tell whether an anchored image is shared and offers no fix;
``rule_class`` imports the module of a rule not imported yet; the message for an unknown
rule on the command line; an anchor's image uses are counted once each.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from valohai_image_lint import cli
from valohai_image_lint import rules as rules_module
from valohai_image_lint.config import Config
from valohai_image_lint.diagnostic import Applicability
from valohai_image_lint.linter import lint_source
from valohai_image_lint.model import find_image_sites
from valohai_image_lint.rules import (
    CheckedSite,
    RuleContext,
    UnknownRuleError,
    rule_code,
    select_rules,
)
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import Document, parse


@pytest.mark.parametrize(("text", "help"), [
    ("- step: {name: a, image: 'x:1'}\n  endpoint: {name: e, image: 'y:1'}\n",
     "give it an item of its own; Valohai reads only an item's first kind key"
     " (step, task, endpoint, pipeline, blueprint, deployment)"),
    ("- step: {name: a, image: 'x:1', image: 'y:1'}\n",
     "remove one of the two keys; YAML keeps the last"),
    ("- step: {name: a, image: 'x:1'}\n- step: {name: a, image: 'y:1'}\n",
     "rename one of the two, or remove the earlier: Valohai keeps the last of a name"),
])
def test_vil007_gives_its_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 text: str, help: str) -> None:
    (tmp_path / "valohai.yaml").write_text(text, "utf-8")
    capsys.readouterr()
    assert cli.main(["--format", "json", "--select", "VIL007",
                     str(tmp_path / "valohai.yaml")]) == 1
    (found,) = json.loads(capsys.readouterr().out)
    assert (found["code"], found["help"]) == ("VIL007", help)


ANCHORED = ("- step: {name: a, image: &img 'myorg/app:1'}\n"
            "- step: {name: b, image: *img}\n")


def anchored_site(document: Document) -> CheckedSite:
    first, _ = find_image_sites(document.root)
    return CheckedSite(first, "myorg/app:1", None, None)


def test_an_anchored_image_without_the_document_gets_no_fix() -> None:
    """Without the parsed file the context cannot tell what else uses the anchor."""
    ctx = RuleContext(SourceFile("valohai.yaml", ANCHORED), Config())
    site = anchored_site(parse(ANCHORED))
    assert ctx.replace_image(site, "myorg/app:2", "t", Applicability.SAFE) is None


def test_an_anchored_image_used_only_as_images_is_fixed_where_written() -> None:
    document = parse(ANCHORED)
    ctx = RuleContext(SourceFile("valohai.yaml", ANCHORED), Config(), document=document)
    fix = ctx.replace_image(anchored_site(document), "myorg/app:2", "t", Applicability.SAFE)
    assert fix is not None
    (edit,) = fix.edits
    start = ANCHORED.index("'myorg/app:1'")
    assert (edit.span.start.offset, edit.span.end.offset, edit.content) == (
        start, start + len("'myorg/app:1'"), "'myorg/app:2'")


@pytest.fixture
def rule_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rule modules may be imported afresh: afterwards, the registry and sys.modules are as
    they were (a module first imported here would be left without its registered rule)."""
    before = set(sys.modules)
    monkeypatch.setattr(rules_module.Rule, "registry", dict(rules_module.Rule.registry))
    yield
    for name in set(sys.modules) - before:
        if name.startswith("valohai_image_lint.rules.vil"):
            del sys.modules[name]


@pytest.mark.usefixtures("rule_modules")
def test_rule_class_imports_a_rule_module_not_imported_yet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = "valohai_image_lint.rules.vil021_heavy_variant"
    monkeypatch.delitem(rules_module.Rule.registry, "VIL021", raising=False)
    monkeypatch.delitem(sys.modules, module, raising=False)
    found = rules_module.rule_class("VIL021")
    assert (found.code, found.name, found.__module__) == ("VIL021", "heavy-variant", module)
    assert module in sys.modules
    assert rules_module.rule_class("VIL021") is found  # imported once


@pytest.mark.parametrize("selector", ["VIL999", "VIL0", "no-such-rule"])
def test_an_unknown_rule(selector: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownRuleError) as caught:
        rule_code(selector)
    assert str(caught.value) == f"unknown rule {selector!r}"
    capsys.readouterr()
    assert cli.main(["rule", selector]) == 2
    assert capsys.readouterr().err == (
        f"error: unknown rule {selector!r}; `valohai-image-lint rules` lists them\n")


SHARED = """\
- step:
    name: a
    image: &img myorg/app:1
- step: &b
    name: b
    image: *img
- step:
    name: c
    image: docker.io/myorg/c:1
    parameters:
      - name: base
        default: *img
"""


def test_an_anchor_also_used_as_a_default_is_not_edited_where_written() -> None:
    """The alias in the anchored step ``&b`` is one image use, though the file's anchors
    reach that step twice (from the top and as an anchor): the third ``*img`` is a
    parameter's default, which a fix must not change."""
    config = Config(private_registries=("docker.io/myorg/*",))
    found = lint_source(SourceFile("valohai.yaml", SHARED), config,
                        select_rules(("VIL010",), (), ()))
    alias = SHARED.index("*img")
    assert [(d.yaml_path, d.fix and [(e.span.start.offset, e.span.end.offset, e.content)
                                     for e in d.fix.edits]) for d in found] == [
        ("[0].step.image", None),
        ("[1].step.image", [(alias, alias + 4, "docker.io/myorg/app:1")]),
    ]


# --- Where an anchored image is edited (AnchorUses) -------------------------------------------

def fixes(text: str) -> list[tuple[str, object]]:
    """(yaml_path, [(text replaced, offset, new text)]) of each VIL010 finding."""
    config = Config(private_registries=("docker.io/myorg/*",))
    return [(d.yaml_path, d.fix and [(text[e.span.start.offset:e.span.end.offset],
                                      e.span.start.offset, e.content) for e in d.fix.edits])
            for d in lint_source(SourceFile("valohai.yaml", text), config,
                                 select_rules(("VIL010",), (), ()))]


def in_place(text: str, paths: list[str], image: str) -> list[tuple[str, object]]:
    """Every site's fix edits the anchored scalar, where it is written."""
    at = text.index(image)
    return [(path, [(image, at, f"docker.io/{image}")]) for path in paths]


def test_an_anchor_used_by_several_image_aliases_is_edited_where_written() -> None:
    text = ("- step: {name: a, image: &img myorg/app:1}\n- step: {name: b, image: *img}\n"
            "- step: {name: c, image: *img}\n")
    assert fixes(text) == in_place(
        text, ["[0].step.image", "[1].step.image", "[2].step.image"], "myorg/app:1")


def test_an_anchor_written_as_a_default_is_not_edited() -> None:
    """The anchored scalar is a parameter's default in an item Valohai reads: the image
    alias is written out instead, and the default stays."""
    text = ("- step:\n    name: a\n    image: docker.io/myorg/a:1\n    parameters:\n"
            "      - name: base\n        default: &img myorg/app:1\n"
            "- step:\n    name: b\n    image: *img\n")
    assert fixes(text) == [
        ("[1].step.image", [("*img", text.index("*img"), "docker.io/myorg/app:1")])]


def test_an_anchor_in_an_item_valohai_does_not_read_is_edited_where_written() -> None:
    text = "- {notes: &img myorg/app:1}\n- step: {name: b, image: *img}\n"
    assert fixes(text) == in_place(text, ["[1].step.image"], "myorg/app:1")


def test_aliases_of_longer_anchor_names_are_not_uses_of_a_shorter_one() -> None:
    """``*imgB`` and ``*imgb`` name other anchors than ``img``, whatever the case."""
    text = ("- step: {name: a, image: &img myorg/app:1}\n- step: {name: b, image: *img}\n"
            "- step: {name: c, image: &imgB myorg/b:1}\n- step: {name: d, image: *imgB}\n"
            "- step: {name: e, image: &imgb myorg/c:1}\n- step: {name: f, image: *imgb}\n")
    assert fixes(text) == (
        in_place(text, ["[0].step.image", "[1].step.image"], "myorg/app:1")
        + in_place(text, ["[2].step.image", "[3].step.image"], "myorg/b:1")
        + in_place(text, ["[4].step.image", "[5].step.image"], "myorg/c:1"))


@pytest.mark.usefixtures("rule_modules")
def test_all_rules_imports_the_rule_modules_and_not_the_helpers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the developer script that writes the index, nor the package a second time."""
    monkeypatch.setattr(rules_module, "_ALL_IMPORTED", False)
    rules_module.Rule.registry.clear()
    for name in [n for n in sys.modules if n.startswith("valohai_image_lint.rules.vil")
                 or n == "valohai_image_lint.rules._make_index"]:
        monkeypatch.delitem(sys.modules, name)
    found = rules_module.all_rules()
    assert "VIL021" in found
    assert "valohai_image_lint.rules._make_index" not in sys.modules
    assert "valohai_image_lint.rules.__init__" not in sys.modules


@pytest.mark.parametrize(("continued", "underlined"), [
    # A continuation line of the plain scalar `foo`: part of the list, though it has a `#`
    # after a character that is no YAML space (a no-break space, a letter)...
    ("\xa0# x", "- foo\n        \xa0# x"),
    ("X# y", "- foo\n        X# y"),
    # ...while after spaces it is a comment, which the span leaves out.
    ("# z", "- foo"),
])
def test_the_span_of_a_list_ends_with_its_last_text(continued: str, underlined: str) -> None:
    text = ("- step:\n    name: a\n    image:\n      - foo\n        " + continued
            + "\n    command: run\n")
    (found,) = lint_source(SourceFile("valohai.yaml", text), Config(),
                           select_rules(("VIL005",), (), ()))
    start = text.index("- foo")
    assert (found.span.start.offset, found.span.end.offset) == (start, start + len(underlined))
    assert found.message == "image of step 'a' is a list, not a string"
