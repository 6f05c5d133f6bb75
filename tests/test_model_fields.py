"""Every field the model hands the rules and the fixer, exactly.

test_model.py checks which sites there are; this file pins what each site and each ignored part
carries (the keys, the nodes as written, the PyYAML 6.0.4 reading of VIL006, the reasons and
messages of VIL007) and the cases where valohai-yaml's reading is easy to get subtly wrong:
names compared as loaded values, the kinds that share a namespace, merges at the item level,
and PyYAML 6.0.4 reading a shape the spec does not (a non-mapping step, a shorter node list).
"""

from __future__ import annotations

from typing import Optional

import pytest

from valohai_image_lint.model import (
    SITE_KEYS,
    Ignored,
    ImageSite,
    NotAValohaiConfig,
    ValohaiConfig,
    read_config,
)
from valohai_image_lint.yamltree import Alias, AnyNode, Scalar, parse


def config_of(text: str) -> ValohaiConfig:
    return read_config(parse(text, keep_keys=SITE_KEYS).root)


def at(text: str, node: Optional[AnyNode]) -> Optional[tuple[int, str]]:
    """Where ``node`` is: (line, text), or None."""
    if node is None:
        return None
    return (text.count("\n", 0, node.start) + 1, text[node.start:node.end])


def fields(text: str, site: ImageSite) -> dict[str, object]:
    return {
        "kind": site.kind,
        "yaml_path": site.yaml_path,
        "owner": site.owner,
        "node": at(text, site.node),
        "anchor_node": at(text, site.anchor_node),
        "image_key": at(text, site.image_key),
        "via_alias": site.via_alias,
        "required": site.required,
        "version_dependent": site.version_dependent,
        "other_image": at(text, site.other_image),
        "merge_key": at(text, site.merge_key),
        "written": at(text, site.written),
    }


def ignored_of(text: str) -> list[tuple[str, Optional[tuple[int, str]], str, str]]:
    return [(i.yaml_path, at(text, i.node), i.reason, i.message) for i in config_of(text).ignored]


# --- the sites -------------------------------------------------------------------------------

PLAIN = """\
- step:
    name: train
    image: python:3.12
- endpoint:
    name: serve
    image: 'python:3.11'
- pipeline:
    name: p
    nodes:
      - name: n
        override:
          image: busybox:1.36
"""


def test_every_field_of_sites_written_in_place() -> None:
    step, endpoint, node = config_of(PLAIN).sites
    assert fields(PLAIN, step) == {
        "kind": "step", "yaml_path": "[0].step.image", "owner": "step 'train'",
        "node": (3, "python:3.12"), "anchor_node": (1, "step"), "image_key": (3, "image"),
        "via_alias": False, "required": True, "version_dependent": False, "other_image": None,
        "merge_key": None, "written": (3, "python:3.12"),
    }
    assert fields(PLAIN, endpoint) == {
        "kind": "endpoint", "yaml_path": "[1].endpoint.image", "owner": "endpoint 'serve'",
        "node": (6, "'python:3.11'"), "anchor_node": (4, "endpoint"), "image_key": (6, "image"),
        "via_alias": False, "required": True, "version_dependent": False, "other_image": None,
        "merge_key": None, "written": (6, "'python:3.11'"),
    }
    assert fields(PLAIN, node) == {
        "kind": "pipeline", "yaml_path": "[2].pipeline.nodes[0].override.image",
        "owner": "pipeline 'p' node 'n'", "node": (12, "busybox:1.36"),
        "anchor_node": (11, "override"), "image_key": (12, "image"), "via_alias": False,
        "required": False, "version_dependent": False, "other_image": None, "merge_key": None,
        "written": (12, "busybox:1.36"),
    }
    # The fields are the very nodes of the tree, not copies.
    assert step.written is step.node


def test_an_image_naming_an_anchor_is_written_as_the_alias() -> None:
    text = "- defs: {img: &img 'python:3.11'}\n- step:\n    name: a\n    image: *img\n"
    (site,) = config_of(text).sites
    assert isinstance(site.written, Alias) and at(text, site.written) == (4, "*img")
    assert isinstance(site.node, Scalar) and at(text, site.node) == (1, "'python:3.11'")
    assert site.written.target is site.node
    assert site.via_alias is True


def test_a_step_that_is_not_a_mapping_has_no_image_key() -> None:
    text = "- step: python:3.11\n"
    (site,) = config_of(text).sites
    assert fields(text, site) == {
        "kind": "step", "yaml_path": "[0].step.image", "owner": "step", "node": None,
        "anchor_node": (1, "step"), "image_key": None, "via_alias": False, "required": True,
        "version_dependent": False, "other_image": None, "merge_key": None, "written": None,
    }


