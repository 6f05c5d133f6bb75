"""YAML with spans: a light node tree built from libyaml's event stream.

``yaml.compose`` resolves every scalar's tag in Python and costs most of a parse; we only need
the structure, the scalars' text and where each node is. Aliases are kept as references to
the anchored node and never expanded, so an alias bomb costs no more than its text. The tree
is built with an explicit stack, so deep nesting cannot hit Python's recursion limit.
"""

from __future__ import annotations

import gc
from collections.abc import Set as AbstractSet
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
        # Assigned here rather than through Node.__init__: one call less per scalar.
        self.start = start
        self.end = end
        self.tag = tag
        self.anchor = anchor
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
        self.start = start
        self.end = start
        self.tag = tag
        self.anchor = anchor
        self.items: list[AnyNode] = []
        self.flow = flow


class Mapping(Node):
    # ``lookups`` caches mapping_get's answers by key (merge chains are shared by many items).
    __slots__ = ("flow", "lookups", "pairs")

    def __init__(
        self, start: int, tag: Optional[str], anchor: Optional[str], flow: bool
    ) -> None:
        self.start = start
        self.end = start
        self.tag = tag
        self.anchor = anchor
        self.pairs: list[tuple[AnyNode, AnyNode]] = []
        self.flow = flow
        self.lookups: Optional[dict[str, _Found]] = None


class Alias(Node):
    __slots__ = ("target",)

    def __init__(self, start: int, end: int, name: str, target: Node) -> None:
        super().__init__(start, end, None, name)
        self.target = target


AnyNode = Union[Scalar, Sequence, Mapping, Alias]
# What mapping_get answers: (key node, value node), both None when the key is absent.
_Found = tuple[Optional[AnyNode], Optional[AnyNode]]


class Document:
    """The parsed file: its root node (None when empty) and how many documents it held.

    Also what the Valohai load check (``valohai_load``) needs, gathered on the way at no
    cost to speak of: every anchored node (the only way into values the tree dropped), the
    first anchor defined twice and the first mapping key that is a collection (PyYAML's
    loader rejects both; libyaml does not).
    """

    __slots__ = (
        "anchored",
        "collection_key_offset",
        "document_count",
        "duplicate_anchor_offset",
        "root",
        "second_document_offset",
    )

    def __init__(
        self,
        root: Optional[AnyNode],
        document_count: int,
        second_document_offset: int,
        anchored: Optional[list[Node]] = None,
        duplicate_anchor_offset: int = -1,
        collection_key_offset: int = -1,
    ) -> None:
        self.root = root
        self.document_count = document_count
        self.second_document_offset = second_document_offset
        self.anchored: list[Node] = anchored if anchored is not None else []
        self.duplicate_anchor_offset = duplicate_anchor_offset
        self.collection_key_offset = collection_key_offset


# libyaml rescans every open flow level at each token, so deep flow nesting costs the square
# of its depth (20 000 levels: over a second; a megabyte of "[": hours). Real files nest a
# few levels, and PyYAML's pure-Python loader, which Valohai reads files with, recurses twice
# per level and fails with RecursionError near 490 levels from a shallow stack (sooner from a
# deeper one). Stopping at 400 reports every file Valohai cannot load for its depth, whatever
# its caller's stack, and keeps the parse of any file within about twice the cost of its events.
MAX_DEPTH = 400


def parse(text: str, keep_keys: Optional[AbstractSet[str]] = None) -> Document:
    """Build the node tree of the first document; count the rest.

    With ``keep_keys``, mappings two or more levels below the root keep only the pairs whose
    key is a scalar in ``keep_keys``; the others are not built at all. The linter reads a few
    keys of each item, and most of a large file is commands and parameters. Anchored nodes are
    built (and registered) wherever they are, since an alias anywhere may name them.

    Raises ``YamlError`` for text that libyaml rejects or an alias to an unknown anchor.
    """
    try:
        return _build(text, keep_keys)
    except _LibyamlNestingLimit as exc:
        # The libyaml of PyYAML >= 6.0.4 stops at 1000 flow levels, and its scanner, which
        # reads ahead, can stop there before we have seen level MAX_DEPTH (PyYAML 6.0.3 has
        # no such limit). Read the text up to that point again: 1000 levels are open there,
        # so our own check fires at the place (and with the message) it does on any PyYAML.
        try:
            _build(text[: exc.offset], keep_keys)
        except YamlError as inner:
            if inner.message.startswith(_DEPTH_MESSAGE):
                raise inner from None
        raise YamlError(exc.message, exc.offset) from None


