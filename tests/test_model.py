"""The Valohai model: every image site of DESIGN §2, its YAML path, and what it points at."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from valohai_image_lint.model import (
    SITE_KEYS,
    ImageSite,
    NotAValohaiConfig,
    find_image_sites,
    read_config,
)
from valohai_image_lint.yamltree import Scalar, parse

EVERY_SITE = """\
- definitions:
    img: &img "python:3.11"
    base: &base
      image: *img
      command: python x.py
    whole-step: &whole
      name: shared
      image: 'tensorflow/tensorflow:2.15.0'
- step:
    name: train
    image: python:3.12
- endpoint:
    name: serve
    image: "tensorflow/serving:2.14.1"
- pipeline:
    name: p
    nodes:
      - name: n0
        type: execution
        step: train
        override:
          image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
      - name: no-override
        type: execution
        step: train
      - name: override-without-image
        override:
          inputs: []
      - name: n3
        override: *base
- blueprint:
    name: old
    nodes:
      - name: b0
        override: {image: busybox:1.36}
- task:
    name: t
    step: train
- deployment:
    name: d
- foo:
    image: ignored:1
- {}
- holder: [a, list]
- step: *whole
- step:
    name: merged
    <<: *base
- step:
    name: aliased
    image: *img
- step:
    name: overrides-merge
    <<: *base
    image: ubuntu:22.04
- step:
    name: no-image
    command: x
"""


def sites_of(text: str, pruned: bool = True) -> list[ImageSite]:
    # The linter parses with keep_keys=SITE_KEYS; the full tree must give the same sites.
    full = find_image_sites(parse(text).root)
    if not pruned:
        return full
    lean = find_image_sites(parse(text, keep_keys=SITE_KEYS).root)
    assert [_describe(text, s) for s in lean] == [_describe(text, s) for s in full]
    return lean


def written(text: str, site: ImageSite) -> Optional[str]:
    return None if site.node is None else text[site.node.start : site.node.end]


def _describe(text: str, site: ImageSite) -> tuple[object, ...]:
    return (
        site.kind,
        site.yaml_path,
        site.owner,
        written(text, site),
        text[site.anchor_node.start : site.anchor_node.end],
        site.via_alias,
        site.required,
    )


def test_every_site_with_its_yaml_path() -> None:
    found = [_describe(EVERY_SITE, site) for site in sites_of(EVERY_SITE)]
    assert found == [
        ("step", "[1].step.image", "step 'train'", "python:3.12", "step", False, True),
        (
            "endpoint",
            "[2].endpoint.image",
            "endpoint 'serve'",
            '"tensorflow/serving:2.14.1"',
            "endpoint",
            False,
            True,
        ),
        (
            "pipeline",
            "[3].pipeline.nodes[0].override.image",
            "pipeline 'p' node 'n0'",
            "pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime",
            "override",
            False,
            False,
        ),
        (
            "pipeline",
            "[3].pipeline.nodes[3].override.image",
            "pipeline 'p' node 'n3'",
            '"python:3.11"',
            "override",
            True,
            False,
        ),
        (
            "pipeline",
            "[4].blueprint.nodes[0].override.image",
            "pipeline 'old' node 'b0'",
            "busybox:1.36",
            "override",
            False,
            False,
        ),
        (
            "step",
            "[10].step.image",
            "step 'shared'",
            "'tensorflow/tensorflow:2.15.0'",
            "step",
            True,
            True,
        ),
        ("step", "[11].step.image", "step 'merged'", '"python:3.11"', "step", True, True),
        ("step", "[12].step.image", "step 'aliased'", '"python:3.11"', "step", True, True),
        (
            "step",
            "[13].step.image",
            "step 'overrides-merge'",
            "ubuntu:22.04",
            "step",
            False,
            True,
        ),
        ("step", "[14].step.image", "step 'no-image'", None, "step", False, True),
    ]


def test_aliased_sites_share_the_anchored_scalar() -> None:
    sites = {s.yaml_path: s for s in sites_of(EVERY_SITE)}
    anchored = sites["[11].step.image"].node
    assert isinstance(anchored, Scalar)
    assert anchored.anchor == "img"
    assert sites["[12].step.image"].node is anchored
    assert sites["[3].pipeline.nodes[3].override.image"].node is anchored
    # The key reported for a merged image is the one written in the anchored mapping.
    key = sites["[11].step.image"].image_key
    assert key is not None
    assert EVERY_SITE.count("\n", 0, key.start) == 3  # "image: *img" under base:


def test_whole_item_through_an_alias() -> None:
    text = "- &item\n  step:\n    name: a\n    image: python:3.11\n- *item\n"
    found = [_describe(text, s) for s in sites_of(text)]
    # Two steps named 'a': Valohai keeps the last, which is the alias.
    assert found == [
        ("step", "[1].step.image", "step 'a'", "python:3.11", "step", True, True),
    ]
    (ignored,) = read_config(parse(text).root).ignored
    assert (ignored.yaml_path, ignored.node.start) == ("[0].step", text.index("step"))


def test_pipeline_nodes_and_overrides_through_aliases() -> None:
    text = """\