def test_a_step_merged_in_at_the_item_level_comes_through_an_alias() -> None:
    # `- <<: *item`: the step key and its image are written in the anchored mapping.
    text = ("- defs:\n    s: &s {step: {name: a, image: 'python:3.11'}}\n"
            "- <<: *s\n- <<: {step: {name: b, image: 'python:3.12'}}\n")
    first, second = config_of(text).sites
    assert (first.yaml_path, first.via_alias, at(text, first.anchor_node)) == (
        "[1].step.image", True, (2, "step"))
    assert (second.yaml_path, second.via_alias, at(text, second.anchor_node)) == (
        "[2].step.image", True, (4, "step"))


def test_merged_nodes_come_through_an_alias_and_one_source_is_no_ambiguity() -> None:
    text = """\
- defs:
    p: &p
      nodes:
        - name: n
          override: {image: 'python:3.11'}
    base: &base {image: 'python:3.12'}
- pipeline:
    <<: *p
    name: merged
- step:
    name: s
    <<: *base
"""
    node, step = config_of(text).sites
    assert fields(text, node) == {
        "kind": "pipeline", "yaml_path": "[1].pipeline.nodes[0].override.image",
        "owner": "pipeline 'merged' node 'n'", "node": (5, "'python:3.11'"),
        "anchor_node": (5, "override"), "image_key": (5, "image"), "via_alias": True,
        "required": False, "version_dependent": False, "other_image": None,
        "merge_key": None, "written": (5, "'python:3.11'"),
    }
    assert (step.via_alias, step.version_dependent, step.other_image, step.merge_key) == (
        True, False, None, None)


def test_a_node_that_is_not_a_mapping_does_not_hide_the_next() -> None:
    text = ("- pipeline:\n    name: p\n    nodes:\n      - just text\n"
            "      - {name: n, override: {image: 'python:3.11'}}\n")
    (site,) = config_of(text).sites
    assert (site.yaml_path, site.owner) == ("[0].pipeline.nodes[1].override.image",
                                            "pipeline 'p' node 'n'")


# --- PyYAML 6.0.4's reading (VIL006) ----------------------------------------------------------

AMBIGUOUS = """\
- defs:
    a: &a {image: 'first:1'}
    b: &b {image: 'second:1'}
- step:
    name: s
    <<: [*a, *b]
- pipeline:
    name: p
    nodes:
      - name: n
        override:
          <<: [*b, *a]
"""


def test_every_field_of_a_version_dependent_site() -> None:
    step, node = config_of(AMBIGUOUS).sites
    assert fields(AMBIGUOUS, step) == {
        "kind": "step", "yaml_path": "[1].step.image", "owner": "step 's'",
        "node": (2, "'first:1'"), "anchor_node": (4, "step"), "image_key": (2, "image"),
        "via_alias": True, "required": True, "version_dependent": True,
        "other_image": (3, "'second:1'"), "merge_key": (6, "<<"), "written": (2, "'first:1'"),
    }
    assert fields(AMBIGUOUS, node) == {
        "kind": "pipeline", "yaml_path": "[2].pipeline.nodes[0].override.image",
        "owner": "pipeline 'p' node 'n'", "node": (3, "'second:1'"),
        "anchor_node": (11, "override"), "image_key": (3, "image"), "via_alias": True,
        "required": False, "version_dependent": True, "other_image": (2, "'first:1'"),
        "merge_key": (12, "<<"), "written": (3, "'second:1'"),
    }


def test_pyyaml_604_reading_a_step_that_is_not_a_mapping_gives_no_image() -> None:
    text = "- <<: [{step: {name: a, image: 'x:1'}}, {step: 3}]\n"
    (site,) = config_of(text).sites
    assert at(text, site.node) == (1, "'x:1'")
    assert (site.version_dependent, site.other_image) == (True, None)
    assert at(text, site.merge_key) == (1, "<<")


def test_pyyaml_604_reading_fewer_nodes_or_no_list() -> None:
    text = """\
- pipeline:
    name: p
    <<:
      - nodes:
          - {name: a, override: {image: 'a:1'}}
          - {name: b, override: {image: 'b:1'}}
      - nodes:
          - {name: c, override: {image: 'c:1'}}
- pipeline:
    name: q
    <<: [{nodes: [{name: d, override: {image: 'd:1'}}]}, {nodes: {name: e}}]
"""
    found = [(s.yaml_path, s.version_dependent, at(text, s.other_image))
             for s in config_of(text).sites]
    assert found == [
        ("[0].pipeline.nodes[0].override.image", True, (8, "'c:1'")),
        ("[0].pipeline.nodes[1].override.image", True, None),
        ("[1].pipeline.nodes[0].override.image", True, None),
    ]


