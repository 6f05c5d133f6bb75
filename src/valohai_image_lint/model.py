"""The Valohai model: which items a valohai.yaml holds and where their images are.

A valohai.yaml is a top-level list of mappings. Images live at ``[i].step.image``,
``[i].endpoint.image`` and ``[i].pipeline.nodes[j].override.image`` (``blueprint`` is the
older spelling of ``pipeline``).

The file is read as valohai-yaml (``valohai_yaml.parse``, what Valohai's tools use) reads
what PyYAML's ``safe_load`` gives it:

- keys are looked up with merge-key semantics at every level, the item's own keys included
  (``- <<: {step: {...}}`` is a step); of several merge sources the first wins, as the YAML
  spec and PyYAML <= 6.0.3 say (PyYAML 6.0.4 gives the last: VIL006 reports where that
  changes an image);
- an item is the first of its keys in the order step, task, endpoint, pipeline, blueprint,
  deployment; the others are ignored;
- of duplicate keys in one mapping the last wins, and of items of one kind with the same
  name the last wins (pipeline and blueprint are one kind).

What Valohai ignores (the other kind keys, the earlier duplicates, the shadowed items) is
listed in ``ValohaiConfig.ignored`` for VIL007; the images of ignored parts are not sites.
"""

from __future__ import annotations

from typing import Optional, Union

from valohai_image_lint._record import FrozenRecord, Record, set_field
from valohai_image_lint.yamltree import (
    MERGE_KEY,
    MERGE_TAG,
    Alias,
    AnyNode,
    Mapping,
    Scalar,
    Sequence,
    is_merge_key,
    key_is,
    mapping_get,
    mapping_get_last_source_wins,
    resolve,
    scalar_type,
)

# valohai-yaml's order: an item is the first of these it holds (Config.get_top_level_parsers).
ITEM_KINDS = ("step", "task", "endpoint", "pipeline", "blueprint", "deployment")
# Sites whose image Valohai requires.
REQUIRED_IMAGE_KINDS = ("step", "endpoint")
# Items of these kinds share one namespace of names.
_NAMESPACE = {"blueprint": "pipeline"}
# The only keys whose values read_config reads below an item; parse the file with
# ``yamltree.parse(text, keep_keys=SITE_KEYS)`` and the rest (commands, parameters, inputs:
# most of a large file) is never built. A key read here must be added here. The kinds are
# here because an item's keys may be merged in from a mapping anywhere.
SITE_KEYS = frozenset({"name", "image", "nodes", "override", MERGE_KEY, *ITEM_KINDS})


