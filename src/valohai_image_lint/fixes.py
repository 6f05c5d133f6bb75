"""Fixes: apply text edits to exact spans, verify the result, write it back atomically.

The model is ruff's. A rule attaches a ``Fix`` (a title, ``Edit``\\ s and an applicability) to
its ``Diagnostic``; nothing else is needed to take part. ``fix_source`` then:

1. keeps the fixes that may apply (safe ones, plus unsafe ones when asked);
2. orders them by where their first edit starts and skips any whose edits overlap an edit
   already taken (identical edits are shared: an anchored image used by several aliases
   gets one diagnostic per site but is edited once);
3. splices the edits into the text, so every byte outside the edited spans stays as it was
   (BOM, line endings, comments, quoting, a missing final newline);
4. parses the result again and refuses it if it no longer parses, is no longer a Valohai
   config, or changed an image site that no applied edit touches (a fix that fails this is
   dropped alone, the others still apply); a Python source (``.py``) is parsed as Python, and
   a fix that would leave a Python image and its valohai.yaml step naming different images
   where they named the same is refused (``sites.project``);
5. lints the result and repeats until nothing more applies, at most ``MAX_PASSES`` times.

``write_fixed`` writes the result atomically beside the original (through a symlink to its
target) and refuses to if the file changed on disk since it was read (checked again just before
the rename); a file with several hard links is written in place so the links stay one file.
"""

from __future__ import annotations

import contextlib
import os
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Optional

from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from valohai_image_lint.source import SourceFile

MAX_PASSES = 10

# Lints one file and returns its diagnostics after suppressions (``linter.lint_source``).
LintFunction = Callable[[SourceFile], list[Diagnostic]]


class FixWriteError(Exception):
    """A fixed file could not be written; the message names the file and says why."""


@dataclass(frozen=True)
class RejectedFix:
    """A fix that was not applied because its result failed verification."""

    diagnostic: Diagnostic
    reason: str

    def __str__(self) -> str:
        d = self.diagnostic
        start = d.span.start
        assert d.fix is not None
        return (f"{d.path}:{start.line}:{start.column}: {d.code} fix"
                f" {d.fix.title!r} not applied: {self.reason}")


@dataclass
class FixOutcome:
    """What fixing one file did."""

    original: SourceFile
    fixed: SourceFile
    # Diagnostics whose fix was applied, each as reported in the pass that applied it.
    applied: list[Diagnostic] = field(default_factory=list)
    rejected: list[RejectedFix] = field(default_factory=list)
    # Diagnostics of the fixed text.
    remaining: list[Diagnostic] = field(default_factory=list)
    # False when fixes still applied after MAX_PASSES passes.
    converged: bool = True

    @property
    def changed(self) -> bool:
        return self.fixed.text != self.original.text

    def fixed_bytes(self) -> bytes:
        return self.fixed.to_bytes()