def test_pyyaml_604_lookups_of_different_keys_do_not_mix() -> None:
    # The item's `step` lookup walks `d` (no step there); the step's `image` lookup must still
    # find d's image: the 6.0.4 caches are per key.
    text = """\
- defs:
    d: &d {image: 'python:3.11'}
    s: &s {step: {<<: *d, name: a}}
- <<: [*d, *s]
"""
    (site,) = config_of(text).sites
    assert at(text, site.node) == (2, "'python:3.11'")
    assert (site.version_dependent, site.other_image) == (False, None)


def test_sources_that_agree_on_the_image_are_no_ambiguity() -> None:
    text = ("- defs:\n    a: &a {image: 'x:1'}\n    b: &b {image: 'x:1'}\n"
            "    c: &c {image: \"x:1\"}\n    i: &i {image: 1}\n    j: &j {image: '1'}\n"
            "- step: {name: same, <<: [*a, *b]}\n- step: {name: quoting, <<: [*a, *c]}\n"
            "- step: {name: types, <<: [*i, *j]}\n")
    found = [(s.owner, s.version_dependent) for s in config_of(text).sites]
    # 'x:1' and "x:1" are one string; 1 and '1' are an int and a string.
    assert found == [("step 'same'", False), ("step 'quoting'", False), ("step 'types'", True)]


# --- what Valohai ignores (VIL007) --------------------------------------------------------------

def test_ignored_parts_in_file_order_with_their_reasons() -> None:
    text = """\
- step:
    name: a
    image: 'x:1'
- step:
    name: b
    name: a
    image: 'y:1'
    image: 'z:1'
  endpoint: {name: e}
"""
    assert ignored_of(text) == [
        ("[0].step", (1, "step"), "redefined",
         "Valohai ignores this step 'a': item [1] redefines it"),
        ("[1].step.name", (5, "name"), "duplicate",
         "Valohai ignores this 'name': a later 'name' in the same mapping wins"),
        ("[1].step.image", (7, "image"), "duplicate",
         "Valohai ignores this 'image': a later 'image' in the same mapping wins"),
        ("[1].endpoint", (9, "endpoint"), "kind",
         "Valohai ignores this endpoint: the item is read as a step"),
    ]
    config = config_of(text)
    assert config.shadowed_items == {0}
    assert [s.yaml_path for s in config.sites] == ["[1].step.image"]


def test_duplicate_keys_in_pipelines_nodes_and_overrides() -> None:
    text = """\
- pipeline:
    name: p
    name: q
    nodes: []
    nodes:
      - name: n
        name: m
        override: {image: 'a:1'}
        override: {image: 'b:1', image: 'c:1'}
"""
    assert [(path, where) for path, where, _, _ in ignored_of(text)] == [
        ("[0].pipeline.name", (2, "name")),
        ("[0].pipeline.nodes", (4, "nodes")),
        ("[0].pipeline.nodes[0].name", (6, "name")),
        ("[0].pipeline.nodes[0].override", (8, "override")),
        ("[0].pipeline.nodes[0].override.image", (9, "image")),
    ]
    (site,) = config_of(text).sites
    assert (site.owner, at(text, site.node)) == ("pipeline 'q' node 'm'", (9, "'c:1'"))


def test_the_kinds_that_share_a_name() -> None:
    text = """\
- step: {name: x, image: 'a:1'}
- endpoint: {name: x, image: 'b:1'}
- task: {name: x}
- deployment: {name: x}
- blueprint: {name: x, nodes: []}
- pipeline: {name: x, nodes: []}
- blueprint: {name: x, nodes: []}
"""
    assert ignored_of(text) == [
        ("[4].blueprint", (5, "blueprint"), "redefined",
         "Valohai ignores this pipeline 'x': item [5] redefines it"),
        ("[5].pipeline", (6, "pipeline"), "redefined",
         "Valohai ignores this pipeline 'x': item [6] redefines it"),
    ]
    config = config_of(text)
    assert config.shadowed_items == {4, 5}
    assert [s.yaml_path for s in config.sites] == ["[0].step.image", "[1].endpoint.image"]


@pytest.mark.parametrize(("first", "second", "shown"), [
    # valohai-yaml keys items by the loaded name in a dict: Python's equality decides.
    ("1", "01", "'1'"),
    ("! 01", "1", "'01'"),
    ("!!int 0x1", "1", "'0x1'"),
    ("1.0", "1", "'1.0'"),
    ("true", "1", "'true'"),
    ("~", "null", "'~'"),
    ("!!str 1", "'1'", "'1'"),
    ("'" + "n" * 60 + "'", "n" * 60, "'" + "n" * 60 + "'"),
    ("n" * 61, "n" * 61, "'" + "n" * 40 + "...(61 characters)'"),
])
def test_names_valohai_takes_for_one(first: str, second: str, shown: str) -> None:
    text = (f"- step: {{name: {first}, image: 'a:1'}}\n"
            f"- step: {{name: {second}, image: 'b:1'}}\n")
    assert ignored_of(text) == [
        ("[0].step", (1, "step"), "redefined",
         f"Valohai ignores this step {shown}: item [1] redefines it"),
    ]


