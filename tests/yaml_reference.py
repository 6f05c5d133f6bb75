"""A reference YAML loader whose merge keys follow the spec, whatever PyYAML is installed.

PyYAML 6.0.4 (yaml/pyyaml#953) changed ``<<: [*a, *b]``: for keys of two or more characters
the last source wins, where the YAML merge spec and PyYAML <= 6.0.3 give the first. The
linter resolves merges the spec's way on every PyYAML, so the tests' oracle must too:
``SpecSafeLoader`` is PyYAML's pure-Python ``SafeLoader`` with the ``flatten_mapping`` of
PyYAML 6.0.3, and ``spec_merges()`` installs that method for code that calls
``yaml.safe_load`` itself (valohai-yaml).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, SequenceNode


def flatten_mapping(self: SafeConstructor, node: MappingNode) -> None:
    """PyYAML 6.0.3's ``SafeConstructor.flatten_mapping``, unchanged but for the types."""
    merge: list[Any] = []
    index = 0
    while index < len(node.value):
        key_node, value_node = node.value[index]
        if key_node.tag == "tag:yaml.org,2002:merge":
            del node.value[index]
            if isinstance(value_node, MappingNode):
                flatten_mapping(self, value_node)
                merge.extend(value_node.value)
            elif isinstance(value_node, SequenceNode):
                submerge = []
                for subnode in value_node.value:
                    if not isinstance(subnode, MappingNode):
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"expected a mapping for merging, but found {subnode.id}",
                            subnode.start_mark,
                        )
                    flatten_mapping(self, subnode)
                    submerge.append(subnode.value)
                submerge.reverse()
                for value in submerge:
                    merge.extend(value)
            else:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "expected a mapping or list of mappings for merging, but found"
                    f" {value_node.id}",
                    value_node.start_mark,
                )
        elif key_node.tag == "tag:yaml.org,2002:value":
            key_node.tag = "tag:yaml.org,2002:str"
            index += 1
        else:
            index += 1
    if merge:
        node.value = merge + node.value


class SpecSafeLoader(yaml.SafeLoader):
    """The pure-Python safe loader with the spec's merge order."""

    flatten_mapping = flatten_mapping  # type: ignore[assignment]


def spec_load(text: str) -> Any:
    """``yaml.safe_load`` with the spec's merge order on any PyYAML."""
    return yaml.load(text, Loader=SpecSafeLoader)


@contextmanager
def spec_merges() -> Iterator[None]:
    """Make every ``yaml.safe_load`` (pure-Python or libyaml) merge the spec's way for a while."""
    saved = SafeConstructor.flatten_mapping
    SafeConstructor.flatten_mapping = flatten_mapping  # type: ignore[method-assign]
    try:
        yield
    finally:
        SafeConstructor.flatten_mapping = saved  # type: ignore[method-assign]
