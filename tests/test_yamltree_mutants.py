"""The YAML tree's corners that mutation testing found unpinned, with exact values.

Pins: the span of a node whose ``&anchor``/``!tag`` has no content after it (start == end),
the span after a comment between the properties and the content (ended by any YAML line
break), the offset of a syntax error that libyaml reports without a context, the type name
of a scalar with a tag outside ``tag:yaml.org,2002:``, and PyYAML 6.0.4's merge order as
``mapping_get_last_source_wins`` models it (a source named twice, chains of merges, a later
source that repeats an earlier one, keys written as aliases; each checked against PyYAML
itself when it is 6.0.4). Also: the tag and anchor of collections, anchored nodes of later
documents (registered, not built), the Document's fields (anchored nodes, the first duplicate
anchor, the first collection key), which keys read as a string, two ``<<`` keys, pruning with
``keep_keys`` (an alias value too), the collector state left as found, the depth count after
closed levels, and the error when PyYAML 6.0.4's libyaml limit comes before ours.
"""

from __future__ import annotations

import gc
from typing import Optional

import pytest
import yaml

from valohai_image_lint.yamltree import (
    MAX_DEPTH,
    Alias,
    AnyNode,
    Document,
    Mapping,
    Scalar,
    Sequence,
    YamlError,
    key_is,
    mapping_get,
    mapping_get_last_source_wins,
    parse,
    resolve,
    scalar_type,
)
from yaml_reference import spec_load

_PYYAML_604 = tuple(int(part) for part in yaml.__version__.split(".")[:3]) == (6, 0, 4)


def pair_values(text: str) -> list[tuple[str, str, int, int]]:
    """Each top-level pair as (key text, value text as its span shows it, start, end)."""
    root = parse(text).root
    assert isinstance(root, Mapping)
    found = []
    for key, value in root.pairs:
        assert isinstance(key, Scalar)
        found.append((key.value, text[value.start : value.end], value.start, value.end))
    return found


# --- spans after properties ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An anchor or tag with nothing after it: an empty scalar, its span empty, at its end.
        ("a: &x\nb: 1\n", [("a", "", 5, 5), ("b", "1", 9, 10)]),
        ("a: !t\nb: 1\n", [("a", "", 5, 5), ("b", "1", 9, 10)]),
        ("{a: &x, b: 1}", [("a", "", 6, 6), ("b", "1", 11, 12)]),
        ("{a: &x}", [("a", "", 6, 6)]),
    ],
)
def test_properties_without_content_give_an_empty_span_at_their_end(
    text: str, expected: list[tuple[str, str, int, int]]
) -> None:
    assert pair_values(text) == expected


def test_a_lone_anchor_at_the_end_of_the_text() -> None:
    root = parse("&x").root
    assert isinstance(root, Scalar)
    assert (root.value, root.anchor, root.start, root.end) == ("", "x", 2, 2)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"])
def test_a_comment_after_the_properties_is_not_part_of_the_span(newline: str) -> None:
    # The comment holds an X: the scan must skip it to the line break, whatever is in it.
    text = newline.join(
        ["a: &x # eXtra, c", "  v", "b: &y !!map # X", "  k: 1", "c: !!str # X", "  w", ""]
    )
    found = pair_values(text)
    assert [(key, shown) for key, shown, _, _ in found] == [
        ("a", "v"),
        ("b", "k: 1" + newline),
        ("c", "w"),
    ]
    start_of_v = text.index("v", text.index("#"))
    assert found[0][2:] == (start_of_v, start_of_v + 1)
    root = parse(text).root
    assert isinstance(root, Mapping)
    b = root.pairs[1][1]
    assert isinstance(b, Mapping) and b.anchor == "y" and b.tag == "tag:yaml.org,2002:map"
    assert b.start == text.index("k: 1")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"), [("a: b: c\n", "b: c"), ("a: b\n c: d\n", ": d")]
)
def test_an_error_without_context_points_at_its_problem(text: str, where: str) -> None:
    with pytest.raises(YamlError) as info:
        parse(text)
    assert info.value.message == "mapping values are not allowed in this context"
    assert info.value.offset == text.index(where) + where.index(":")


