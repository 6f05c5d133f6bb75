"""The rule base (rules/__init__.py), in-process: selection, quoting, spans, messages.

Expected values are written out from the documented behaviour (README "Rule selection",
DESIGN "Fixes"), not taken from the code's own answers.
"""

from __future__ import annotations

from typing import Optional

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import (
    UnknownRuleError,
    all_rules,
    find_rule,
    match_selector,
    quote_like,
    select_rules,
    shown,
    written_end,
)
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import Mapping, Scalar, Sequence, parse

# Every rule of DESIGN section 3; VIL003 and VIL100 are opt-in.
EVERY = ["VIL000", "VIL001", "VIL002", "VIL003", "VIL004", "VIL005", "VIL006", "VIL007",
         "VIL008", "VIL009", "VIL010", "VIL011", "VIL012", "VIL013", "VIL014", "VIL015",
         "VIL016", "VIL020", "VIL021", "VIL100"]
OPT_IN = ("VIL003", "VIL100")
DEFAULT = [code for code in EVERY if code not in OPT_IN]


def prefixed(prefix: str, codes: Optional[list[str]] = None) -> list[str]:
    return [code for code in (EVERY if codes is None else codes) if code.startswith(prefix)]


def without(prefix: str, codes: list[str]) -> list[str]:
    return [code for code in codes if not code.startswith(prefix)]


def chosen(select: Optional[tuple[str, ...]] = None, extend: tuple[str, ...] = (),
           ignore: tuple[str, ...] = ()) -> list[str]:
    return sorted(select_rules(select, extend, ignore).codes)


# --- Selection ------------------------------------------------------------------------------

def test_defaults_leave_out_the_opt_in_rule() -> None:
    assert chosen() == DEFAULT
    assert [code for code, rule in all_rules().items() if not rule.default_enabled] == \
        list(OPT_IN)


@pytest.mark.parametrize(("select", "extend", "ignore", "expected"), [
    (("ALL",), (), (), EVERY),
    (("all",), (), (), EVERY),
    ((" ALL ",), (), (), EVERY),
    (("VIL0",), (), (), prefixed("VIL0")),
    (("VIL00",), (), (), prefixed("VIL00")),
    (("vil01",), (), (), prefixed("VIL01")),
    (("VIL002",), (), (), ["VIL002"]),
    (("floating-tag",), (), (), ["VIL002"]),
    ((), (), (), []),
    (None, ("VIL003",), (), sorted([*DEFAULT, "VIL003"])),
    (None, ("VIL1",), (), sorted([*DEFAULT, "VIL100"])),
    (None, (), ("VIL0",), []),
    (None, (), ("VIL01",), without("VIL01", DEFAULT)),
    # The more specific selector wins, whichever list it is in.
    (("VIL002",), (), ("ALL",), ["VIL002"]),
    (("VIL0",), (), ("VIL00",), without("VIL00", prefixed("VIL0"))),
    (("VIL00",), (), ("VIL0",), prefixed("VIL00")),
    (("ALL",), (), ("VIL",), []),
    (("VIL",), (), ("ALL",), EVERY),
    (("ALL",), (), ("floating-tag", "VIL01"), [c for c in EVERY
                                               if c != "VIL002" and not c.startswith("VIL01")]),
    # At equal specificity ignore wins.
    (("VIL002",), (), ("VIL002",), []),
    (("VIL00",), (), ("VIL00",), []),
    (("VIL002",), (), ("floating-tag",), []),
    (("floating-tag",), (), ("VIL002",), []),
    (("vil002",), (), ("floating-tag",), []),
    ((), ("VIL002",), ("VIL002",), []),
    # A name is as specific as a code.
    (("floating-tag",), (), ("VIL00",), ["VIL002"]),
])
def test_select_rules(select: Optional[tuple[str, ...]], extend: tuple[str, ...],
                      ignore: tuple[str, ...], expected: list[str]) -> None:
    assert chosen(select, extend, ignore) == expected


def test_selected_rules_are_instances_in_code_order() -> None:
    rules = select_rules(("VIL012", "VIL001", "VIL010"), (), ()).rules
    assert [rule.code for rule in rules] == ["VIL001", "VIL010", "VIL012"]
    assert all(isinstance(rule, all_rules()[rule.code]) for rule in rules)


@pytest.mark.parametrize("selector", ["VIL999", "VIL2", "vil0x", "floating", "ALLX", "", "X"])
def test_unknown_selectors(selector: str) -> None:
    with pytest.raises(UnknownRuleError) as caught:
        match_selector(selector)
    assert str(caught.value) == f"unknown rule selector {selector!r}"


