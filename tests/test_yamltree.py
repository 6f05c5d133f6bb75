"""The YAML node tree: spans exactly as written, anchors, aliases, merge keys, odd documents."""

from __future__ import annotations

import sys
import time
from typing import Optional

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from valohai_image_lint.model import SITE_KEYS
from valohai_image_lint.yamltree import (
    MAX_DEPTH,
    Alias,
    AnyNode,
    Mapping,
    Scalar,
    Sequence,
    YamlError,
    mapping_get,
    parse,
    resolve,
    scalar_type,
)
from yaml_reference import spec_load


def root_of(text: str) -> AnyNode:
    document = parse(text)
    assert document.root is not None
    return document.root


def first_item(text: str) -> AnyNode:
    root = root_of(text)
    assert isinstance(root, Sequence)
    return root.items[0]


def get(node: Optional[AnyNode], *keys: str) -> Optional[AnyNode]:
    """Walk mapping keys (with merges), following aliases."""
    for key in keys:
        mapping = resolve(node)
        assert isinstance(mapping, Mapping), key
        node = mapping_get(mapping, key)[1]
    return node


def value_of(node: Optional[AnyNode]) -> Optional[str]:
    resolved = resolve(node)
    if resolved is None:
        return None
    assert isinstance(resolved, Scalar)
    return resolved.value


# --- spans -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value", "style"),
    [
        ("python:3.11", "python:3.11", None),
        ("'python:3.11'", "python:3.11", "'"),
        ('"python:3.11"', "python:3.11", '"'),
        ("'it''s'", "it's", "'"),
        ('"a\\"b\\u00e9"', 'a"bé', '"'),
        ("'😀 x'", "😀 x", "'"),
        ('"é:😀"', "é:😀", '"'),
        ("&img python", "python", None),
        ("&img 'python'", "python", "'"),
        ("!!str 3.9", "3.9", None),
        ("&a !!str 'x'", "x", "'"),
        ("!custom python", "python", None),
    ],
)
def test_scalar_span_is_the_value_as_written(
    written: str, value: str, style: Optional[str]
) -> None:
    for text in (
        f"- step:\n    image: {written}\n",
        f"- step: {{image: {written}, name: x}}\n",
        f"- step:\r\n    image: {written}   # comment\r\n",
    ):
        image = get(first_item(text), "step", "image")
        assert isinstance(image, Scalar)
        assert image.value == value
        assert (image.style or None) == style
        # The span covers the value with its quotes, not the anchor or tag before it.
        shown = written.split(" ", 1)[1] if written[0] in "&!" else written
        if written.startswith("&a !!str"):
            shown = "'x'"
        assert text[image.start : image.end] == shown


def test_plain_multiline_scalar_span() -> None:
    text = "- step:\n    image: python\n      :3.11\n    name: x\n"
    image = get(first_item(text), "step", "image")
    assert isinstance(image, Scalar)
    assert image.value == "python :3.11"
    assert text[image.start : image.end] == "python\n      :3.11"


def test_block_scalar_styles() -> None:
    text = "- step:\n    image: |\n      python\n    name: >\n      x\n"
    step = get(first_item(text), "step")
    image = get(step, "image")
    name = get(step, "name")
    assert isinstance(image, Scalar) and isinstance(name, Scalar)
    assert (image.style, image.value) == ("|", "python\n")
    assert (name.style, name.value) == (">", "x\n")
    assert not image.plain


def test_collection_spans_and_flow_flags() -> None:
    text = "- step: {name: a, tags: [x, y]}\n- step:\n    name: b\n"
    root = root_of(text)
    assert isinstance(root, Sequence) and not root.flow
    first = get(root.items[0], "step")
    assert isinstance(first, Mapping) and first.flow
    assert text[first.start : first.end] == "{name: a, tags: [x, y]}"
    tags = get(first, "tags")
    assert isinstance(tags, Sequence) and tags.flow
    assert text[tags.start : tags.end] == "[x, y]"
    second = get(root.items[1], "step")
    assert isinstance(second, Mapping) and not second.flow


def test_anchored_collection_span_starts_at_its_content() -> None:
    text = "- defs: &d\n    image: x\n- step: &s {name: a}\n"
    root = root_of(text)
    assert isinstance(root, Sequence)
    defs = get(root.items[0], "defs")
    step = get(root.items[1], "step")
    assert isinstance(defs, Mapping) and isinstance(step, Mapping)
    assert text[defs.start :].startswith("image: x")
    assert text[step.start : step.end] == "{name: a}"
    assert (defs.anchor, step.anchor) == ("d", "s")