# --- scalar types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("!<tag:example.com,2000:app/foo> x", "tag:example.com,2000:app/foo"),
        ("!local:thing x", "!local:thing"),
        ("!custom x", "!custom"),
        ("!!int 3", "int"),
        ("!<tag:yaml.org,2002:float> 3", "float"),
    ],
)
def test_scalar_type_of_tagged_scalars(written: str, kind: str) -> None:
    text = f"image: {written}\n"
    root = parse(text).root
    assert isinstance(root, Mapping)
    image = root.pairs[0][1]
    assert isinstance(image, Scalar)
    assert scalar_type(image) == kind


# --- PyYAML 6.0.4's merge order ------------------------------------------------------------------


def lookup_604(text: str, key: str = "image") -> tuple[Optional[AnyNode], Optional[AnyNode]]:
    root = parse(text).root
    assert isinstance(root, Mapping)
    c = resolve(root.pairs[-1][1])
    assert isinstance(c, Mapping)
    return mapping_get_last_source_wins(c, key, {})


def at(text: str, node: Optional[AnyNode]) -> Optional[tuple[int, str]]:
    """(line, text) of a node as written, or None."""
    if node is None:
        return None
    return text.count("\n", 0, node.start) + 1, text[node.start : node.end]


# (YAML whose last pair "c" is looked up for "image", the key and value that PyYAML 6.0.4 reads)
CASES_604 = {
    "a source named twice": (
        "d: &d {image: D}\nc: {<<: [*d, *d]}\n", (1, "image"), (1, "D")
    ),
    "a source named twice after one that merges it": (
        "d: &d {image: D}\na: &a {<<: *d}\nc: {<<: [*a, *d]}\n", (1, "image"), (1, "D")
    ),
    "a chain of two merges": (
        "d: &d {image: D}\na: &a {<<: *d}\nc: {<<: *a}\n", (1, "image"), (1, "D")
    ),
    "a chain of three merges": (
        "d: &d {image: D}\na: &a {<<: *d}\nb: &b {<<: *a, x: 1}\nc: {<<: [*b]}\n",
        (1, "image"),
        (1, "D"),
    ),
    "a repeated source does not come back after a later one": (
        "a: &a {image: A}\nb: &b {image: B}\nc: {<<: [*a, *b, *a]}\n", (2, "image"), (2, "B")
    ),
    "the same key reached through two chains": (
        "d: &d {image: D}\na: &a {<<: *d}\nb: &b {image: B}\nc: {<<: [*a, *b, *d]}\n",
        (3, "image"),
        (3, "B"),
    ),
    "a key written as an alias is its anchored node": (
        "k: &k image\na: &a {*k : A}\nb: &b {*k : B}\nc: {<<: [*a, *b]}\n",
        (2, "*k"),
        (2, "A"),
    ),
    "an anchored key and its alias": (
        "a: &a {&k image : A}\nb: &b {*k : B}\nc: {<<: [*a, *b]}\n", (1, "image"), (1, "A")
    ),
    "a mapping that merges itself": (
        "c: &c {<<: *c, image: C}\n", (1, "image"), (1, "C")
    ),
}


@pytest.mark.parametrize("case", list(CASES_604))
def test_pyyaml_604_merge_order(case: str) -> None:
    text, key, value = CASES_604[case]
    found_key, found_value = lookup_604(text)
    assert (at(text, found_key), at(text, resolve(found_value))) == (key, value)