_DEPTH_MESSAGE = f"collections nest more than {MAX_DEPTH} levels deep"


class _LibyamlNestingLimit(YamlError):
    """libyaml's own nesting limit (PyYAML >= 6.0.4), met before ours."""


def _build(text: str, keep_keys: Optional[AbstractSet[str]]) -> Document:
    parser: Any = _Parser(text)
    next_event = parser.get_event
    anchors: dict[str, Node] = {}
    anchored: list[Node] = []
    duplicate_anchor = -1
    collection_key = -1
    # The open collections around the current one: each with the key waiting for its value
    # and the ``skipping`` to go back to when it ends.
    stack: list[tuple[Optional[Union[Sequence, Mapping]], Optional[AnyNode], int]] = []
    current: Optional[Union[Sequence, Mapping]] = None
    key: Optional[AnyNode] = None
    # 0: building. Otherwise skipping the value of a dropped pair: 1 before it starts, one
    # more for each collection of it that is open.
    skipping = 0
    prune = keep_keys is not None
    keep: AbstractSet[str] = keep_keys if keep_keys is not None else frozenset()
    root: Optional[AnyNode] = None
    documents = 0
    second_offset = -1
    # Collections open around the current event, in every document.
    depth = 0
    scalar_event = yaml.ScalarEvent
    alias_event = yaml.AliasEvent
    mapping_start = yaml.MappingStartEvent
    sequence_start = yaml.SequenceStartEvent
    mapping_end = yaml.MappingEndEvent
    sequence_end = yaml.SequenceEndEvent
    document_start = yaml.DocumentStartEvent
    # The events and nodes form no cycles, but the collector would walk the growing tree
    # again and again while it is built: a fifth of a large file's lint time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # Ordered by how often each event comes. Nodes of later documents and of dropped
        # values are built only when anchored (an alias may name them), and not attached.
        while True:
            event = next_event()
            cls = event.__class__
            node: AnyNode
            if cls is scalar_event:
                anchor = event.anchor
                if anchor is None and (skipping or documents != 1):
                    if skipping == 1:
                        skipping = 0
                    continue
                start = event.start_mark.index
                end = event.end_mark.index
                tag = event.tag
                if anchor is not None or tag is not None:
                    start = _content_start(text, start, end)
                node = Scalar(start, end, tag, anchor, event.value, event.style)
                if anchor is not None:
                    if anchor in anchors and duplicate_anchor < 0:
                        duplicate_anchor = event.start_mark.index
                    anchors[anchor] = node
                    anchored.append(node)
                    if skipping or documents != 1:
                        if skipping == 1:
                            skipping = 0
                        continue
            elif cls is mapping_end or cls is sequence_end:
                depth -= 1
                if documents != 1:
                    continue
                if skipping:
                    skipping -= 1
                    if skipping == 1:
                        skipping = 0
                    continue
                assert current is not None  # libyaml balances starts and ends
                current.end = event.end_mark.index
                node = current
                current, key, skipping = stack.pop()
                if skipping:
                    # An anchored node inside a dropped value: registered, not attached.
                    if skipping == 1:
                        skipping = 0
                    continue
            elif cls is mapping_start or cls is sequence_start:
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(
                        f"{_DEPTH_MESSAGE}; a Valohai configuration needs a handful",
                        event.start_mark.index,
                    )
                anchor = event.anchor
                if anchor is None and skipping:
                    skipping += 1
                    continue
                collection: Union[Sequence, Mapping]
                tag = event.tag
                start = event.start_mark.index
                if anchor is not None or tag is not None:
                    start = _content_start(text, start, len(text))
                if cls is mapping_start:
                    collection = Mapping(start, tag, anchor, bool(event.flow_style))
                else:
                    collection = Sequence(start, tag, anchor, bool(event.flow_style))
                if anchor is not None:
                    if anchor in anchors and duplicate_anchor < 0:
                        duplicate_anchor = event.start_mark.index
                    anchors[anchor] = collection
                    anchored.append(collection)
                if documents == 1:
                    stack.append((current, key, skipping))
                    current = collection
                    key = None
                    skipping = 0
                continue
            elif cls is alias_event:
                target = anchors.get(event.anchor)
                if target is None:
                    raise YamlError(
                        f"found undefined alias {event.anchor!r}", event.start_mark.index
                    )
                if skipping or documents != 1:
                    if skipping == 1:
                        skipping = 0
                    continue
                node = Alias(event.start_mark.index, event.end_mark.index, event.anchor, target)
            elif cls is document_start:
                documents += 1
                if documents == 2:
                    second_offset = event.start_mark.index
                continue
            elif event is None:
                break
            else:
                continue
            if current is None:
                root = node
            elif isinstance(current, Sequence):
                current.items.append(node)
            elif key is not None:
                current.pairs.append((key, node))
                key = None
            else:
                # A key that is a collection (or an alias to one): PyYAML's constructor
                # rejects it as unhashable, libyaml does not.
                if (
                    node.__class__ is not Scalar
                    and collection_key < 0
                    and (node.__class__ is not Alias or not isinstance(node.target, Scalar))
                ):
                    collection_key = node.start
                if prune and len(stack) > 2 and not (
                    isinstance(node, Scalar) and (node.value in keep or node.tag == MERGE_TAG)
                ):
                    skipping = 1  # drop the pair: skip its value
                else:
                    key = node
    except yaml.MarkedYAMLError as exc:
        message, mark = _marked_message(exc)
        offset = mark.index if mark is not None else 0
        if exc.problem == "exceeded maximum nesting depth":
            raise _LibyamlNestingLimit(message, offset) from None
        raise YamlError(message, offset) from None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        # A reader error's position counts bytes of the UTF-8 that libyaml was given.
        position = getattr(exc, "position", 0) or 0
        offset = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
        raise YamlError(str(exc).splitlines()[0], offset) from None
    finally:
        if collecting:
            gc.enable()
    return Document(root, documents, second_offset, anchored, duplicate_anchor, collection_key)