def test_positions_are_code_points_with_astral_characters() -> None:
    text = "- step: {name: '😀😀🐳', image: 'é'}\n"
    image = get(first_item(text), "step", "image")
    assert isinstance(image, Scalar)
    assert text[image.start : image.end] == "'é'"
    assert image.start == 29


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"])
def test_spans_with_every_line_break(newline: str) -> None:
    text = newline.join(["- step:", "    name: 😀", "    image: 'py'", ""])
    image = get(first_item(text), "step", "image")
    assert isinstance(image, Scalar)
    assert text[image.start : image.end] == "'py'"


# --- documents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# only a comment\n# and another\n", "---\n", "--- # c\n...\n"]
)
def test_empty_and_comment_only_files(text: str) -> None:
    document = parse(text)
    if document.root is not None:  # "---" alone is one document holding null
        assert isinstance(document.root, Scalar) and document.root.value == ""
    assert document.document_count <= 1


def test_several_documents() -> None:
    text = "- step: {name: a}\n---\n- step: {name: b}\n--- \nfoo\n"
    document = parse(text)
    assert document.document_count == 3
    assert document.second_document_offset == text.index("---")
    # Only the first document is built.
    root = document.root
    assert isinstance(root, Sequence) and len(root.items) == 1
    assert value_of(get(root.items[0], "step", "name")) == "a"


def test_explicit_single_document() -> None:
    document = parse("---\n- step: {name: a}\n...\n")
    assert document.document_count == 1
    assert isinstance(document.root, Sequence)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("step:\n  image: x\n", Mapping), ("hello\n", Scalar), ("{a: 1}", Mapping)],
)
def test_top_level_not_a_list_still_parses(text: str, kind: type) -> None:
    assert isinstance(root_of(text), kind)


# --- errors ------------------------------------------------------------------------------


def test_undefined_alias_is_an_error_at_the_alias() -> None:
    text = "- step:\n    image: *nope\n"
    with pytest.raises(YamlError, match="undefined alias 'nope'") as info:
        parse(text)
    assert info.value.offset == text.index("*nope")


def test_alias_to_an_anchor_defined_later_is_undefined() -> None:
    with pytest.raises(YamlError, match="undefined alias"):
        parse("- a: *x\n- b: &x 1\n")


def test_syntax_error_offset() -> None:
    text = "- step:\n    name: x\n    image: python:3.11\n   bad: 1\n"
    with pytest.raises(YamlError) as info:
        parse(text)
    assert info.value.offset == text.index("bad")
    assert info.value.message


def test_unclosed_quote() -> None:
    text = "- step:\n    image: 'python\n"
    with pytest.raises(YamlError, match=r"end of stream|quoted scalar"):
        parse(text)


@pytest.mark.parametrize("bad", ["\x01", "\x07", "\ufffe", "\x1b"])
def test_reader_error_offset_counts_code_points(bad: str) -> None:
    text = f"- step: {{name: ééé😀, x: a{bad}}}\n"
    with pytest.raises(YamlError, match="unacceptable character") as info:
        parse(text)
    assert info.value.offset == text.index(bad)


# --- anchors, aliases, merge keys --------------------------------------------------------


def test_alias_keeps_its_target_and_is_not_expanded() -> None:
    text = "- defs: &d {image: x}\n- step: *d\n- step: *d\n"
    root = root_of(text)
    assert isinstance(root, Sequence)
    anchored = get(root.items[0], "defs")
    second = resolve(root.items[1])
    assert isinstance(second, Mapping)
    raw = second.pairs[0][1]
    assert isinstance(raw, Alias)
    assert raw.target is anchored
    assert text[raw.start : raw.end] == "*d"
    assert resolve(raw) is anchored
    assert resolve(None) is None


def test_recursive_alias_does_not_hang() -> None:
    text = "- step: &s\n    name: x\n    self: *s\n    list: &l [*l, *s]\n"
    step = get(first_item(text), "step")
    assert isinstance(step, Mapping)
    assert resolve(get(step, "self")) is step
    listed = get(step, "list")
    assert isinstance(listed, Sequence)
    assert resolve(listed.items[0]) is listed
    assert get(step, "image") is None


def test_merge_cycle_does_not_hang() -> None:
    text = "- a: &a\n    b: &b\n      <<: *a\n    <<: *b\n    name: x\n"
    a = get(first_item(text), "a")
    assert isinstance(a, Mapping)
    assert value_of(get(a, "name")) == "x"
    assert get(a, "image") is None
    assert mapping_get(a, "image") == (None, None)