def test_match_selector() -> None:
    assert match_selector("VIL01") == prefixed("VIL01")
    assert match_selector(" missing-image ") == ["VIL005"]
    assert match_selector("Vil021") == ["VIL021"]
    assert match_selector("all") == EVERY


@pytest.mark.parametrize(("selector", "code"), [
    ("VIL002", "VIL002"), ("vil002", "VIL002"), (" VIL002 ", "VIL002"),
    ("floating-tag", "VIL002"), (" heavy-variant ", "VIL021"),
])
def test_find_rule(selector: str, code: str) -> None:
    assert find_rule(selector).code == code


@pytest.mark.parametrize("selector", ["VIL0", "VIL999", "Floating-Tag", "ALL", ""])
def test_find_rule_wants_one_rule(selector: str) -> None:
    with pytest.raises(UnknownRuleError) as caught:
        find_rule(selector)
    assert str(caught.value) == f"unknown rule {selector!r}"


# --- Quoting a new image like the old one ---------------------------------------------------

def scalar(text: str) -> Scalar:
    root = parse(text).root
    assert isinstance(root, Sequence)
    node = root.items[0]
    assert isinstance(node, Scalar)
    return node


@pytest.mark.parametrize(("written", "value", "expected"), [
    ("- python:3\n", "docker.io/library/python:3", "docker.io/library/python:3"),
    ("- 'python:3'\n", "docker.io/python:3", "'docker.io/python:3'"),
    ("- 'python:3'\n", "it's", "'it''s'"),
    ('- "python:3"\n', "docker.io/python:3", '"docker.io/python:3"'),
    ('- "python:3"\n', 'a"b\\c', '"a\\"b\\\\c"'),
    # Plain text that would not read back as the same string gets single quotes.
    ("- python:3\n", "3.10", "'3.10'"),
    ("- python:3\n", "yes", "'yes'"),
    ("- python:3\n", "a #b", "'a #b'"),
    ("- python:3\n", "[x]", "'[x]'"),
    ("- python:3\n", "", "''"),
    ("- python:3\n", "a'b: c", "'a''b: c'"),
    # What single quotes cannot hold is double-quoted.
    ("- python:3\n", "a\nb", '"a\\nb"'),
    ("- 'python:3'\n", "tab\there", '"tab\\there"'),
    ("- python:3\n", "bell\x07", '"bell\\a"'),
    ("- python:3\n", "\x01", '"\\x01"'),
    ('- "x"\n', "\x00\x08\x0b\x0c\r\x1b\x85\xa0\u2028\u2029", '"\\0\\b\\v\\f\\r\\e\\N\\_\\L\\P"'),
    ('- "x"\n', "\ufeff\ufffe", '"\\ufeff\\ufffe"'),
    ('- "x"\n', "\x7f\x9f", '"\\x7f\\x9f"'),
    ('- "x"\n', "\uffff", '"\\uffff"'),
    # A no-break space is printable: single quotes hold it as it is.
    ("- 'x'\n", "a\xa0b", "'a\xa0b'"),
    ("- 'x'\n", "a\x9fb", '"a\\x9fb"'),
    ('- "x"\n', "caf\u00e9 \U0001f433", '"caf\u00e9 \U0001f433"'),
    ('- "x"\n', "\ud800", '"\\ud800"'),
    # Block scalars are left alone.
    ("- |\n  python:3\n", "python:4", None),
    ("- >\n  python:3\n", "python:4", None),
])
def test_quote_like(written: str, value: str, expected: Optional[str]) -> None:
    assert quote_like(scalar(written), value) == expected


# --- Where a node's own text ends -------------------------------------------------------