_STARTS_AT_CONTEXT = ("while scanning a simple key", "while scanning a quoted scalar")


def _marked_message(exc: yaml.MarkedYAMLError) -> tuple[str, Optional[yaml.Mark]]:
    """libyaml's message with its context kept, and the mark to point at.

    "while scanning a simple key that starts at 38:1, could not find expected ':'": the
    context names the construct and where it started. A simple key missing its colon and an
    unclosed quote start where the problem does, so the diagnostic points there; other
    contexts ("while parsing a block mapping", a plain scalar broken by a tab further down)
    only enclose the problem, which is then at the problem mark.
    """
    problem = exc.problem or "invalid YAML"
    context, context_mark, problem_mark = exc.context, exc.context_mark, exc.problem_mark
    if not context:
        return problem, problem_mark or context_mark
    if context_mark is None:
        return f"{context}: {problem}", problem_mark
    where = f"{context_mark.line + 1}:{context_mark.column + 1}"
    message = f"{context} that starts at {where}, {problem}"
    if problem_mark is None or context in _STARTS_AT_CONTEXT:
        return message, context_mark
    return message, problem_mark


# What ends a comment for libyaml: every YAML line break, not only CR and LF.
_LINE_BREAK = frozenset("\r\n\x85\u2028\u2029")
_PROPERTY_GAP = _LINE_BREAK | {" ", "\t"}


def _content_start(text: str, start: int, end: int) -> int:
    """Where a node's content begins after its ``&anchor`` and ``!tag``.

    libyaml's start mark is at the first property, but a diagnostic (and a fix) must cover
    only the value as written: a fix that replaced ``&img python`` would drop the anchor.
    """
    i = start
    while i < end:
        char = text[i]
        if char == "&" or char == "!":
            while i < end and text[i] not in _PROPERTY_GAP:
                i += 1
        elif char in _PROPERTY_GAP:
            i += 1
        elif char == "#":
            while i < end and text[i] not in _LINE_BREAK:
                i += 1
        else:
            break
    return i


def resolve(node: Optional[AnyNode]) -> Optional[AnyNode]:
    """Follow an alias to the node it names."""
    if isinstance(node, Alias):
        return node.target  # type: ignore[return-value]
    return node


MERGE_KEY = "<<"
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"


def is_merge_key(key: Optional[AnyNode]) -> bool:
    """Whether PyYAML takes ``key`` for a merge key.

    A plain ``<<``, ``! <<`` (the bare tag resolves like a plain scalar, quoted or not) and
    anything tagged ``!!merge`` (``!!merge "<<"``); not ``'<<'`` or ``!!str <<``.
    """
    key = resolve(key)
    if not isinstance(key, Scalar):
        return False
    tag = key.tag
    if tag == MERGE_TAG:
        return True
    return key.value == MERGE_KEY and (tag == "!" or (tag is None and key.plain))


def key_is(key: AnyNode, name: str) -> bool:
    """Whether ``key`` reads as the string ``name`` in PyYAML (and is not a merge key)."""
    node: Node = key.target if key.__class__ is Alias else key
    if node.__class__ is not Scalar or node.value != name:
        return False
    tag = node.tag
    if tag is None:
        return name != MERGE_KEY or not node.plain
    return tag == STR_TAG or (tag == "!" and name != MERGE_KEY)