def test_merge_key_returns_the_written_key_and_value() -> None:
    text = "- base: &b {image: 'x'}\n- step: {<<: *b, name: s}\n"
    root = root_of(text)
    assert isinstance(root, Sequence)
    step = get(root.items[1], "step")
    assert isinstance(step, Mapping)
    key, value = mapping_get(step, "image")
    assert isinstance(key, Scalar) and isinstance(value, Scalar)
    assert text[key.start : key.end] == "image"
    assert text[value.start : value.end] == "'x'"
    assert key.start < text.index("- step")  # it lives in the anchored mapping


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    text = "- base: &b {image: x}\n- step: {'<<': *b}\n"
    root = root_of(text)
    assert isinstance(root, Sequence)
    assert get(root.items[1], "step", "image") is None


# Each case: YAML whose "c" mapping we look "image" up in; the answer of PyYAML with the spec's
# merge order (PyYAML <= 6.0.3; tests/yaml_reference.py) is the oracle.
MERGE_CASES = [
    "a: &a {image: A, x: 1}\nb: &b {image: B, y: 2}\nc: {<<: [*a, *b]}\n",
    "a: &a {x: 1}\nb: &b {image: B}\nc: {<<: [*a, *b]}\n",
    "a: &a {image: A}\nc: {<<: *a, image: C}\n",
    "a: &a {image: A}\nc: {image: C, <<: *a}\n",
    "d: &d {image: D}\na: &a {<<: *d}\nb: &b {image: B}\nc: {<<: [*a, *b]}\n",
    "d: &d {image: D}\na: &a {<<: *d}\nb: &b {image: B, <<: *d}\nc: {<<: [*b, *a]}\n",
    "a: &a {image: A}\nb: &b {<<: *a}\nc: {<<: [*b, *b, *a]}\n",
    "a: &a {image: A}\nb: &b {image: B}\nc:\n  <<: *a\n  <<: *b\n",
    "c: {<<: {image: inline}}\n",
    "c: {<<: [{x: 1}, {image: second}]}\n",
    "a: &a [1, 2]\nc: {<<: {image: x}, other: *a}\n",
    "c: {image: first, image: second}\n",
    "a: &a {image: A}\nc:\n  image: C\n  <<: *a\n  image: C2\n",
]


@pytest.mark.parametrize("text", MERGE_CASES)
def test_merge_precedence_matches_pyyaml(text: str) -> None:
    expected = spec_load(text)["c"].get("image")
    c = get(root_of(text), "c")
    assert value_of(get(c, "image")) == expected


@pytest.mark.skipif(
    tuple(int(part) for part in yaml.__version__.split(".")[:3]) > (6, 0, 3),
    reason="the reference is PyYAML 6.0.3's merge order; newer PyYAML regressed it",
)
@pytest.mark.parametrize("text", MERGE_CASES)
def test_reference_merge_order_is_pyyaml_6_0_3(text: str) -> None:
    # CI also runs the suite on PyYAML 6.0.3: there the reference must be plain safe_load.
    assert spec_load(text) == yaml.safe_load(text)
    assert spec_load(text) == yaml.load(text, Loader=yaml.CSafeLoader)


def test_keep_keys_still_builds_merges() -> None:
    text = (
        "- defs:\n    a: &a {image: A}\n    b: &b {image: B}\n"
        "- step:\n    name: s\n    <<: [*a, *b]\n    command: [x, y]\n"
        "- pipeline:\n    nodes:\n      - name: n\n        override:\n          <<: [*b]\n"
    )
    root = parse(text, keep_keys=SITE_KEYS).root
    assert isinstance(root, Sequence)
    assert value_of(get(root.items[1], "step", "image")) == "A"
    nodes = get(root.items[2], "pipeline", "nodes")
    assert isinstance(nodes, Sequence)
    assert value_of(get(nodes.items[0], "override", "image")) == "B"


@st.composite
def merge_documents(draw: st.DrawFn) -> str:
    """Anchored mappings that merge earlier ones in any order, then a target that merges them."""
    count = draw(st.integers(1, 6))
    lines = []
    for i in range(count):
        fields = []
        if draw(st.booleans()):
            fields.append(f"image: img{i}")
        earlier = draw(st.lists(st.integers(0, i - 1), max_size=3)) if i else []
        merge = _merge_text(earlier)
        order = [*fields, merge] if draw(st.booleans()) else [merge, *fields]
        lines.append(f"m{i}: &m{i} {{{', '.join(p for p in order if p) or 'x: 0'}}}")
    sources = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=4))
    own = ["image: own"] if draw(st.booleans()) else []
    lines.append(f"target: {{{', '.join([_merge_text(sources), *own])}}}")
    return "\n".join(lines) + "\n"