@pytest.mark.skipif(not _PYYAML_604, reason="checks the model against PyYAML 6.0.4 itself")
@pytest.mark.parametrize("case", [c for c in CASES_604 if "itself" not in c])
def test_pyyaml_604_merge_order_is_what_pyyaml_604_reads(case: str) -> None:
    text, _, value = CASES_604[case]
    assert yaml.safe_load(text)["c"]["image"] == value[1]
    assert yaml.load(text, Loader=yaml.CSafeLoader)["c"]["image"] == value[1]


def test_pyyaml_604_lookup_of_an_absent_key_through_a_chain() -> None:
    text = "d: &d {image: D}\na: &a {<<: *d}\nc: {<<: [*a, *d]}\n"
    assert lookup_604(text, "name") == (None, None)


def test_pyyaml_604_memo_is_filled_for_every_mapping_on_the_chain() -> None:
    text = "d: &d {image: D}\na: &a {<<: *d}\nc: {<<: [*a, *d]}\n"
    root = parse(text).root
    assert isinstance(root, Mapping)
    d, a, c = (resolve(value) for _, value in root.pairs)
    assert isinstance(c, Mapping) and isinstance(a, Mapping) and isinstance(d, Mapping)
    memo: dict[int, list[tuple[AnyNode, AnyNode]]] = {}
    mapping_get_last_source_wins(c, "image", memo)
    assert sorted(memo) == sorted([id(d), id(a), id(c)])
    d_pair = d.pairs[0]
    assert memo[id(d)] == [d_pair]
    assert memo[id(a)] == [d_pair]
    assert memo[id(c)] == [d_pair]
    # Asking again with the memo gives the same answer.
    assert mapping_get_last_source_wins(c, "image", memo) == d_pair


# --- what a node and a document carry ------------------------------------------------------------


def test_collections_carry_their_tag_and_anchor() -> None:
    text = "a: &s !!seq [1, 2]\nb: &m !!map {x: 1}\nc: !!seq\n  - 3\nd: !!map\n  y: 2\n"
    root = parse(text).root
    assert isinstance(root, Mapping)
    found = [
        (type(value).__name__, value.tag, value.anchor, text[value.start : value.end])
        for _, value in root.pairs
    ]
    assert found == [
        ("Sequence", "tag:yaml.org,2002:seq", "s", "[1, 2]"),
        ("Mapping", "tag:yaml.org,2002:map", "m", "{x: 1}"),
        ("Sequence", "tag:yaml.org,2002:seq", None, "- 3\n"),
        ("Mapping", "tag:yaml.org,2002:map", None, "y: 2\n"),
    ]


def test_anchored_nodes_of_later_documents_are_registered_unbuilt() -> None:
    text = "a\n---\n- &x [1]\n- &y {a: 1}\n- &z 'v'\n"
    document = parse(text)
    assert document.document_count == 2
    assert isinstance(document.root, Scalar) and document.root.value == "a"
    x, y, z = document.anchored
    assert isinstance(x, Sequence) and isinstance(y, Mapping) and isinstance(z, Scalar)
    # Not built: no children, and the span is empty at the content's start.
    assert (x.anchor, x.items, x.start, x.end) == ("x", [], text.index("[1]"), text.index("[1]"))
    assert (y.anchor, y.pairs, y.start, y.end) == ("y", [], text.index("{a"), text.index("{a"))
    assert (z.anchor, z.value, text[z.start : z.end]) == ("z", "v", "'v'")


def test_document_fields_with_nothing_to_report() -> None:
    document = parse("- a: 1\n")
    assert (
        document.anchored,
        document.duplicate_anchor_offset,
        document.collection_key_offset,
        document.second_document_offset,
        document.document_count,
    ) == ([], -1, -1, -1, 1)
    bare = Document(None, 0, -1)
    assert (bare.root, bare.anchored, bare.duplicate_anchor_offset) == (None, [], -1)
    assert bare.collection_key_offset == -1


