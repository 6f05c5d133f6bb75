"""The YAML tree's corners that mutation testing found unpinned, with exact values.

Pins: the span of a node whose ``&anchor``/``!tag`` has no content after it (start == end),
the span after a comment between the properties and the content (ended by any YAML line
break), the offset of a syntax error that libyaml reports without a context, the type name
of a scalar with a tag outside ``tag:yaml.org,2002:``, and PyYAML 6.0.4's merge order as
``mapping_get_last_source_wins`` models it (a source named twice, chains of merges, a later
source that repeats an earlier one, keys written as aliases). Each 6.0.4 expectation is also
checked against the installed PyYAML when it is 6.0.4.
"""

from __future__ import annotations

from typing import Optional

import pytest
import yaml

from valohai_image_lint.yamltree import (
    AnyNode,
    Mapping,
    Scalar,
    YamlError,
    mapping_get_last_source_wins,
    parse,
    resolve,
    scalar_type,
)

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