def _merge_text(indexes: list[int]) -> str:
    if not indexes:
        return ""
    if len(indexes) == 1:
        return f"<<: *m{indexes[0]}"
    return "<<: [" + ", ".join(f"*m{i}" for i in indexes) + "]"


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(merge_documents())
def test_merge_lookup_agrees_with_pyyaml(text: str) -> None:
    expected = spec_load(text)["target"].get("image")
    target = get(root_of(text), "target")
    assert value_of(get(target, "image")) == expected
    # Asking again (answers are cached on the mappings) gives the same.
    assert value_of(get(target, "image")) == expected


def test_long_merge_chain_shared_by_many_items_is_linear() -> None:
    depth, users = 3000, 3000
    lines = ["- defs:", "    m0: &m0 {image: deep}"]
    lines += [f"    m{i}: &m{i} {{<<: *m{i - 1}}}" for i in range(1, depth)]
    lines += [f"- step: {{name: s{j}, <<: *m{depth - 1}}}" for j in range(users)]
    root = root_of("\n".join(lines) + "\n")
    assert isinstance(root, Sequence)
    for item in root.items[1:]:
        assert value_of(get(item, "step", "image")) == "deep"
        assert get(item, "step", "missing") is None


# --- deep nesting ------------------------------------------------------------------------

# The root sequence and the item's mapping are two levels; the rest is the nested value.
_INNER = MAX_DEPTH - 2


@pytest.mark.parametrize(
    "text",
    [
        "- step: " + "[" * _INNER + "]" * _INNER + "\n",
        "- step: " + "{a: " * _INNER + "1" + "}" * _INNER + "\n",
        "- step:\n    " + "- " * _INNER + "deep\n",
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_nesting_up_to_the_limit_is_built_without_recursion(text: str) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the depth: any recursion would fail
    try:
        root = root_of(text)
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(root, Sequence)
    node: Optional[AnyNode] = get(root.items[0], "step")
    depth = 2
    while isinstance(node, (Sequence, Mapping)):
        depth += 1
        if isinstance(node, Sequence):
            node = node.items[0] if node.items else None
        else:
            node = node.pairs[0][1] if node.pairs else None
    assert depth == MAX_DEPTH


@pytest.mark.parametrize(
    ("text", "opening"),
    [
        ("- step: " + "[" * 20_000 + "]" * 20_000 + "\n", "["),
        ("- step: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", "{"),
        ("- step:\n    x:\n      " + "- " * 20_000 + "deep\n", "-"),
        ("[" * 1_000_000, "["),
        ("- a\n---\n" + "[" * 20_000, "["),  # in a later document too
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences", "megabyte", "second-document"],
)
def test_deeper_nesting_is_an_error_found_quickly(text: str, opening: str) -> None:
    started = time.perf_counter()
    with pytest.raises(YamlError, match=f"nest more than {MAX_DEPTH} levels") as info:
        parse(text)
    assert time.perf_counter() - started < 1.0
    assert text[info.value.offset] == opening


# --- scalar types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("python:3.11", "str"),
        ("3.9", "float"),
        ("3", "int"),
        ("0x1F", "int"),
        ("true", "bool"),
        ("yes", "bool"),
        ("~", "null"),
        ("null", "null"),
        ("", "null"),
        ("'3.9'", "str"),
        ('"true"', "str"),
        ("!!str 3.9", "str"),
        ("! 3.9", "float"),  # PyYAML resolves the bare "!" tag like a plain scalar
        ("! '3.9'", "float"),
        ("2024-01-01", "timestamp"),
        ("|\n      3.9", "str"),
    ],
)
def test_scalar_type(written: str, kind: str) -> None:
    text = f"- image: {written}\n  name: x\n"
    image = get(first_item(text), "image")
    assert isinstance(image, Scalar)
    assert scalar_type(image) == kind
    assert kind == _pyyaml_kind(text)


def _pyyaml_kind(text: str) -> str:
    value = yaml.safe_load(text)[0]["image"]
    if value is None:
        return "null"
    names = {str: "str", int: "int", float: "float", bool: "bool"}
    return names.get(type(value), "timestamp")