def fix_is_wanted(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    if fix is None or not fix.edits:
        return False
    return fix.applicability is Applicability.SAFE or unsafe


def fix_source(
    source: SourceFile,
    lint: LintFunction,
    *,
    unsafe: bool = False,
    diagnostics: Optional[list[Diagnostic]] = None,
    max_passes: int = MAX_PASSES,
) -> FixOutcome:
    """Apply the fixes of ``lint(source)`` until none applies; nothing is written.

    ``diagnostics`` may pass ``lint(source)`` when the caller already has it.
    """
    current = source
    outcome = FixOutcome(original=source, fixed=source)
    rejected_keys: set[tuple[str, Optional[str], tuple[str, ...]]] = set()
    seen = {source.text}
    found = lint(current) if diagnostics is None else diagnostics
    for _ in range(max_passes):
        candidates = [
            d for d in found if fix_is_wanted(d, unsafe) and _fix_key(d) not in rejected_keys
        ]
        if not candidates:
            break
        groups, malformed = _select(candidates, len(current.text))
        text, taken, rejected = _apply_verified(current.text, groups, source.path)
        rejected = malformed + rejected
        for item in rejected:
            outcome.rejected.append(item)
            rejected_keys.add(_fix_key(item.diagnostic))
        if text == current.text:
            if rejected:
                continue  # what conflicted with the rejected fixes may apply now
            break  # the fixes left the text as it was: nothing more will change
        outcome.applied.extend(taken)
        current = SourceFile(current.path, text, current.has_bom)
        found = lint(current)
        if text in seen:
            # Fixes that undo each other: stop rather than go round.
            outcome.converged = False
            break
        seen.add(text)
    else:
        outcome.converged = not any(
            fix_is_wanted(d, unsafe) and _fix_key(d) not in rejected_keys for d in found
        )
    outcome.fixed = current
    outcome.remaining = found
    return outcome


def _fix_key(diagnostic: Diagnostic) -> tuple[str, Optional[str], tuple[str, ...]]:
    """Names a fix across passes, whose offsets shift as other fixes apply."""
    assert diagnostic.fix is not None
    return (diagnostic.code, diagnostic.yaml_path,
            tuple(edit.content for edit in diagnostic.fix.edits))


@dataclass
class _Group:
    """One set of edits and every diagnostic that asked for exactly it."""

    edits: tuple[Edit, ...]
    diagnostics: list[Diagnostic]


def _select(
    candidates: list[Diagnostic], text_length: int
) -> tuple[list[_Group], list[RejectedFix]]:
    """Group identical fixes in start order; set aside those whose edits are malformed."""
    groups: dict[tuple[tuple[int, int, str], ...], _Group] = {}
    for diagnostic in candidates:
        assert diagnostic.fix is not None
        edits = tuple(sorted(diagnostic.fix.edits, key=_edit_order))
        key = tuple((e.span.start.offset, e.span.end.offset, e.content) for e in edits)
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(edits, [diagnostic])
        else:
            group.diagnostics.append(diagnostic)
    ordered = sorted(groups.values(),
                     key=lambda g: (_edit_order(g.edits[0]), g.diagnostics[0].code))
    malformed = [
        RejectedFix(d, "its edits overlap each other or lie outside the file")
        for g in ordered if not _well_formed(g.edits, text_length) for d in g.diagnostics
    ]
    return [g for g in ordered if _well_formed(g.edits, text_length)], malformed


def _edit_order(edit: Edit) -> tuple[int, int]:
    return (edit.span.start.offset, edit.span.end.offset)


def _well_formed(edits: tuple[Edit, ...], text_length: int) -> bool:
    previous_end = 0
    for edit in edits:
        start, end = edit.span.start.offset, edit.span.end.offset
        if not 0 <= start <= end <= text_length or start < previous_end:
            return False
        previous_end = end
    return True


def _take_non_overlapping(groups: list[_Group]) -> tuple[list[_Group], list[Edit]]:
    """Take the groups, in order, whose edits clash with no edit already taken.

    The taken edits never overlap, so they stay sorted by start and by end alike: a new edit
    can only clash with its neighbours, found by bisection (a file with ten thousand fixes
    must not cost ten thousand squared comparisons).
    """
    taken: list[_Group] = []
    keys: list[tuple[int, int, str]] = []
    edits: list[Edit] = []
    for group in groups:
        if any(_clashes(_edit_key(edit), keys) for edit in group.edits):
            continue  # left for the next pass, on the text this pass produces
        taken.append(group)
        for edit in group.edits:
            key = _edit_key(edit)
            index = bisect_left(keys, key)
            if index == len(keys) or keys[index] != key:
                keys.insert(index, key)
                edits.append(edit)
    edits.sort(key=_edit_order)
    return taken, edits


def _edit_key(edit: Edit) -> tuple[int, int, str]:
    return (edit.span.start.offset, edit.span.end.offset, edit.content)


def _clashes(key: tuple[int, int, str], keys: list[tuple[int, int, str]]) -> bool:
    """Does ``key`` conflict with a different edit among the sorted, non-overlapping ``keys``?
    Two insertions at one point conflict too: their order would be a guess."""
    start, end, _ = key
    index = bisect_left(keys, (start,))
    if index > 0 and keys[index - 1][1] > start and keys[index - 1] != key:
        return True
    while index < len(keys) and (keys[index][0] < end or keys[index][0] == start):
        if keys[index] != key:
            return True
        index += 1
    return False


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Splice sorted, non-overlapping ``edits`` into ``text``."""
    parts: list[str] = []
    position = 0
    for edit in edits:
        start, end = edit.span.start.offset, edit.span.end.offset
        if start < position or end < start or end > len(text):
            raise ValueError(f"edit at offset {start} overlaps another or leaves the text")
        parts.append(text[position:start])
        parts.append(edit.content)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _apply_verified(
    text: str, groups: list[_Group], path: Optional[str] = None
) -> tuple[str, list[Diagnostic], list[RejectedFix]]:
    """Apply what does not overlap; if the result fails verification, find the culprits by
    trying the fixes one at a time on top of those already accepted."""
    taken, edits = _take_non_overlapping(groups)
    if not taken:
        return text, [], []
    result = apply_edits(text, edits)
    if verify_fixed(text, result, edits, path) is None:
        return result, [d for g in taken for d in g.diagnostics], []
    accepted: list[_Group] = []
    rejected: list[RejectedFix] = []
    result = text
    for group in taken:
        trial_groups, trial_edits = _take_non_overlapping([*accepted, group])
        trial = apply_edits(text, trial_edits)
        reason = verify_fixed(text, trial, trial_edits, path)
        if reason is None:
            accepted = trial_groups
            result = trial
        else:
            rejected.extend(RejectedFix(d, reason) for d in group.diagnostics)
    return result, [d for g in accepted for d in g.diagnostics], rejected


# ---------------------------------------------------------------------------------------------
# Verification


_SiteValue = Optional[tuple[str, str]]


def _site_values(text: str) -> tuple[dict[str, tuple[_SiteValue, int, int]], Optional[str]]:
    """Each image site's path -> (value, start, end) of ``text``, or the reason it cannot be
    read as a Valohai config."""
    from valohai_image_lint.model import NotAValohaiConfig, find_image_sites
    from valohai_image_lint.yamltree import Scalar, YamlError, parse, scalar_type

    try:
        document = parse(text)
    except YamlError as exc:
        return {}, f"the result is not valid YAML ({exc.message})"
    if document.document_count > 1:
        return {}, "the result holds more than one YAML document"
    try:
        sites = find_image_sites(document.root)
    except NotAValohaiConfig as exc:
        return {}, f"the result is not a Valohai config ({exc.message})"
    values: dict[str, tuple[_SiteValue, int, int]] = {}
    for site in sites:
        node = site.node
        value: _SiteValue
        if node is None:
            value, start, end = None, -1, -1
        elif isinstance(node, Scalar):
            value, start, end = (scalar_type(node), node.value), node.start, node.end
        else:
            value = (type(node).__name__, text[node.start : node.end])
            start, end = node.start, node.end
        values[site.yaml_path] = (value, start, end)
        written = site.written
        if written is not None and written is not node:
            # An alias at the site: an edit may write the image out in its place.
            values[f"{site.yaml_path}\0alias"] = (None, written.start, written.end)
    return values, None


def _touches(edit: Edit, start: int, end: int) -> bool:
    edit_start, edit_end = edit.span.start.offset, edit.span.end.offset
    if start < 0:
        return False
    if edit_start == edit_end:
        return start <= edit_start <= end
    return edit_start < end and start < edit_end


def _touch_test(edits: list[Edit]) -> Callable[[int, int], bool]:
    """``touched(start, end)``: does any of ``edits`` touch that range (as ``_touches``)?

    A large file can have thousands of sites and of edits; the edits apply_edits accepts do
    not overlap, so sorted by start their ends rise too, and bisection finds the few that can
    touch a range. Any other list is searched one edit at a time.
    """
    from bisect import bisect_left

    spans = sorted((edit.span.start.offset, edit.span.end.offset) for edit in edits)
    ends = [end for _, end in spans]
    if any(a > b for a, b in zip(ends, ends[1:])):
        return lambda start, end: any(_touches(edit, start, end) for edit in edits)

    def touched(start: int, end: int) -> bool:
        if start < 0:
            return False
        # Only an edit ending at or after ``start`` and starting at or before ``end`` can.
        i = bisect_left(ends, start)
        while i < len(spans) and spans[i][0] <= end:
            edit_start, edit_end = spans[i]
            if (start <= edit_start <= end if edit_start == edit_end
                    else edit_start < end and start < edit_end):
                return True
            i += 1
        return False

    return touched


def verify_fixed(before: str, after: str, edits: list[Edit],
                 path: Optional[str] = None) -> Optional[str]:
    """Why ``after`` (``before`` with ``edits`` applied) must not be written, or None.

    It must parse as a single-document Valohai config with the same image sites; a site that
    no edit touches must hold the same value, and an edited one must still be a string.
    A Python ``path`` (``.py``) is read as Python, and an image it names like its valohai.yaml
    step must stay the same as that step's.
    """
    python = path is not None and path.endswith(".py")
    if python:
        from valohai_image_lint.sites.project import out_of_step
        from valohai_image_lint.sites.python import site_values

        assert path is not None
        old, old_error = site_values(before, path)
        new, new_error = site_values(after, path)
    else:
        old, old_error = _site_values(before)
        new, new_error = _site_values(after)
    if new_error is not None:
        return new_error
    if old_error is not None:
        return f"the original could not be checked ({old_error})"
    old_paths = {path for path in old if "\0" not in path}
    new_paths = {path for path in new if "\0" not in path}
    if old_paths != new_paths:
        added = sorted(new_paths - old_paths)
        removed = sorted(old_paths - new_paths)
        return ("the result changes which image sites exist"
                f" (added {added or 'none'}, removed {removed or 'none'})")
    touched = _touch_test(edits)
    edited: list[str] = []
    for site, (value, start, end) in old.items():
        if "\0" in site:
            continue
        new_value = new[site][0]
        alias = old.get(f"{site}\0alias")
        if touched(start, end) or (alias is not None and touched(alias[1], alias[2])):
            if new_value is None or new_value[0] != "str":
                return f"the image at {site} would no longer be a string"
            edited.append(site)
        elif new_value != value:
            return f"the image at {site} would change although no edit touches it"
    if python:
        assert path is not None
        return out_of_step(path, before, after)
    # Everything else Valohai reads must stay as it was: an edit of an anchored scalar must
    # not change a parameter default (or anything) that names the same anchor.
    changed = _changed_item(before, after, edited)
    if changed is not None:
        return f"a value that is not an edited image would change ({changed})"
    if path is None:
        return None
    from valohai_image_lint.sites.project import yaml_out_of_step

    return yaml_out_of_step(path, before, after)


_PATH_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")
_MASKED = object()


def _mask_trie(paths: list[str]) -> dict[object, object]:
    trie: dict[object, object] = {}
    for path in paths:
        steps: list[object] = [
            int(index) if index else key for index, key in _PATH_STEP.findall(path)
        ]
        level = trie
        for step in steps[:-1]:
            level = level.setdefault(step, {})  # type: ignore[assignment]
        level[steps[-1]] = _MASKED
    return trie


def _changed_item(before: str, after: str, edited: list[str]) -> Optional[str]:
    """The first item whose Valohai-read value differs between the texts, the images at
    ``edited`` paths set aside; None when none does."""
    import sys

    from valohai_image_lint.model import ITEM_KINDS, read_config
    from valohai_image_lint.yamltree import Mapping, Sequence, mapping_get, parse, resolve

    trie = _mask_trie(edited)
    signatures = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for text in (before, after):
            document = parse(text)
            root = resolve(document.root)
            items: list[object] = []
            if isinstance(root, Sequence):
                canon = _Canon()
                # Items a later same-named item replaces are not read (an anchored image in
                # one may be edited for the item that replaces it).
                shadowed = read_config(document.root).shadowed_items
                for index, raw_item in enumerate(root.items):
                    item = resolve(raw_item)
                    if index in shadowed:
                        items.append(None)
                        continue
                    kind = next(
                        (k for k in ITEM_KINDS
                         if isinstance(item, Mapping) and mapping_get(item, k)[0] is not None),
                        None,
                    )
                    if kind is None or not isinstance(item, Mapping):
                        items.append(None)
                        continue
                    mask = trie.get(index, {})
                    mask = mask.get(kind) if isinstance(mask, dict) else None
                    value = mapping_get(item, kind)[1]
                    items.append((kind, canon.value(value, mask)))
            signatures.append(items)
    finally:
        sys.setrecursionlimit(limit)
    old, new = signatures
    for index, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return f"item [{index}]"
    return None if len(old) == len(new) else "the number of items"


class _Canon:
    """A value's canonical hash as YAML loads it: aliases followed, merges applied (the spec's
    order), duplicate keys the last; masked paths replaced by a placeholder."""

    def __init__(self) -> None:
        self.memo: dict[int, int] = {}
        self.effective: dict[int, dict[tuple[str, object], object]] = {}

    def value(self, raw: object, mask: object) -> int:
        from valohai_image_lint.yamltree import Mapping, Scalar, Sequence, resolve, scalar_type

        if mask is _MASKED:
            return 0
        node = resolve(raw)  # type: ignore[arg-type]
        mask_map = mask if isinstance(mask, dict) else None
        if mask_map is None and id(node) in self.memo:
            return self.memo[id(node)]
        result: int
        if node is None:
            result = hash(None)
        elif isinstance(node, Scalar):
            result = hash(("s", scalar_type(node), node.value))
        elif isinstance(node, Sequence):
            result = hash(("q", tuple(
                self.value(item, mask_map.get(j) if mask_map else None)
                for j, item in enumerate(node.items)
            )))
        elif isinstance(node, Mapping):
            pairs = []
            for key, value in self.pairs(node).items():
                sub = mask_map.get(key[1]) if mask_map and key[0] == "str" else None
                pairs.append((key, self.value(value, sub)))
            result = hash(("m", frozenset(pairs)))
        else:  # pragma: no cover - resolve() leaves no aliases
            result = 0
        if mask_map is None:
            self.memo[id(node)] = result
        return result

    def pairs(self, mapping: object) -> dict[tuple[str, object], object]:
        """The mapping's keys after merges, each with its value node."""
        from valohai_image_lint.yamltree import (
            Mapping,
            Scalar,
            Sequence,
            is_merge_key,
            resolve,
            scalar_type,
        )

        assert isinstance(mapping, Mapping)
        cached = self.effective.get(id(mapping))
        if cached is not None:
            return cached
        self.effective[id(mapping)] = {}  # a merge cycle ends here
        sources: list[Mapping] = []
        own: dict[tuple[str, object], object] = {}
        for key, value in mapping.pairs:
            if is_merge_key(key):
                target = resolve(value)
                found = target.items if isinstance(target, Sequence) else [value]
                # A later ``<<`` wins over an earlier one; in one list the first mapping wins.
                sources[0:0] = [m for m in (resolve(n) for n in found) if isinstance(m, Mapping)]
                continue
            k = resolve(key)
            name: tuple[str, object] = (
                (scalar_type(k), k.value)
                if isinstance(k, Scalar)
                else ("node", self.value(k, None))
            )
            own[name] = value
        result: dict[tuple[str, object], object] = {}
        for source in reversed(sources):
            result.update(self.pairs(source))
        result.update(own)
        self.effective[id(mapping)] = result
        return result