class NotAValohaiConfig(Exception):
    """The document is not a list of items Valohai can read."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class ImageSite(FrozenRecord):
    """One place that names (or should name) an image.

    ``node`` is the image value as written: for an image that comes through an alias it is
    the anchored node, so diagnostics and fixes land on the text that really holds it.
    ``anchor_node`` is the key (or item key) to point at when there is no image.
    ``version_dependent`` says that PyYAML 6.0.4 reads another image here (``other_image``,
    None when it reads none), because merge sources disagree.
    """

    __slots__ = ("kind", "yaml_path", "owner", "node", "anchor_node", "image_key", "via_alias",
                 "required", "version_dependent", "other_image", "merge_key", "written")
    kind: str  # "step", "endpoint" or "pipeline"
    yaml_path: str
    owner: str  # human name of the site: "step 'train'", "pipeline 'p' node 'n'"
    node: Optional[AnyNode]
    anchor_node: AnyNode
    image_key: Optional[AnyNode]
    via_alias: bool
    required: bool
    version_dependent: bool
    other_image: Optional[AnyNode]
    # The first merge key on the way to the image: where a version-dependent image is decided.
    merge_key: Optional[AnyNode]
    # The image value as it stands at the image key: an Alias when it names an anchor.
    written: Optional[AnyNode]

    def __init__(self, kind: str, yaml_path: str, owner: str, node: Optional[AnyNode],
                 anchor_node: AnyNode, image_key: Optional[AnyNode], via_alias: bool,
                 required: bool, version_dependent: bool = False,
                 other_image: Optional[AnyNode] = None, merge_key: Optional[AnyNode] = None,
                 written: Optional[AnyNode] = None) -> None:
        set_field(self, "kind", kind)
        set_field(self, "yaml_path", yaml_path)
        set_field(self, "owner", owner)
        set_field(self, "node", node)
        set_field(self, "anchor_node", anchor_node)
        set_field(self, "image_key", image_key)
        set_field(self, "via_alias", via_alias)
        set_field(self, "required", required)
        set_field(self, "version_dependent", version_dependent)
        set_field(self, "other_image", other_image)
        set_field(self, "merge_key", merge_key)
        set_field(self, "written", written)


class Ignored(FrozenRecord):
    """A part of the file that Valohai ignores (VIL007): ``node`` is what to point at."""

    __slots__ = ("node", "yaml_path", "message", "reason")
    node: AnyNode
    yaml_path: str
    message: str
    # Why it is ignored: "kind" (a second kind key), "duplicate" (a key) or "redefined".
    reason: str

    def __init__(self, node: AnyNode, yaml_path: str, message: str,
                 reason: str = "kind") -> None:
        set_field(self, "node", node)
        set_field(self, "yaml_path", yaml_path)
        set_field(self, "message", message)
        set_field(self, "reason", reason)


class ValohaiConfig(Record):
    __slots__ = ("sites", "ignored", "shadowed_items")
    sites: list[ImageSite]
    ignored: list[Ignored]
    # Indexes of the items a later item of the same kind and name replaces.
    shadowed_items: set[int]

    def __init__(self, sites: Optional[list[ImageSite]] = None,
                 ignored: Optional[list[Ignored]] = None,
                 shadowed_items: Optional[set[int]] = None) -> None:
        self.sites = [] if sites is None else sites
        self.ignored = [] if ignored is None else ignored
        self.shadowed_items = set() if shadowed_items is None else shadowed_items


def _name_of(mapping: Optional[AnyNode]) -> Optional[str]:
    if isinstance(mapping, Mapping):
        _, name = mapping_get(mapping, "name")
        name = resolve(name)
        if isinstance(name, Scalar):
            return name.value
    return None


def _name_key(mapping: Optional[AnyNode]) -> Optional[tuple[object, str]]:
    """The item's name as valohai-yaml compares names, and the name as written.

    valohai-yaml keys items by the loaded name in a dict, so Python's equality decides:
    ``1``, ``01``, ``1.0`` and ``true`` are one name, and so are ``~`` and ``null``. An item
    without a ``name`` key has no name (valohai-yaml rejects it for that).
    """
    if isinstance(mapping, Mapping):
        _, name = mapping_get(mapping, "name")
        name = resolve(name)
        if isinstance(name, Scalar):
            return (_loaded(name), name.value)
    return None


def _loaded(node: Scalar) -> object:
    """The value PyYAML's ``safe_load`` gives for ``node``."""
    kind = scalar_type(node)
    if kind == "str":
        return node.value
    import yaml

    tag = node.tag if node.tag is not None and node.tag != "!" else f"tag:yaml.org,2002:{kind}"
    try:
        return yaml.constructor.SafeConstructor().construct_object(
            yaml.ScalarNode(tag, node.value)
        )
    except (yaml.YAMLError, ValueError):
        # A tag or value safe_load cannot load (the file fails to load): equal to itself only.
        return (tag, node.value)


_NAME_SHOWN = 60


def _describe(kind: str, name: Optional[str]) -> str:
    if name is None:
        return kind
    if len(name) > _NAME_SHOWN:
        # Messages stay one readable line even for a generated megabyte of name.
        name = f"{name[: _NAME_SHOWN - 20]}...({len(name)} characters)"
    return f"{kind} {name!r}"


def find_image_sites(root: Optional[AnyNode]) -> list[ImageSite]:
    """Every image site Valohai uses, in file order of the items that own them."""
    return read_config(root).sites