def mapping_get(mapping: Mapping, key: str) -> _Found:
    """Look ``key`` up with YAML merge-key semantics; return (key node, value node).

    Explicit keys win over merged ones; in ``<<: [*a, *b]`` earlier mappings win, each with
    its own merges before the next one (what PyYAML builds). Answers are cached on each
    mapping, so a merge chain shared by many items is walked once per key, and a mapping that
    merges itself (which PyYAML cannot load) ends the search instead of looping.
    """
    cached = mapping.lookups.get(key) if mapping.lookups is not None else None
    if cached is not None:
        return cached
    # Depth-first, children before parents, without recursion: chains can be thousands long.
    on_path: set[int] = set()
    stack: list[tuple[Mapping, Optional[list[Mapping]]]] = [(mapping, None)]
    while stack:
        current, sources = stack.pop()
        if current.lookups is None:
            current.lookups = {}
        if sources is None:
            if key in current.lookups:
                continue
            found: Optional[_Found] = None
            merged: list[Mapping] = []
            for k, v in current.pairs:
                if key_is(k, key):
                    found = (k, v)
                elif is_merge_key(k):
                    # Of two ``<<`` keys the later wins (PyYAML); within one list the
                    # earlier mapping wins.
                    merged[0:0] = _merge_sources(v)
            if found is not None or not merged:
                current.lookups[key] = found if found is not None else _ABSENT
                continue
            on_path.add(id(current))
            stack.append((current, merged))
            stack.extend(
                (source, None) for source in reversed(merged) if id(source) not in on_path
            )
            continue
        on_path.discard(id(current))
        answer = _ABSENT
        for source in sources:
            hit = source.lookups.get(key) if source.lookups is not None else None
            if hit is not None and hit[0] is not None:
                answer = hit
                break
        current.lookups[key] = answer
    return mapping.lookups[key] if mapping.lookups is not None else _ABSENT


_ABSENT: _Found = (None, None)


def merge_sources(mapping: Mapping) -> list[Mapping]:
    """The mappings merged into ``mapping``, in the order its ``<<`` keys and lists name them."""
    sources: list[Mapping] = []
    for k, v in mapping.pairs:
        if is_merge_key(k):
            sources.extend(_merge_sources(v))
    return sources


def mapping_get_last_source_wins(
    mapping: Mapping, key: str, memo: dict[int, list[tuple[AnyNode, AnyNode]]]
) -> _Found:
    """Look ``key`` up as PyYAML 6.0.4 does (yaml/pyyaml#953), for VIL006 to compare.

    6.0.4's ``flatten_mapping`` lists the pairs of every merge source in order, dropping a
    pair whose key string it has already taken (by identity: the same key node reached twice
    through aliases, or any one-character key), then the mapping's own pairs; the last pair
    of a key wins. For keys of two or more characters, a later merge source thus beats an
    earlier one, where the spec (and ``mapping_get``) give the earlier. ``memo`` holds, per
    mapping, its pairs for ``key`` in that order; pass one dict per key.
    """
    on_path: set[int] = set()
    stack: list[tuple[Mapping, bool]] = [(mapping, False)]
    while stack:
        current, expanded = stack.pop()
        ident = id(current)
        if not expanded:
            if ident in memo or ident in on_path:
                continue
            on_path.add(ident)
            stack.append((current, True))
            for source in reversed(merge_sources(current)):
                if id(source) not in memo and id(source) not in on_path:
                    stack.append((source, False))
            continue
        on_path.discard(ident)
        seen: set[int] = set()
        pairs: list[tuple[AnyNode, AnyNode]] = []
        for source in merge_sources(current):
            for pair in memo.get(id(source), ()):
                # PyYAML's composer makes every alias of a key the anchored node itself.
                key_node = pair[0]
                key_id = id(key_node.target if key_node.__class__ is Alias else key_node)
                if key_id not in seen:
                    seen.add(key_id)
                    pairs.append(pair)
        pairs.extend((k, v) for k, v in current.pairs if key_is(k, key))
        memo[ident] = pairs
    found = memo.get(id(mapping))
    if not found:
        return _ABSENT
    k, v = found[-1]
    return (k, v)


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
        # libyaml marks a scalar with the bare "!" tag as plain-implicit whatever its quoting,
        # so PyYAML (which Valohai loads the file with) resolves ``! '3.9'`` to a float.
        if tag is None and not node.plain:
            return "str"
        if _RESOLVER is None:
            _RESOLVER = yaml.resolver.Resolver()
        tag = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
