"""The Valohai model: which items a valohai.yaml holds and where their images are.

A valohai.yaml is a top-level list of one-key mappings. Images live at
``[i].step.image``, ``[i].endpoint.image`` and ``[i].pipeline.nodes[j].override.image``
(``blueprint`` is the older spelling of ``pipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from valohai_image_lint.yamltree import (
    MERGE_KEY,
    Alias,
    AnyNode,
    Mapping,
    Scalar,
    Sequence,
    mapping_get,
    resolve,
)

ITEM_KINDS = ("step", "endpoint", "pipeline", "blueprint", "task", "deployment")
# Sites whose image Valohai requires.
REQUIRED_IMAGE_KINDS = ("step", "endpoint")
# The only keys whose values find_image_sites reads inside an item; parse the file with
# ``yamltree.parse(text, keep_keys=SITE_KEYS)`` and the rest (commands, parameters, inputs:
# most of a large file) is never built. A key read here must be added here.
SITE_KEYS = frozenset({"name", "image", "nodes", "override", MERGE_KEY})


class NotAValohaiConfig(Exception):
    """The document's top level is not a list of items."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class ImageSite:
    """One place that names (or should name) an image.

    ``node`` is the image value as written: for an image that comes through an alias it is
    the anchored node, so diagnostics and fixes land on the text that really holds it.
    ``anchor_node`` is the key (or item key) to point at when there is no image.
    """

    kind: str  # "step", "endpoint" or "pipeline"
    yaml_path: str
    owner: str  # human name of the site: "step 'train'", "pipeline 'p' node 'n'"
    node: Optional[AnyNode]
    anchor_node: AnyNode
    image_key: Optional[AnyNode]
    via_alias: bool
    required: bool


def _name_of(mapping: Optional[AnyNode]) -> Optional[str]:
    if isinstance(mapping, Mapping):
        _, name = mapping_get(mapping, "name")
        name = resolve(name)
        if isinstance(name, Scalar):
            return name.value
    return None


_NAME_SHOWN = 60


def _describe(kind: str, name: Optional[str]) -> str:
    if name is None:
        return kind
    if len(name) > _NAME_SHOWN:
        # Messages stay one readable line even for a generated megabyte of name.
        name = f"{name[: _NAME_SHOWN - 20]}...({len(name)} characters)"
    return f"{kind} {name!r}"


def find_image_sites(root: Optional[AnyNode]) -> list[ImageSite]:
    """Every image site of the config, in file order of the items that own them."""
    if root is None:
        return []
    top = resolve(root)
    if isinstance(top, Scalar) and top.plain and top.value in ("", "~", "null", "Null", "NULL"):
        return []
    if not isinstance(top, Sequence):
        kind = "a mapping" if isinstance(top, Mapping) else "a scalar"
        raise NotAValohaiConfig(
            f"top level is {kind}; a valohai.yaml is a list of items (`- step: ...`)",
            root.start,
        )
    sites: list[ImageSite] = []
    for index, raw_item in enumerate(top.items):
        item = resolve(raw_item)
        if not isinstance(item, Mapping):
            continue
        for raw_key, raw_value in item.pairs:
            key = resolve(raw_key)
            if not isinstance(key, Scalar) or key.value not in ITEM_KINDS:
                continue
            kind = key.value
            base = f"[{index}].{kind}"
            value = resolve(raw_value)
            through_alias = isinstance(raw_item, Alias) or isinstance(raw_value, Alias)
            if kind in REQUIRED_IMAGE_KINDS:
                sites.append(_image_site(kind, base, value, raw_key, through_alias, required=True))
            elif kind in ("pipeline", "blueprint"):
                sites.extend(_pipeline_sites(base, value, through_alias))
    return sites


def _image_site(
    kind: str,
    path: str,
    owner_mapping: Optional[AnyNode],
    owner_key: AnyNode,
    through_alias: bool,
    required: bool,
    owner: Optional[str] = None,
) -> ImageSite:
    key_node: Optional[AnyNode] = None
    image: Optional[AnyNode] = None
    if isinstance(owner_mapping, Mapping):
        key_node, image = mapping_get(owner_mapping, "image")
    via_alias = through_alias or isinstance(image, Alias)
    if isinstance(owner_mapping, Mapping) and not via_alias:
        # A merged-in image is another item's text, unless the merge source is written
        # inside this very mapping (`<<: &a {image: ...}`): then it is this site's own.
        value = resolve(image)
        via_alias = _merged_in(owner_mapping, key_node) and not (
            value is not None and owner_mapping.start <= value.start < owner_mapping.end)
    return ImageSite(
        kind=kind,
        yaml_path=f"{path}.image",
        owner=owner if owner is not None else _describe(kind, _name_of(owner_mapping)),
        node=resolve(image),
        anchor_node=owner_key,
        image_key=key_node,
        via_alias=via_alias,
        required=required,
    )


def _merged_in(mapping: Mapping, key_node: Optional[AnyNode]) -> bool:
    """Whether ``key_node`` came from a ``<<`` merge, i.e. is written outside ``mapping``."""
    return key_node is not None and not any(k is key_node for k, _ in mapping.pairs)


def _pipeline_sites(base: str, pipeline: Optional[AnyNode], through_alias: bool) -> list[ImageSite]:
    if not isinstance(pipeline, Mapping):
        return []
    nodes_key, raw_nodes = mapping_get(pipeline, "nodes")
    nodes = resolve(raw_nodes)
    if not isinstance(nodes, Sequence):
        return []
    # Nodes written under an anchor elsewhere (``nodes: *shared`` or a merged ``nodes``).
    through_alias = (
        through_alias or isinstance(raw_nodes, Alias) or _merged_in(pipeline, nodes_key)
    )
    pipeline_name = _name_of(pipeline)
    sites = []
    for j, raw_node in enumerate(nodes.items):
        node = resolve(raw_node)
        if not isinstance(node, Mapping):
            continue
        override_key, raw_override = mapping_get(node, "override")
        override = resolve(raw_override)
        if override_key is None or not isinstance(override, Mapping):
            continue
        _, image = mapping_get(override, "image")
        if image is None:
            continue
        owner = f"{_describe('pipeline', pipeline_name)} {_describe('node', _name_of(node))}"
        sites.append(
            _image_site(
                "pipeline",
                f"{base}.nodes[{j}].override",
                override,
                override_key,
                through_alias
                or isinstance(raw_node, Alias)
                or isinstance(raw_override, Alias)
                or _merged_in(node, override_key),
                required=False,
                owner=owner,
            )
        )
    return sites