def test_document_fields_of_anchors_and_collection_keys() -> None:
    text = "- a: &x 1\n- b: &x [2]\n- {[k]: 3}\n- &y {c: 4}\n"
    document = parse(text)
    assert [(type(n).__name__, n.anchor, n.start) for n in document.anchored] == [
        ("Scalar", "x", text.index("1")),
        ("Sequence", "x", text.index("[2]")),
        ("Mapping", "y", text.index("{c")),
    ]
    assert document.duplicate_anchor_offset == text.index("&x [2]")
    assert document.collection_key_offset == text.index("[k]")


def test_keep_keys_drops_other_pairs_two_levels_down() -> None:
    text = "- step:\n    name: s\n    command: [x]\n    image: i\n  other: 1\n"
    root = parse(text, keep_keys=frozenset({"name", "image"})).root
    assert isinstance(root, Sequence)
    item = root.items[0]
    assert isinstance(item, Mapping)
    # The item itself is one level down: all its pairs are kept.
    assert [k.value for k, _ in item.pairs if isinstance(k, Scalar)] == ["step", "other"]
    step = item.pairs[0][1]
    assert isinstance(step, Mapping)
    assert [(text[k.start : k.end], text[v.start : v.end]) for k, v in step.pairs] == [
        ("name", "s"),
        ("image", "i"),
    ]
    full = parse(text).root
    assert isinstance(full, Sequence) and isinstance(full.items[0], Mapping)
    assert len(resolve(full.items[0].pairs[0][1]).pairs) == 3  # type: ignore[union-attr]


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "is_image", "is_merge_string"),
    [
        ("image", True, False),
        ("'image'", True, False),
        ("!!str image", True, False),
        ("! image", True, False),  # the bare tag resolves like a plain scalar: a string here
        ("!custom image", False, False),
        ("!!int image", False, False),
        ("<<", False, False),  # a merge key
        ("'<<'", False, True),
        ('"<<"', False, True),
        ("!!str <<", False, True),
        ("! <<", False, False),  # a merge key too
        ("!!merge <<", False, False),
    ],
)
def test_which_keys_read_as_a_string(written: str, is_image: bool, is_merge_string: bool) -> None:
    text = f"{{{written} : 1}}"
    root = parse(text).root
    assert isinstance(root, Mapping)
    key = root.pairs[0][0]
    assert (key_is(key, "image"), key_is(key, "<<")) == (is_image, is_merge_string)


def test_a_key_written_as_an_alias_reads_as_its_anchored_key() -> None:
    text = "k: &k image\nc: {*k : x}\n"
    root = parse(text).root
    assert isinstance(root, Mapping)
    c = root.pairs[1][1]
    assert isinstance(c, Mapping)
    key, value = mapping_get(c, "image")
    assert isinstance(key, Alias) and isinstance(value, Scalar)
    assert (text[key.start : key.end], value.value) == ("*k", "x")
    assert yaml.safe_load(text)["c"] == {"image": "x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Two << keys: the later's mappings come first, but the earlier's still count.
        ("a: &a {image: A}\nb: &b {x: B}\nc:\n  <<: *a\n  <<: *b\n", "A"),
        ("a: &a {x: A}\nb: &b {image: B}\nc:\n  <<: *a\n  <<: *b\n", "B"),
        ("a: &a {image: A}\nb: &b {x: B}\nd: &d {y: D}\nc:\n  <<: *a\n  <<: [*b, *d]\n", "A"),
    ],
)
def test_merge_keys_written_twice(text: str, expected: str) -> None:
    root = parse(text).root
    assert isinstance(root, Mapping)
    c = root.pairs[-1][1]
    assert isinstance(c, Mapping)
    value = mapping_get(c, "image")[1]
    assert isinstance(value, Scalar) and value.value == expected
    assert spec_load(text)["c"]["image"] == expected


# --- PyYAML 6.0.4's own nesting limit -------------------------------------------------------------

