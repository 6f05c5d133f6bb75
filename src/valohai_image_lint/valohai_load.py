"""Would Valohai load this file? The checks behind VIL000 beyond libyaml's.

The linter reads files with libyaml; Valohai (valohai-yaml) reads them with PyYAML's
pure-Python ``yaml.safe_load``, which rejects some text that libyaml accepts: a tab where the
pure-Python scanner does not allow one, a tag it has no constructor for (``!ref``), a value its
constructor cannot build (``2024-02-30``, ``0b_``, a plain ``=``), an anchor defined twice, a
mapping key that is a list or mapping, a bad merge value (``<<: 5``). Running the pure-Python
loader costs about ten times libyaml's parse, so it runs only when the file holds something
that can make the two disagree (a *trigger*); ``tests/test_valohai_oracle.py`` checks on
generated files that every file the pure-Python loader rejects and libyaml accepts is caught.
Merge values and chains are checked on the tree first, so an ordinary file with merges does
not pay for the pure-Python loader.
"""

from __future__ import annotations

import datetime
import re
import sys
from typing import Optional

from valohai_image_lint.yamltree import (
    MAX_DEPTH,
    MERGE_KEY,
    Alias,
    AnyNode,
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlError,
    is_merge_key,
    resolve,
)

PREFIX = "Valohai cannot load this: "

# The patterns are compiled when first searched (re caches them): a file is searched only
# for those whose trigger it holds, and most files hold few of them.
# A directive line (``%YAML 1.2``, ``%TAG``): the loaders differ on versions and handles.
_DIRECTIVE = (r"^%", re.MULTILINE)
# Plain scalars that PyYAML's resolver types but its constructor cannot build: dates that do
# not exist and times (checked below), ``0b_``/``0x_`` ints, and the ``=`` value tag.
_DATE = (r"(?<![\w.:-])([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?=([Tt]|[ \t]+[0-9])?)", 0)
_BAD_NUMBER = (r"(?<![\w.])[-+]?0[bx]_", 0)
_VALUE_TAG = (
    r"(?:^|(?<=[\[{,:?-])|(?<=[\[{,:?-][ \t]))=(?=[ \t]*(?:$|[,\]}#]))", re.MULTILINE
)
# A block scalar header with a comment right after it (``>#``): libyaml allows it, the
# pure-Python scanner wants a space first.
_BLOCK_HEADER = (r"[|>][-+0-9]*#", 0)
# A tag: "!" starting a token and followed by more than a space (``! x``, the non-specific
# tag, is read alike by both loaders).
_TAG = (r"(?:^|(?<=[\s\[{,:]))!(?=[^\s])", re.MULTILINE)
# A key that may be a list or a mapping (unhashable to PyYAML) where the tree was not built:
# a flow collection before ``:``, an explicit ``?`` key, an alias key (``*a : x``).
# (Three patterns, each searched only when the text holds its own trigger: ``{parameters}``
# is in nearly every file, "?" and "*" are rarer.)
_FLOW_KEY = (r"[\]}][ \t]*:", 0)
_EXPLICIT_KEY = (r"(?:^[ \t]*(?:-[ \t]+)*|[\[{,][ \t]*)\?(?=[ \t\r\n])", re.MULTILINE)
_ALIAS_KEY = (r"\*[^\s,\[\]{}]+[ \t]+:", 0)

# Each pattern with its triggers: groups of strings, every match of it holds one string of
# each group.
_PATTERNS = (
    ((("!",),), _TAG),
    ((("%",),), _DIRECTIVE),
    ((("0b_", "0x_"),), _BAD_NUMBER),
    ((("=",),), _VALUE_TAG),
    ((("]", "}"),), _FLOW_KEY),
    ((("?",),), _EXPLICIT_KEY),
    ((("*",),), _ALIAS_KEY),
    ((("#",), ("|", ">")), _BLOCK_HEADER),
)


def load_problem(text: str, document: Document) -> Optional[YamlError]:
    """Why Valohai cannot load ``text``, which libyaml read into ``document``; None if it can."""
    merge_problem = _merge_problem(text, document)
    if merge_problem is not None:
        return merge_problem
    suspect = _trigger(text, document)
    if suspect is None:
        return None
    return _pure_python_problem(text, suspect)


def _trigger(text: str, document: Document) -> Optional[int]:
    """Where the text may hold something only the pure-Python loader rejects, or None."""
    candidates: list[int] = []
    # Tabs; a BOM, NEL or Unicode line break inside the text (the two scanners disagree on
    # where these may stand).
    for char in ("\t", "\x85", "\u2028", "\u2029"):
        index = text.find(char)
        if index >= 0:
            candidates.append(index)
    index = text.find("\ufeff", 1)
    if index >= 0:
        candidates.append(index)
    for offset in (document.duplicate_anchor_offset, document.collection_key_offset):
        if offset >= 0:
            candidates.append(offset)
    # In flow context the pure-Python scanner ends a plain scalar at "?" (``{a?b: 1}`` is an
    # error there); libyaml reads it as part of the scalar.
    if "?" in text and ("[" in text or "{" in text):
        question = _question_in_flow(text)
        if question >= 0:
            candidates.append(question)
    # A pattern is searched for only when the text holds what every match of it contains: a
    # search scans the whole text position by position, a substring test costs next to nothing.
    for triggers, pattern in _PATTERNS:
        if all(any(part in text for part in group) for group in triggers):
            match = re.compile(*pattern).search(text)
            if match is not None:
                candidates.append(match.start())
    if "-" in text:
        for match in re.compile(*_DATE).finditer(text):
            try:
                datetime.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                candidates.append(match.start())
                break
            if match[4] is not None:  # a time too: let the loader judge its fields
                candidates.append(match.start())
                break
    return min(candidates) if candidates else None