@pytest.mark.parametrize(("first", "second"), [
    ("1", "'1'"), ("'true'", "true"), ("a", "A"), ("'~'", "~"), ("2", "1"),
])
def test_names_valohai_takes_for_two(first: str, second: str) -> None:
    text = (f"- step: {{name: {first}, image: 'a:1'}}\n"
            f"- step: {{name: {second}, image: 'b:1'}}\n")
    config = config_of(text)
    assert (config.ignored, config.shadowed_items, len(config.sites)) == ([], set(), 2)


def test_items_without_a_name_are_not_one_item() -> None:
    # valohai-yaml rejects a step without a name; it does not keep only the last of them.
    text = "- step: {image: 'a:1'}\n- step: {image: 'b:1'}\n"
    assert len(config_of(text).sites) == 2 and config_of(text).ignored == []


def test_a_name_safe_load_cannot_build_equals_only_itself() -> None:
    # The file fails to load (VIL000); the model still reads it, and such a name is no other
    # name: not its text, not null, not another unloadable value of the tag.
    names = ["!!int abc", "abc", "~", "!!int xyz", "!custom abc", "!!int abc"]
    text = "".join(f"- step: {{name: {n}, image: 'a:{i}'}}\n" for i, n in enumerate(names))
    assert [(path, message) for path, _, _, message in ignored_of(text)] == [
        ("[0].step", "Valohai ignores this step 'abc': item [5] redefines it"),
    ]


def test_records_keep_what_they_are_given() -> None:
    text = "- step: {name: a}\n"
    (site,) = config_of(text).sites
    ignored = Ignored(site.anchor_node, "[0].step", "m")
    assert (ignored.node, ignored.yaml_path, ignored.message, ignored.reason) == (
        site.anchor_node, "[0].step", "m", "kind")
    sites, parts, shadowed = [site], [ignored], {3}
    config = ValohaiConfig(sites, parts, shadowed)
    assert (config.sites, config.ignored, config.shadowed_items) == ([site], [ignored], {3})
    assert config.sites is sites and config.ignored is parts and config.shadowed_items is shadowed


@pytest.mark.parametrize(("item", "what"), [
    ("[a, list]", "a list"),
    ("", "empty (null)"),
    ("~", "empty (null)"),
    ("just text", "a string ('just text')"),
    ("'3'", "a string ('3')"),
    ("3", "a int ('3')"),
    ("! 3.5", "a float ('3.5')"),
    ("n" * 61, "a string ('" + "n" * 40 + "...(61 characters)')"),
])
def test_the_message_for_an_item_that_is_not_a_mapping(item: str, what: str) -> None:
    with pytest.raises(NotAValohaiConfig) as caught:
        config_of(f"- step: {{name: a}}\n- {item}\n")
    assert caught.value.message == f"item [1] is {what}, not a mapping; Valohai rejects the file"


def test_two_kind_keys_of_one_name_in_an_item() -> None:
    text = "- step: {name: a, image: 'x:1'}\n  step: {name: b, image: 'y:1'}\n"
    assert ignored_of(text) == [
        ("[0].step", (1, "step"), "duplicate",
         "Valohai ignores this 'step': a later 'step' in the same mapping wins"),
    ]
    (site,) = config_of(text).sites
    assert (site.owner, at(text, site.node)) == ("step 'b'", (2, "'y:1'"))


def test_a_whole_pipeline_through_an_alias() -> None:
    text = ("- defs:\n    p: &p {name: p, nodes: [{name: n, override: {image: 'x:1'}}]}\n"
            "- pipeline: *p\n")
    (site,) = config_of(text).sites
    assert (site.yaml_path, site.via_alias, at(text, site.anchor_node)) == (
        "[1].pipeline.nodes[0].override.image", True, (2, "override"))


@pytest.mark.parametrize("text", [
    # What safe_load gives None for: valohai-yaml reads no items.
    "---\n", "--- # nothing\n", "--- !!null\n", "--- !!null foo\n", "--- ! ~\n", "Null\n",
])
def test_documents_that_load_as_null_hold_no_items(text: str) -> None:
    assert config_of(text) == ValohaiConfig()


@pytest.mark.parametrize("text", [
    # Strings, which valohai-yaml rejects: the empty and "~" spelled as strings.
    "--- !!str\n", "--- !!str ~\n", '---\n""\n', "'~'\n",
])
def test_documents_that_load_as_a_string_are_rejected(text: str) -> None:
    with pytest.raises(NotAValohaiConfig) as caught:
        config_of(text)
    assert caught.value.message.startswith("top level is a scalar;")