# ---------------------------------------------------------------------------------------------
# Showing and writing


def applied_summary(applied: list[Diagnostic]) -> list[str]:
    """One line per kind of applied fix: ``VIL010 (private-image-short-name): title``."""
    lines = []
    for diagnostic in applied:
        assert diagnostic.fix is not None
        lines.append(f"{diagnostic.code} ({diagnostic.name}): {diagnostic.fix.title}")
    return lines


def describe_applied(applied: dict[str, list[str]]) -> str:
    """The ``--show-fixes`` listing, like ruff's: per file, how often each fix applied."""
    from collections import Counter

    total = sum(len(lines) for lines in applied.values())
    if total == 0:
        return "No fixes applied.\n"
    noun = "problem" if total == 1 else "problems"
    out = [f"Fixed {total} {noun}:"]
    for path, lines in applied.items():
        if not lines:
            continue
        out.append(f"- {path}:")
        for line, count in Counter(lines).items():
            out.append(f"    {count} \u00d7 {line}")
    return "\n".join(out) + "\n"


_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")


def unified_diff(path: str, before: SourceFile, after: SourceFile) -> str:
    """A unified diff of the file's text (BOM included) with ``a/`` and ``b/`` paths, that
    ``git apply`` and ``patch -p1`` accept: lines split at LF only, CRLF kept inside them,
    and a missing final newline marked."""

    def lines(source: SourceFile) -> list[str]:
        text = ("\ufeff" if source.has_bom else "") + source.text
        return _LINE_RE.findall(text)

    name = path.replace(os.sep, "/").lstrip("/")
    if name.startswith("./"):
        name = name[2:]
    old, new = lines(before), lines(after)
    if len(old) == len(new):
        # Fixes rewrite scalars within their lines: a line-by-line comparison finds every
        # change in linear time, where difflib's matcher goes quadratic on the repetitive
        # lines of a large config.
        diff = _same_length_diff(old, new, f"a/{name}", f"b/{name}")
    else:
        import difflib

        diff = list(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"))
    out: list[str] = []
    for line in diff:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _unified_range(start: int, length: int) -> str:
    """A hunk range as difflib writes it: 1-based start, length omitted when it is 1."""
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def _same_length_diff(old: list[str], new: list[str], from_name: str, to_name: str,
                      context: int = 3) -> list[str]:
    """Unified diff lines for two texts of equal line count whose lines changed in place."""
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    if not changed:
        return []
    out = [f"--- {from_name}\n", f"+++ {to_name}\n"]
    hunks: list[list[int]] = [[changed[0]]]
    for index in changed[1:]:
        if index - hunks[-1][-1] - 1 <= 2 * context:  # as difflib: up to 2n equal lines join
            hunks[-1].append(index)
        else:
            hunks.append([index])
    for hunk in hunks:
        first = max(0, hunk[0] - context)
        last = min(len(old), hunk[-1] + context + 1)
        length = last - first
        out.append(f"@@ -{_unified_range(first, length)} +{_unified_range(first, length)} @@\n")
        index = first
        while index < last:
            if old[index] == new[index]:
                out.append(" " + old[index])
                index += 1
                continue
            run_end = index
            while run_end < last and old[run_end] != new[run_end]:
                run_end += 1
            out.extend("-" + line for line in old[index:run_end])
            out.extend("+" + line for line in new[index:run_end])
            index = run_end
    return out


def write_fixed(path: str, original: bytes, fixed: bytes) -> None:
    """Replace the content of the file at ``path`` (a symlink's target) with ``fixed``.

    Refuses if the file no longer holds ``original``: it changed since it was read, and writing
    would lose that change. That is checked once more after the new content is complete on
    disk, immediately before it replaces the old, so an edit saved meanwhile is kept. The new
    file gets the old one's permissions. A file with several hard links is written in place
    (as ruff does), so every name keeps seeing the same file; see ``_write_in_place``.
    """
    import stat
    import tempfile

    target = os.path.realpath(path)
    info = _unchanged(path, target, original)
    if info.st_nlink > 1:
        _write_in_place(path, target, original, fixed)
        return
    directory, name = os.path.split(target)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp",
                                                 dir=directory or ".")
    except OSError as exc:
        raise FixWriteError(f"{path}: cannot write a temporary file beside it:"
                            f" {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(fixed)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        if hasattr(os, "chown") and hasattr(os, "getuid") and (
            info.st_uid != os.getuid() or info.st_gid != os.getgid()
        ):
            # Only root may give a file away; the content matters more than the owner.
            with contextlib.suppress(OSError):
                os.chown(temporary, info.st_uid, info.st_gid)
        # The last moment before the rename: an edit saved while the temporary file was being
        # written would otherwise be replaced and lost.
        _unchanged(path, target, original)
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise FixWriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def _unchanged(path: str, target: str, original: bytes) -> os.stat_result:
    """The file's ``stat`` when it still holds ``original``; ``FixWriteError`` otherwise."""
    from valohai_image_lint.source import read_source

    try:
        current = read_source(target)
        info = os.stat(target)
    except OSError as exc:
        raise FixWriteError(f"{path}: cannot read it again before writing:"
                            f" {exc.strerror or exc}") from None
    if current != original:
        raise FixWriteError(f"{path}: changed on disk while it was being fixed; not written"
                            " (run again)")
    return info


