"""YAML with spans: a light node tree built from libyaml's event stream.

``yaml.compose`` resolves every scalar's tag in Python and costs most of a parse; we only need
the structure, the scalars' text and where each node is. Aliases are kept as references to
the anchored node and never expanded, so an alias bomb costs no more than its text. The tree
is built with an explicit stack, so deep nesting cannot hit Python's recursion limit.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import yaml

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import Loader as _Parser  # type: ignore[assignment]


class YamlError(Exception):
    """The text is not YAML we can read; ``offset`` (0-based) says where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class Node:
    __slots__ = ("anchor", "end", "start", "tag")

    def __init__(self, start: int, end: int, tag: Optional[str], anchor: Optional[str]) -> None:
        self.start = start
        self.end = end
        self.tag = tag
        self.anchor = anchor


class Scalar(Node):
    __slots__ = ("style", "value")

    def __init__(
        self,
        start: int,
        end: int,
        tag: Optional[str],
        anchor: Optional[str],
        value: str,
        style: Optional[str],
    ) -> None:
        super().__init__(start, end, tag, anchor)
        self.value = value
        # None for plain, otherwise one of ' " | >
        self.style = style

    @property
    def plain(self) -> bool:
        return self.style is None or self.style == ""

    def __repr__(self) -> str:
        return f"Scalar({self.value!r}@{self.start})"


class Sequence(Node):
    __slots__ = ("flow", "items")

    def __init__(
        self, start: int, tag: Optional[str], anchor: Optional[str], flow: bool
    ) -> None:
        super().__init__(start, start, tag, anchor)
        self.items: list[AnyNode] = []
        self.flow = flow


class Mapping(Node):
    __slots__ = ("flow", "pairs")

    def __init__(
        self, start: int, tag: Optional[str], anchor: Optional[str], flow: bool
    ) -> None:
        super().__init__(start, start, tag, anchor)
        self.pairs: list[tuple[AnyNode, AnyNode]] = []
        self.flow = flow


class Alias(Node):
    __slots__ = ("target",)

    def __init__(self, start: int, end: int, name: str, target: Node) -> None:
        super().__init__(start, end, None, name)
        self.target = target


AnyNode = Union[Scalar, Sequence, Mapping, Alias]


class Document:
    """The parsed file: its root node (None when empty) and how many documents it held."""

    __slots__ = ("document_count", "root", "second_document_offset")

    def __init__(
        self, root: Optional[AnyNode], document_count: int, second_document_offset: int
    ) -> None:
        self.root = root
        self.document_count = document_count
        self.second_document_offset = second_document_offset


def parse(text: str) -> Document:
    """Build the node tree of the first document; count the rest.

    Raises ``YamlError`` for text that libyaml rejects or an alias to an unknown anchor.
    """
    parser: Any = _Parser(text)
    anchors: dict[str, Node] = {}
    # Each open collection with the key waiting for its value (mappings only).
    stack: list[tuple[Union[Sequence, Mapping], Optional[AnyNode]]] = []
    root: Optional[AnyNode] = None
    documents = 0
    second_offset = -1
    scalar_event = yaml.ScalarEvent
    alias_event = yaml.AliasEvent
    mapping_start = yaml.MappingStartEvent
    sequence_start = yaml.SequenceStartEvent
    collection_end = yaml.CollectionEndEvent
    document_start = yaml.DocumentStartEvent
    try:
        while True:
            event = parser.get_event()
            if event is None:
                break
            cls = event.__class__
            node: AnyNode
            if cls is scalar_event:
                node = Scalar(
                    event.start_mark.index,
                    event.end_mark.index,
                    event.tag,
                    event.anchor,
                    event.value,
                    event.style,
                )
                if event.anchor is not None:
                    anchors[event.anchor] = node
            elif cls is alias_event:
                target = anchors.get(event.anchor)
                if target is None:
                    raise YamlError(
                        f"found undefined alias {event.anchor!r}", event.start_mark.index
                    )
                node = Alias(event.start_mark.index, event.end_mark.index, event.anchor, target)
            elif cls is mapping_start or cls is sequence_start:
                collection: Union[Sequence, Mapping]
                if cls is mapping_start:
                    collection = Mapping(
                        event.start_mark.index, event.tag, event.anchor, bool(event.flow_style)
                    )
                else:
                    collection = Sequence(
                        event.start_mark.index, event.tag, event.anchor, bool(event.flow_style)
                    )
                if event.anchor is not None:
                    anchors[event.anchor] = collection
                if documents == 1:
                    stack.append((collection, None))
                continue
            elif issubclass(cls, collection_end):
                if documents != 1:
                    continue
                finished, _ = stack.pop()
                finished.end = event.end_mark.index
                node = finished
            elif cls is document_start:
                documents += 1
                if documents == 2:
                    second_offset = event.start_mark.index
                continue
            else:
                continue
            if documents != 1:
                continue
            if not stack:
                root = node
                continue
            parent, key = stack[-1]
            if isinstance(parent, Sequence):
                parent.items.append(node)
            elif key is None:
                stack[-1] = (parent, node)
            else:
                parent.pairs.append((key, node))
                stack[-1] = (parent, None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}" if exc.context_mark is None else problem
        raise YamlError(problem, mark.index if mark is not None else 0) from None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise YamlError(str(exc).splitlines()[0], getattr(exc, "position", 0) or 0) from None
    return Document(root, documents, second_offset)


def resolve(node: Optional[AnyNode]) -> Optional[AnyNode]:
    """Follow an alias to the node it names."""
    if isinstance(node, Alias):
        return node.target  # type: ignore[return-value]
    return node


MERGE_KEY = "<<"
_MAX_MERGE_DEPTH = 32


def mapping_get(mapping: Mapping, key: str) -> tuple[Optional[AnyNode], Optional[AnyNode]]:
    """Look ``key`` up with YAML merge-key semantics; return (key node, value node).

    Explicit keys win over merged ones; in ``<<: [*a, *b]`` earlier mappings win. Cycles and
    very deep merge chains stop the search rather than loop.
    """
    seen: set[int] = set()
    todo: list[tuple[Mapping, int]] = [(mapping, 0)]
    while todo:
        current, depth = todo.pop(0)
        if id(current) in seen or depth > _MAX_MERGE_DEPTH:
            continue
        seen.add(id(current))
        found: Optional[tuple[AnyNode, AnyNode]] = None
        merges: list[Mapping] = []
        for k, v in current.pairs:
            if isinstance(k, Scalar):
                if k.value == key and k.tag != "tag:yaml.org,2002:merge":
                    found = (k, v)
                elif k.value == MERGE_KEY and k.plain:
                    merges.extend(_merge_sources(v))
        if found is not None:
            return found
        # Merged mappings come after every explicit key of this level, in order.
        todo[0:0] = [(m, depth + 1) for m in merges]
    return None, None


def _merge_sources(value: AnyNode) -> list[Mapping]:
    resolved = resolve(value)
    if isinstance(resolved, Mapping):
        return [resolved]
    if isinstance(resolved, Sequence):
        return [m for m in (resolve(item) for item in resolved.items) if isinstance(m, Mapping)]
    return []


_RESOLVER: Optional[yaml.resolver.Resolver] = None


def scalar_type(node: Scalar) -> str:
    """The YAML type a scalar resolves to: ``str``, ``int``, ``float``, ``bool``, ``null``, …"""
    global _RESOLVER
    tag = node.tag
    if tag is None or tag == "!":
        if not node.plain or tag == "!":
            return "str"
        if _RESOLVER is None:
            _RESOLVER = yaml.resolver.Resolver()
        tag = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