def read_config(root: Optional[AnyNode]) -> ValohaiConfig:
    """The file as Valohai reads it: its image sites and the parts it ignores.

    Raises ``NotAValohaiConfig`` when the top level is not a list, or an item is not a
    mapping (valohai-yaml rejects the whole file).
    """
    config = ValohaiConfig()
    if root is None:
        return config
    top = resolve(root)
    if isinstance(top, Scalar) and scalar_type(top) == "null":
        # What safe_load reads as None (``~``, an empty document, ``!!null``): no items.
        return config
    if not isinstance(top, Sequence):
        kind = "a mapping" if isinstance(top, Mapping) else "a scalar"
        raise NotAValohaiConfig(
            f"top level is {kind}; a valohai.yaml is a list of items (`- step: ...`)",
            root.start,
        )
    reader = _Reader(config)
    # (namespace, loaded name) -> the index, kind key and written name of the last item so named.
    named: dict[tuple[str, object], tuple[int, AnyNode, str, str]] = {}
    for index, raw_item in enumerate(top.items):
        item = resolve(raw_item)
        if not isinstance(item, Mapping):
            raise NotAValohaiConfig(
                f"item [{index}] is {_what(item)}, not a mapping; Valohai rejects the file",
                raw_item.start,
            )
        chosen: Optional[tuple[str, AnyNode, Optional[AnyNode]]] = None
        for kind in ITEM_KINDS:
            key_node, raw_value = mapping_get(item, kind)
            if key_node is None:
                continue
            if chosen is None:
                chosen = (kind, key_node, raw_value)
            else:
                config.ignored.append(Ignored(
                    key_node, f"[{index}].{kind}",
                    f"Valohai ignores this {kind}: the item is read as a {chosen[0]}",
                ))
        reader.duplicates(item, ITEM_KINDS, f"[{index}]")
        if chosen is None:
            continue
        kind, key_node, raw_value = chosen
        base = f"[{index}].{kind}"
        value = resolve(raw_value)
        through_alias = (
            isinstance(raw_item, Alias)
            or isinstance(raw_value, Alias)
            or _merged_in(item, key_node)
        )
        if kind in REQUIRED_IMAGE_KINDS:
            reader.duplicates(value, ("name", "image"), base)
            site = _image_site(kind, base, value, key_node, through_alias, required=True)
            config.sites.append(reader.versioned(site, item, [kind, "image"]))
        elif kind in ("pipeline", "blueprint"):
            reader.duplicates(value, ("name", "nodes"), base)
            config.sites.extend(reader.pipeline_sites(item, kind, base, value, through_alias))
        name = _name_key(value)
        if name is None:
            continue
        namespace = _NAMESPACE.get(kind, kind)
        earlier = named.get((namespace, name[0]))
        if earlier is not None:
            earlier_index, earlier_key, earlier_name, earlier_base = earlier
            config.ignored.append(Ignored(
                earlier_key, earlier_base,
                f"Valohai ignores this {namespace} {_shown(earlier_name)}: item [{index}]"
                " redefines it",
                "redefined",
            ))
            config.shadowed_items.add(earlier_index)
            # Its images are not run: drop its sites.
            prefix = f"[{earlier_index}]."
            config.sites = [s for s in config.sites if not s.yaml_path.startswith(prefix)]
        named[(namespace, name[0])] = (index, key_node, name[1], base)
    config.ignored.sort(key=lambda ignored: ignored.node.start)
    return config


def _shown(name: str) -> str:
    if len(name) > _NAME_SHOWN:
        name = f"{name[: _NAME_SHOWN - 20]}...({len(name)} characters)"
    return repr(name)


def _what(node: Optional[AnyNode]) -> str:
    """What an item that is not a mapping is: a scalar or a list (an alias is resolved)."""
    if isinstance(node, Scalar):
        kind = scalar_type(node)
        if kind == "null":
            return "empty (null)"
        return f"a {'string' if kind == 'str' else kind} ({_shown(node.value)})"
    return "a list"