def _write_in_place(path: str, target: str, original: bytes, fixed: bytes) -> None:
    """Overwrite a hard-linked file in place, never leaving half of the new content.

    A copy of the original goes beside the file first, and the space the new content needs is
    reserved before the first byte is overwritten. Should a write still fail, the original is
    written back; only if that fails too does the copy stay, and the error names it.
    """
    import tempfile

    directory, name = os.path.split(target)
    try:
        descriptor, backup = tempfile.mkstemp(prefix=f".{name}.", suffix=".orig",
                                              dir=directory or ".")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(original)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(backup)
        raise FixWriteError(f"{path}: cannot write a copy of it beside it:"
                            f" {exc.strerror or exc}") from None
    keep_backup = False
    try:
        # Non-blocking: a FIFO swapped in meanwhile cannot make the open wait for a reader.
        handle_fd = os.open(target, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        with contextlib.suppress(OSError):  # removed meanwhile: the error is the open's
            os.unlink(backup)
        raise FixWriteError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        _unchanged(path, target, original)
        try:
            if len(fixed) > len(original) and hasattr(os, "posix_fallocate"):
                _reserve(handle_fd, len(fixed))
            _overwrite(handle_fd, fixed)
        except OSError:
            try:
                _overwrite(handle_fd, original)
            except OSError:
                keep_backup = True
            raise
    except OSError as exc:
        saved = f"; its original content is in {backup}" if keep_backup else ""
        raise FixWriteError(f"{path}: cannot write: {exc.strerror or exc}{saved}") from None
    finally:
        os.close(handle_fd)
        if not keep_backup:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def _reserve(descriptor: int, size: int) -> None:
    """Allocate ``size`` bytes, so that overwriting cannot run out of space half way."""
    import errno

    try:
        os.posix_fallocate(descriptor, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise


def _overwrite(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        offset += os.pwrite(descriptor, view[offset:], offset)
    os.ftruncate(descriptor, len(data))
    os.fsync(descriptor)


__all__ = [
    "MAX_PASSES",
    "Edit",
    "Fix",
    "FixOutcome",
    "FixWriteError",
    "LintFunction",
    "RejectedFix",
    "apply_edits",
    "describe_applied",
    "fix_source",
    "unified_diff",
    "verify_fixed",
    "write_fixed",
]