def item_value(text: str, key: str = "image") -> tuple[str, int]:
    root = parse(text).root
    assert isinstance(root, Sequence)
    step = root.items[0]
    assert isinstance(step, Mapping)
    inner = step.pairs[0][1]
    assert isinstance(inner, Mapping)
    for k, v in inner.pairs:
        if isinstance(k, Scalar) and k.value == key:
            return text[v.start:written_end(text, v)], written_end(text, v)
    raise AssertionError(key)


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("- step:\n    image: |\n      python:3\n\n\n    name: a\n", "image", "|\n      python:3"),
    ("- step:\n    image: >\n      python:3\n    name: a\n", "image", ">\n      python:3"),
    ("- step:\n    image: >\r\n      python:3\r\n    name: a\r\n", "image", ">\r\n      python:3"),
    ("- step:\n    image: python:3  \n    name: a\n", "image", "python:3"),
    ("- step:\n    nodes:\n      - a\n      - b\n\n    name: a\n", "nodes",
     "- a\n      - b"),
    # Whole-line comments after a block collection are not part of it.
    ("- step:\n    nodes:\n      - a\n    # about name\n  # more\n    name: a\n", "nodes",
     "- a"),
    ("- step:\n    o:\n      k: v\n      # c\n    name: a\n", "o", "k: v"),
    # The same with CRLF line ends, and a CR-only file.
    ("- step:\r\n    nodes:\r\n      - a\r\n    # about name\r\n    name: a\r\n", "nodes",
     "- a"),
    ("- step:\r    nodes:\r      - a\r    # about name\r    name: a\r", "nodes", "- a"),
    # A comment on the collection's own last line stays (it is after the value on that line).
    ("- step:\n    nodes:\n      - a # mine\n    name: a\n", "nodes", "- a # mine"),
    # Flow collections end at their bracket.
    ("- step:\n    nodes: [a, b]   \n    name: a\n", "nodes", "[a, b]"),
])
def test_written_end(text: str, key: str, expected: str) -> None:
    assert item_value(text, key)[0] == expected


def test_written_end_of_a_collection_that_is_only_comments_after_its_start() -> None:
    text = "- step:\n    nodes:\n      - a\n# c\n"
    assert item_value(text, "nodes")[0] == "- a"


# --- Messages ---------------------------------------------------------------------------

def test_shown() -> None:
    assert shown(None) == "None"
    assert shown("python:3") == "'python:3'"
    assert shown("a" * 50) == repr("a" * 50)
    long = "".join(chr(ord("a") + i % 26) for i in range(60))
    assert shown(long) == repr(long[:24] + "\u2026" + long[-25:])
    assert len(shown(long)) == 52
    assert shown("abcdefghij", limit=5) == repr("ab\u2026ij")
    assert shown("abcdefghij", limit=6) == repr("ab\u2026hij")
    assert shown("abcdefghij", limit=10) == repr("abcdefghij")


def test_a_report_through_an_alias_names_its_site_once() -> None:
    text = ("- step:\n    name: a\n    image: &base python\n"
            "- step:\n    name: b\n    image: *base\n")
    found = lint_source(SourceFile("valohai.yaml", text), Config(), select_rules(("VIL001",),
                                                                                 (), ()))
    assert [d.message for d in found] == [
        "image 'python' has no tag or digest",
        "image 'python' has no tag or digest (in step 'b', through an alias)",
    ]
    # Both point at the anchored scalar: the text that really holds the image.
    start = text.index("python")
    assert {(d.span.start.offset, d.span.end.offset) for d in found} == {(start, start + 6)}
    assert [d.yaml_path for d in found] == ["[0].step.image", "[1].step.image"]
    assert all(d.image == "python" and d.help for d in found)


def test_a_report_without_an_image_points_at_the_item_key() -> None:
    text = "- step:\n    name: a\n    command: x\n"
    (found,) = lint_source(SourceFile("valohai.yaml", text), Config(),
                           select_rules(("VIL005",), (), ()))
    assert (found.span.start.offset, found.span.end.offset) == (2, 6)
    assert found.image is None and found.fix is None


@pytest.mark.parametrize(("value", "plain"), [
    ("python:3.11", True),
    ("docker.io/library/python:3.11@sha256:" + "a" * 64, True),
    ("1:20", False),          # a sexagesimal int in YAML 1.1
    ("3.10", False),
    ("true", False),
    ("null", False),
    ("~", False),
    ("- x", False),
    ("a: b", False),
    ("a #b", False),
    ("a,b", False),           # splits a flow sequence
    ("[x]", False),
    ("{x}", False),
    ("'x'", False),
    ("x'", True),
    ("", False),
    (" x", False),
    ("x ", False),
    ("a\tb", False),         # PyYAML's own scanner refuses a tab there
    ("line\nbreak", False),
    ("nul\x00", False),
    ("\u2028", False),
    ("*alias", False),
    ("&anchor x", False),
    ("!tag x", False),
    ("%x", False),
    ("@x", False),
    ("caf\u00e9", True),
])
def test_a_plain_value_must_read_back_in_block_and_flow(value: str, plain: bool) -> None:
    from valohai_image_lint.rules import _reads_back_plain

    assert _reads_back_plain(value) is plain
    expected = value if plain else None
    written = quote_like(scalar("- python:3\n"), value)
    assert (written == value) is plain
    if expected is None:
        assert written is not None and written[0] in "'\""