- defs:
    node: &node
      name: shared-node
      override: {image: 'python:3.10'}
    override: &override {image: "python:3.9"}
    nodes: &nodes
      - name: listed
        override: {image: busybox}
- pipeline:
    name: a
    nodes:
      - *node
      - name: o
        override: *override
      - name: m
        <<: *node
- pipeline:
    name: b
    nodes: *nodes
"""
    found = [(s.yaml_path, written(text, s), s.via_alias) for s in sites_of(text)]
    assert found == [
        ("[1].pipeline.nodes[0].override.image", "'python:3.10'", True),
        ("[1].pipeline.nodes[1].override.image", '"python:3.9"', True),
        ("[1].pipeline.nodes[2].override.image", "'python:3.10'", True),
        ("[2].pipeline.nodes[0].override.image", "busybox", True),
    ]


def test_merge_list_precedence_in_a_step() -> None:
    text = """\
- defs:
    a: &a {image: 'first:1'}
    b: &b {image: 'second:1', name: from-b}
- step:
    <<: [*a, *b]
"""
    (site,) = sites_of(text)
    assert written(text, site) == "'first:1'"
    assert site.owner == "step 'from-b'"
    assert site.via_alias


@pytest.mark.parametrize(
    ("image_line", "shown"),
    [("image: 3.9", "3.9"), ("image:", None), ("image: [a, b]", "[a, b]"), ("image: ~", "~")],
)
def test_required_image_that_is_not_a_string_is_still_a_site(
    image_line: str, shown: Optional[str]
) -> None:
    text = f"- endpoint:\n    name: e\n    {image_line}\n"
    (site,) = sites_of(text)
    assert site.required and site.kind == "endpoint"
    assert site.image_key is not None
    if shown is None:
        # "image:" with nothing after it: an empty plain scalar (null) at the end of the key.
        assert isinstance(site.node, Scalar) and site.node.value == ""
    else:
        assert written(text, site) == shown


def test_step_that_is_not_a_mapping() -> None:
    text = "- step: python:3.11\n- step:\n- endpoint: [a]\n"
    found = [(s.yaml_path, s.node, text[s.anchor_node.start : s.anchor_node.end]) for s in
             sites_of(text)]
    assert found == [
        ("[0].step.image", None, "step"),
        ("[1].step.image", None, "step"),
        ("[2].endpoint.image", None, "endpoint"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "- task: {name: t, step: s}\n- deployment: {name: d}\n",
        "- definitions: {image: python}\n- x: 1\n",
        "- pipeline: {name: p}\n- pipeline: {name: q, nodes: {a: 1}}\n- pipeline: 3\n",
        "- pipeline: {name: p, nodes: [1, [2], {name: n}, {name: m, override: 3}]}\n",
        "[]\n",
        "",
        "# comments only\n",
        "~\n",
        "null\n",
    ],
)
def test_no_sites(text: str) -> None:
    assert sites_of(text) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [("step:\n  image: x\n", "a mapping"), ("hello\n", "a scalar"), ("'~'\n", "a scalar")],
)
def test_top_level_must_be_a_list(text: str, kind: str) -> None:
    with pytest.raises(NotAValohaiConfig) as info:
        find_image_sites(parse(text).root)
    assert kind in info.value.message
    assert info.value.offset == 0


@pytest.mark.parametrize(
    ("text", "what", "offset"),
    [
        ("- step: {name: a, image: x}\n- just a string\n", "a string ('just a string')", 30),
        ("- [a, list]\n", "a list", 2),
        ("- step: {name: a}\n-\n- step: {name: b}\n", "empty (null)", 19),
        ("- 3\n", "a int ('3')", 2),
    ],
)
def test_an_item_that_is_not_a_mapping_is_rejected(text: str, what: str, offset: int) -> None:
    # valohai-yaml raises InvalidType for the whole file ("Top-level YAML item ... is not a
    # dictionary"), so Valohai runs none of it.
    with pytest.raises(NotAValohaiConfig) as info:
        find_image_sites(parse(text).root)
    assert info.value.message.startswith("item [") and what in info.value.message
    assert info.value.offset == offset


def test_through_alias_diagnostics_in_json(tmp_path: Path) -> None:
    """One anchored scalar used by several sites: one diagnostic per site, all on the scalar."""
    text = """\
- definitions:
    image: &img 'python:latest'
    base: &base
      image: *img
- step:
    name: a
    image: *img
- step:
    name: b
    <<: *base
- pipeline:
    name: p
    nodes:
      - name: n
        override: *base
"""
    path = tmp_path / "valohai.yaml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    diagnostics = json.loads(result.stdout)
    assert [(d["code"], d["yaml_path"]) for d in diagnostics] == [
        ("VIL002", "[1].step.image"),
        ("VIL002", "[2].step.image"),
        ("VIL002", "[3].pipeline.nodes[0].override.image"),
    ]
    # All on the anchored scalar, quotes included, not the anchor before it.
    column = text.splitlines()[1].index("'python:latest'") + 1
    spans = {(d["line"], d["column"], d["end_line"], d["end_column"]) for d in diagnostics}
    assert spans == {(2, column, 2, column + len("'python:latest'"))}
    assert {d["image"] for d in diagnostics} == {"python:latest"}