def _question_in_flow(text: str) -> int:
    """The first "?" that may stand in a flow collection, or -1.

    Judged by lines: a "?" after a comment's "#" does not count; one counts when its line
    (before it) or the line above holds a "[", "{" or "," (a flow collection open there).
    """
    index = text.find("?")
    while index >= 0:
        line_start = text.rfind("\n", 0, index) + 1
        before = text[line_start:index]
        comment = re.search(r"(?:^|[ \t])#", before)
        if comment is None or any(q in before[: comment.start()] for q in "'\""):
            previous_start = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
            previous = text[previous_start:line_start]
            if any(c in before or c in previous for c in "[{,"):
                return index
        index = text.find("?", index + 1)
    return -1


def _pure_python_problem(text: str, suspect: int) -> Optional[YamlError]:
    import yaml

    # The tree is at most MAX_DEPTH deep and PyYAML recurses twice per level: make room
    # whatever our caller's stack, so only what Valohai rejects anyway is reported.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 1000))
    try:
        yaml.safe_load(text)  # exactly what valohai-yaml does
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.context_mark is None:
            problem = f"{exc.context}: {problem}"
        elif exc.context and problem == "second occurrence":  # a duplicate anchor
            problem = exc.context.split(";")[0]
        return YamlError(PREFIX + problem, mark.index if mark is not None else suspect)
    except yaml.YAMLError as exc:
        return YamlError(PREFIX + str(exc).splitlines()[0], suspect)
    except RecursionError:
        return YamlError(PREFIX + "PyYAML runs out of recursion reading it", suspect)
    except (ValueError, TypeError, OverflowError) as exc:
        # The constructor failing on an implicitly typed scalar (a date that does not exist).
        return YamlError(f"{PREFIX}PyYAML cannot build a value: {exc}", suspect)
    finally:
        sys.setrecursionlimit(limit)
    return None


def _merge_problem(text: str, document: Document) -> Optional[YamlError]:
    """Check every merge key on the tree; a ``<<`` it cannot see makes it ask the loader.

    PyYAML rejects a merge value that is not a mapping or a list of mappings, and recurses
    once per link of a merge chain (RecursionError past a few hundred). ``<<`` written where
    the tree was not built (a dropped value), or inside a string, is left to the loader.
    """
    written = text.count(MERGE_KEY)
    if written == 0:  # ``!!merge`` keys without ``<<`` hold a "!": the loader checks them
        return None
    seen: set[int] = set()
    merges = 0
    chains: dict[int, int] = {}
    stack: list[Node] = [n for n in [document.root, *document.anchored] if n is not None]
    mappings: list[Mapping] = []
    while stack:
        node = stack.pop()
        if id(node) in seen or isinstance(node, (Scalar, Alias)):
            continue
        seen.add(id(node))
        if isinstance(node, Sequence):
            stack.extend(node.items)
            continue
        if not isinstance(node, Mapping):
            continue
        mappings.append(node)
        for key, value in node.pairs:
            stack.append(value)
            if not is_merge_key(key):
                continue
            merges += 1
            target = resolve(value)
            if isinstance(target, Sequence):
                for item in target.items:
                    if not isinstance(resolve(item), Mapping):
                        return _pure_python_problem(text, item.start)
            elif not isinstance(target, Mapping):
                return _pure_python_problem(text, value.start)
    if merges < written:
        return _pure_python_problem(text, text.find(MERGE_KEY))
    for mapping in mappings:
        depth, cycle_at = _chain_depth(mapping, chains)
        if cycle_at is not None:
            # PyYAML deletes a merge key before following it, so some cycles load: ask it.
            return _pure_python_problem(text, cycle_at)
        if depth > MAX_DEPTH:
            return YamlError(
                f"{PREFIX}merge keys chain more than {MAX_DEPTH} mappings deep; PyYAML"
                " recurses once per link",
                mapping.start,
            )
    return None


def _sources(mapping: Mapping) -> list[tuple[AnyNode, Mapping]]:
    out: list[tuple[AnyNode, Mapping]] = []
    for key, value in mapping.pairs:
        if is_merge_key(key):
            target = resolve(value)
            items = target.items if isinstance(target, Sequence) else [value]
            for item in items:
                source = resolve(item)
                if isinstance(source, Mapping):
                    out.append((key, source))
    return out


def _chain_depth(mapping: Mapping, memo: dict[int, int]) -> tuple[int, Optional[int]]:
    """The longest merge chain from ``mapping``, and where a cycle is, if there is one."""
    if id(mapping) in memo:
        return memo[id(mapping)], None
    on_path: set[int] = set()
    stack: list[tuple[Mapping, bool]] = [(mapping, False)]
    while stack:
        current, expanded = stack.pop()
        ident = id(current)
        if expanded:
            on_path.discard(ident)
            memo[ident] = 1 + max(
                (memo.get(id(source), 0) for _, source in _sources(current)), default=0
            )
            continue
        if ident in memo:
            continue
        on_path.add(ident)
        stack.append((current, True))
        for key, source in _sources(current):
            if id(source) in on_path:
                return 0, key.start
            if id(source) not in memo:
                stack.append((source, False))
    return memo[id(mapping)], None