def test_replace_image_keeps_quoting_and_leaves_block_scalars_alone() -> None:
    from valohai_image_lint.diagnostic import Applicability
    from valohai_image_lint.model import find_image_sites
    from valohai_image_lint.rules import CheckedSite, RuleContext

    text = ("- step:\n    name: a\n    image: 'myorg/app:1'\n"
            "- step:\n    name: b\n    image: |\n      myorg/app:1\n"
            "- step:\n    name: c\n    image: [x]\n")
    source = SourceFile("valohai.yaml", text)
    ctx = RuleContext(source, Config())
    quoted, block, listed = (CheckedSite(site, None, None, None)
                             for site in find_image_sites(parse(text).root))
    fix = ctx.replace_image(quoted, "docker.io/myorg/app:1", "Write it", Applicability.SAFE)
    assert fix is not None
    assert (fix.title, fix.applicability) == ("Write it", Applicability.SAFE)
    (only,) = fix.edits
    start = text.index("'myorg/app:1'")
    assert (only.span.start.offset, only.span.end.offset, only.content) == (
        start, start + len("'myorg/app:1'"), "'docker.io/myorg/app:1'")
    assert ctx.replace_image(block, "x:1", "t", Applicability.SAFE) is None
    assert ctx.replace_image(listed, "x:1", "t", Applicability.SAFE) is None


def test_rule_set_codes_and_documentation() -> None:
    rules = select_rules(("VIL001", "VIL002"), (), ())
    assert rules.codes == frozenset({"VIL001", "VIL002"})
    doc = find_rule("VIL001").documentation()
    assert doc.startswith("VIL001") or doc.splitlines()[0].strip()
    assert doc == doc.strip()


def test_all_rules_imports_every_rule_module_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a fresh start: no rule module imported yet, an empty registry."""
    import sys

    import valohai_image_lint.rules as rules

    monkeypatch.setattr(rules, "_ALL_IMPORTED", False)
    monkeypatch.setattr(rules.Rule, "registry", {})
    before = set(sys.modules)
    for name in [n for n in sys.modules if n.startswith("valohai_image_lint.rules.vil")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        found = rules.all_rules()
        assert list(found) == EVERY
        assert all(cls.code == code
                   and cls.__module__.startswith("valohai_image_lint.rules.vil")
                   for code, cls in found.items())
        assert rules._ALL_IMPORTED
        # A second call imports nothing again (a second import would register duplicates).
        assert rules.all_rules() == found
    finally:
        # A module first imported here registered its rule only in this test's registry:
        # left in sys.modules, a later test's rule_class would find it but not its rule.
        for name in set(sys.modules) - before:
            if name.startswith("valohai_image_lint.rules.vil"):
                del sys.modules[name]


def test_a_rule_module_without_docstring_documents_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from valohai_image_lint.rules import Rule

    monkeypatch.setattr(Rule, "registry", dict(Rule.registry))
    module = types.ModuleType("vil_test_undocumented")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    undocumented = type("Undocumented", (Rule,), {"code": "VIL998", "name": "undocumented",
                                                  "__module__": module.__name__})
    assert Rule.registry["VIL998"] is undocumented
    assert undocumented.documentation() == ""
    with pytest.raises(RuntimeError, match=r"^duplicate rule code VIL998$"):
        type("Again", (Rule,), {"code": "VIL998", "name": "again",
                                "__module__": module.__name__})


@pytest.mark.parametrize(("code", "printable"), [
    (0x09, False), (0x1F, False), (0x20, True), (0x7E, True), (0x7F, False), (0x84, False),
    (0x85, True), (0x86, False), (0x9F, False), (0xA0, True), (0xA1, True), (0xD7FF, True),
    (0xD800, False), (0xDFFF, False), (0xE000, True), (0xE001, True), (0xFEFF, False),
    (0xFFFC, True), (0xFFFD, True), (0xFFFE, False), (0xFFFF, False), (0x10000, True),
    (0x10001, True), (0x10FFFE, True), (0x10FFFF, True),
])
def test_yaml_printable_boundaries(code: int, printable: bool) -> None:
    """YAML 1.1's printable set (the spec's c-printable, as libyaml emits it)."""
    from valohai_image_lint.rules import _yaml_printable

    assert _yaml_printable(chr(code)) is printable
