"""Image-site edges test_model.py does not pin, in-process: long owner names, the null
spellings of an empty document, where a wrong top level starts, merged sources written
inside the item."""

from __future__ import annotations

import pytest

from valohai_image_lint.model import NotAValohaiConfig, find_image_sites
from valohai_image_lint.yamltree import parse


@pytest.mark.parametrize("text", ["", "~\n", "null\n", "Null\n", "NULL\n", "# only\n"])
def test_an_empty_document_has_no_sites(text: str) -> None:
    assert find_image_sites(parse(text).root) == []


@pytest.mark.parametrize(("text", "kind"), [
    ("'null'\n", "a scalar"), ('"~"\n', "a scalar"), ("nil\n", "a scalar"),
    ("NuLL\n", "a scalar"), ("{}\n", "a mapping"),
])
def test_null_spelled_otherwise_is_not_an_empty_document(text: str, kind: str) -> None:
    with pytest.raises(NotAValohaiConfig) as caught:
        find_image_sites(parse(text).root)
    assert caught.value.message == (f"top level is {kind}; a valohai.yaml is a list of items"
                                    " (`- step: ...`)")
    assert str(caught.value) == caught.value.message


def test_a_wrong_top_level_is_reported_where_it_starts() -> None:
    text = "# a comment\n\nstep: {image: x}\n"
    with pytest.raises(NotAValohaiConfig) as caught:
        find_image_sites(parse(text).root)
    assert caught.value.offset == text.index("step")


@pytest.mark.parametrize(("name", "owner"), [
    ("a" * 60, "step '" + "a" * 60 + "'"),
    ("a" * 61, "step '" + "a" * 40 + "...(61 characters)'"),
    ("b" * 5000, "step '" + "b" * 40 + "...(5000 characters)'"),
])
def test_long_names_are_shortened_in_owners(name: str, owner: str) -> None:
    (site,) = find_image_sites(parse(f"- step:\n    name: {name}\n    image: x:1\n").root)
    assert site.owner == owner


def test_a_pipeline_node_owner_names_both() -> None:
    text = ("- pipeline:\n    name: p\n    nodes:\n      - name: " + "n" * 70
            + "\n        override: {image: 'x:1'}\n      - override: {image: 'y:1'}\n")
    first, second = find_image_sites(parse(text).root)
    assert first.owner == "pipeline 'p' node '" + "n" * 40 + "...(70 characters)'"
    assert second.owner == "pipeline 'p' node"
    assert not first.required and first.kind == "pipeline"


def test_merge_source_written_inside_the_item_is_its_own_image() -> None:
    text = "- step:\n    name: a\n    <<: &own {image: 'python:3.11'}\n"
    (site,) = find_image_sites(parse(text).root)
    assert not site.via_alias
    assert site.node is not None and text[site.node.start:site.node.end] == "'python:3.11'"
    shared = text + "- step:\n    name: b\n    <<: *own\n"
    _, other = find_image_sites(parse(shared).root)
    assert other.via_alias