class _Reader:
    """Reads sites with the per-key caches of PyYAML 6.0.4's merge order kept across items."""

    def __init__(self, config: ValohaiConfig) -> None:
        self.config = config
        self.memos: dict[str, dict[int, list[tuple[AnyNode, AnyNode]]]] = {}

    def duplicates(self, mapping: Optional[AnyNode], keys: tuple[str, ...], base: str) -> None:
        """Report the earlier of two own keys of ``mapping`` that are the same (the last wins)."""
        if not isinstance(mapping, Mapping):
            return
        last: dict[str, AnyNode] = {}
        for k, _ in mapping.pairs:
            for name in keys:
                if key_is(k, name):
                    earlier = last.get(name)
                    if earlier is not None:
                        self.config.ignored.append(Ignored(
                            earlier, f"{base}.{name}",
                            f"Valohai ignores this {name!r}: a later {name!r} in the same"
                            " mapping wins",
                            "duplicate",
                        ))
                    last[name] = k
                    break

    def get_604(self, mapping: Mapping, key: str) -> Optional[AnyNode]:
        memo = self.memos.setdefault(key, {})
        return mapping_get_last_source_wins(mapping, key, memo)[1]

    def versioned(self, site: ImageSite, start: Mapping, path: list[Union[str, int]]) -> ImageSite:
        """``site`` marked version dependent when PyYAML 6.0.4 reads another image there.

        ``path`` is the lookups from the mapping ``start`` to the image: a key of a mapping,
        an index of a list.
        """
        merge_key = _merge_key_on_path(start, path)
        if merge_key is None:
            return site
        node: Optional[AnyNode] = start
        for step in path:
            node = resolve(node)
            if isinstance(step, str) and isinstance(node, Mapping):
                node = self.get_604(node, step)
            elif isinstance(step, int) and isinstance(node, Sequence) and step < len(node.items):
                node = node.items[step]
            else:
                node = None
                break
        other = resolve(node)
        if _same_value(site.node, other):
            return site
        return ImageSite(
            site.kind, site.yaml_path, site.owner, site.node, site.anchor_node, site.image_key,
            site.via_alias, site.required, version_dependent=True, other_image=other,
            merge_key=merge_key, written=site.written,
        )

    def pipeline_sites(
        self, item: Mapping, kind: str, base: str, pipeline: Optional[AnyNode],
        through_alias: bool,
    ) -> list[ImageSite]:
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
            self.duplicates(node, ("name", "override"), f"{base}.nodes[{j}]")
            override_key, raw_override = mapping_get(node, "override")
            override = resolve(raw_override)
            if override_key is None or not isinstance(override, Mapping):
                continue
            self.duplicates(override, ("image",), f"{base}.nodes[{j}].override")
            _, image = mapping_get(override, "image")
            if image is None:
                continue
            owner = f"{_describe('pipeline', pipeline_name)} {_describe('node', _name_of(node))}"
            site = _image_site(
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
            sites.append(self.versioned(site, item, [kind, "nodes", j, "override", "image"]))
        return sites


def _merge_key_on_path(start: Mapping, path: list[Union[str, int]]) -> Optional[AnyNode]:
    """The first merge key of the mappings met on the spec's way along ``path``, if any."""
    node: Optional[AnyNode] = start
    for step in path:
        node = resolve(node)
        if isinstance(node, Mapping):
            for k, _ in node.pairs:
                if is_merge_key(k):
                    return k
            if not isinstance(step, str):
                return None
            node = mapping_get(node, step)[1]
        elif isinstance(node, Sequence) and isinstance(step, int):
            # The index came from enumerating this very list (the spec's reading).
            node = node.items[step]
        else:
            return None
    return None


def _same_value(a: Optional[AnyNode], b: Optional[AnyNode]) -> bool:
    if a is b:
        return True
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return a.value == b.value and scalar_type(a) == scalar_type(b)
    return False


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
        written=image,
    )


def _merged_in(mapping: Mapping, key_node: Optional[AnyNode]) -> bool:
    """Whether ``key_node`` came from a ``<<`` merge, i.e. is written outside ``mapping``."""
    return key_node is not None and not any(k is key_node for k, _ in mapping.pairs)


__all__ = [
    "ITEM_KINDS",
    "MERGE_TAG",
    "SITE_KEYS",
    "Ignored",
    "ImageSite",
    "NotAValohaiConfig",
    "ValohaiConfig",
    "find_image_sites",
    "read_config",
]