# A flow mapping whose key is an unknown alias, then more flow levels than libyaml 0.2.5 of
# PyYAML 6.0.4 allows: its scanner reads ahead to the limit before the alias is an event.
_ALIAS_THEN_DEEP = "{*nope " + "[" * 1200


@pytest.mark.skipif(not _PYYAML_604, reason="PyYAML 6.0.4's libyaml limit")
def test_libyaml_limit_met_before_anything_of_ours_is_its_own_error() -> None:
    with pytest.raises(YamlError) as info:
        parse(_ALIAS_THEN_DEEP)
    assert info.value.message == (
        "while increasing flow level that starts at 1:1007, exceeded maximum nesting depth"
    )
    assert info.value.offset == 1006


@pytest.mark.skipif(_PYYAML_604, reason="PyYAML 6.0.3 has no libyaml nesting limit")
def test_without_the_libyaml_limit_the_alias_is_the_error() -> None:
    with pytest.raises(YamlError) as info:
        parse(_ALIAS_THEN_DEEP)
    assert (info.value.message, info.value.offset) == ("found undefined alias 'nope'", 1)


def test_keep_keys_drops_a_pair_whose_value_is_an_alias() -> None:
    text = "- defs: &c [x]\n- step: {name: s, command: *c, image: i, args: *c}\n"
    root = parse(text, keep_keys=frozenset({"name", "image"})).root
    assert isinstance(root, Sequence)
    step = resolve(root.items[1])
    assert isinstance(step, Mapping)
    step = step.pairs[0][1]
    assert isinstance(step, Mapping)
    assert [(text[k.start : k.end], text[v.start : v.end]) for k, v in step.pairs] == [
        ("name", "s"),
        ("image", "i"),
    ]


def test_the_collector_is_left_as_it_was() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        parse("- a: [1, {b: 2}]\n")
        assert gc.isenabled()
        gc.disable()
        parse("- a: [1, {b: 2}]\n")
        assert not gc.isenabled()
        gc.enable()
        with pytest.raises(YamlError):
            parse("- a: [1\n")
        assert gc.isenabled()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


def test_depth_counts_the_levels_still_open_after_a_closed_one() -> None:
    # 300 levels, one more opened and closed, then 101 more: 401 open at the last "[".
    deep = "[" * 300 + "[]," + "[" * 101 + "]" * 101 + "]" * 300
    with pytest.raises(YamlError, match=f"nest more than {MAX_DEPTH} levels") as info:
        parse(deep)
    assert info.value.offset == 302 + 101
    # One level less is fine.
    shallower = "[" * 300 + "[]," + "[" * 100 + "]" * 100 + "]" * 300
    assert isinstance(parse(shallower).root, Sequence)


@pytest.mark.parametrize(
    ("text", "duplicate", "collection_key"),
    [
        ("[a]: 1\n[b]: 2\n", -1, 0),
        ("- &y {c: 4}\n- &z [1]\n", -1, -1),
        ("&y [&y {c: 4}, &y [1]]\n", 4, -1),
    ],
)
def test_first_duplicate_anchor_and_first_collection_key(
    text: str, duplicate: int, collection_key: int
) -> None:
    document = parse(text)
    assert (document.duplicate_anchor_offset, document.collection_key_offset) == (
        duplicate,
        collection_key,
    )


@pytest.mark.parametrize(
    ("text", "collection_key"),
    [
        ("- k: &k image\n- {*k : 1}\n", -1),  # an alias to a scalar is a fine key
        ("- s: &s [1]\n- {*s : 1}\n", 15),  # an alias to a collection is not
    ],
)
def test_an_alias_key_is_a_collection_key_only_when_it_names_one(
    text: str, collection_key: int
) -> None:
    assert parse(text).collection_key_offset == collection_key


def test_a_bad_character_at_the_very_start() -> None:
    with pytest.raises(YamlError, match="unacceptable character") as info:
        parse("\x01- a\n")
    assert info.value.offset == 0
