"""The linting pass: source -> YAML tree (or Python AST) -> image sites -> rules -> diagnostics."""

from __future__ import annotations

import sys
from collections.abc import Sequence as Sequence_
from typing import Callable, Optional

from valohai_image_lint.config import Config, path_matches
from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.model import (
    SITE_KEYS,
    ImageSite,
    NotAValohaiConfig,
    find_image_sites,
    read_config,
)
from valohai_image_lint.reference import ImageReference, InvalidReferenceError, parse_reference
from valohai_image_lint.rules import (
    CheckedSite,
    RuleContext,
    RuleSet,
    match_selector,
    rule_class,
)
from valohai_image_lint.source import Position, SourceError, SourceFile, Span
from valohai_image_lint.valohai_load import load_problem
from valohai_image_lint.yamltree import Scalar, YamlError, parse, scalar_type

SYNTAX_CODE = "VIL000"


def syntax_diagnostic(path: str, message: str, source: Optional[SourceFile], offset: int,
                      line: int = 1, column: int = 1) -> Diagnostic:

    if source is not None:
        offset = min(offset, len(source.text))
        span = source.span(offset, offset)
    else:
        position = Position(offset, line, column)
        span = Span(position, position)
    rule = rule_class(SYNTAX_CODE)
    return Diagnostic(SYNTAX_CODE, rule.name, rule.severity, message, path, span)


def check_sites(source: SourceFile, config: Config, rules: RuleSet,
                lookups: Optional[object] = None) -> tuple[list[Diagnostic], list[CheckedSite]]:
    """Run every enabled rule over the file's image sites."""
    if _is_python(source.path):
        return _check_python(source, config, rules, lookups)
    try:
        document = parse(source.text, keep_keys=SITE_KEYS)
    except YamlError as exc:
        return [syntax_diagnostic(source.path, exc.message, source, exc.offset)], []
    if document.document_count > 1:
        message = (f"file holds {document.document_count} YAML documents; Valohai reads a"
                   " single document")
        return [syntax_diagnostic(source.path, message, source,
                                  document.second_document_offset)], []
    problem = load_problem(source.text, document)
    if problem is not None:
        return [syntax_diagnostic(source.path, problem.message, source, problem.offset)], []
    try:
        valohai = read_config(document.root)
    except NotAValohaiConfig as exc:
        return [syntax_diagnostic(source.path, exc.message, source, exc.offset)], []
    ctx = RuleContext(source, config, lookups, document)
    checked_sites = [_check_site(site) for site in valohai.sites]
    active = rules.for_file(python=False, online=lookups is not None, config=config)
    for checked in checked_sites:
        for rule in active:
            rule.check(checked, ctx)
    for rule in active:
        rule.check_config(valohai, ctx)
    return ctx.diagnostics, checked_sites


def _is_python(path: str) -> bool:
    return path.endswith(".py")


def _python_sites(source: SourceFile) -> Optional[list[ImageSite]]:
    """The sites of a Python source; None (after a note) when Python cannot parse it."""
    from valohai_image_lint.sites.python import NotPython, find_sites, python_line_starts

    if "\x85" in source.text or "\u2028" in source.text or "\u2029" in source.text:
        # Lines as Python counts them: NEL, U+2028 and U+2029 break YAML lines, not Python's.
        source._line_starts = python_line_starts(source.text)
    try:
        return list(find_sites(source))
    except NotPython as exc:
        note(source.path, f"skipped: {exc.message}")
        return None


def _check_python(source: SourceFile, config: Config, rules: RuleSet,
                  lookups: Optional[object]) -> tuple[list[Diagnostic], list[CheckedSite]]:
    sites = _python_sites(source) or []
    ctx = RuleContext(source, config, lookups)
    checked_sites = [_check_site(site) for site in sites]
    active = rules.for_file(python=True, online=lookups is not None, config=config)
    for checked in checked_sites:
        for rule in active:
            rule.check(checked, ctx)
    return ctx.diagnostics, checked_sites


_NOTED: set[tuple[str, str]] = set()


def note(path: str, message: str) -> None:
    """A line on stderr about a file that is not linted (said once per run)."""
    if (path, message) not in _NOTED:
        _NOTED.add((path, message))
        print(f"note: {path}: {message}", file=sys.stderr)


# Parsed once per distinct image string: (reference, None) or (None, why it is invalid).
_REFERENCE_CACHE: dict[str, tuple[Optional[ImageReference], Optional[str]]] = {}


def _check_site(site: ImageSite) -> CheckedSite:
    node = site.node
    if not isinstance(node, Scalar) or scalar_type(node) != "str":
        return CheckedSite(site, None, None, None)
    image = node.value
    cached = _REFERENCE_CACHE.get(image)
    if cached is None:
        try:
            cached = (parse_reference(image), None)
        except InvalidReferenceError as exc:
            cached = (None, str(exc))
        _REFERENCE_CACHE[image] = cached
    ref, error = cached
    return CheckedSite(site, image, ref, error)


# Called with (path, line, column, the code or name) for each unknown code in a noqa comment.
NoqaWarning = Callable[[str, int, int, str], None]


def lint_source(source: SourceFile, config: Config, rules: RuleSet,
                lookups: Optional[object] = None,
                warn: Optional[NoqaWarning] = None) -> list[Diagnostic]:
    """All diagnostics of one decoded file, after suppressions, in file order."""
    diagnostics, sites = check_sites(source, config, rules, lookups)
    # VIL000 is a syntax error, not an opinion: as in ruff, it is reported whatever
    # --select, --ignore or per-file-ignores say, so a narrowed hook never lets broken YAML by.
    diagnostics = [d for d in diagnostics if d.code == SYNTAX_CODE or d.code in rules.codes]
    return finish(source, config, diagnostics, sites, rules.codes, warn)


def lint_bytes(path: str, data: bytes, config: Config, rules: RuleSet,
               lookups: Optional[object] = None, warn: Optional[NoqaWarning] = None
               ) -> tuple[Optional[SourceFile], list[Diagnostic]]:
    python = _is_python(path)
    if python and not (b"prepare" in data and b"valohai" in data):
        return None, []  # no valohai.prepare call: not decoded, not parsed
    try:
        source = SourceFile.from_bytes(path, data)
    except SourceError as exc:
        if python:
            note(path, f"skipped: {exc.message}")
            return None, []
        return None, [syntax_diagnostic(path, exc.message, None, exc.offset, exc.line,
                                        exc.column)]
    return source, lint_source(source, config, rules, lookups, warn)


def finish(source: SourceFile, config: Config, diagnostics: list[Diagnostic],
           sites: Sequence_[CheckedSite] = (), enabled: frozenset[str] = frozenset(),
           warn: Optional[NoqaWarning] = None) -> list[Diagnostic]:
    """Drop what is suppressed (per-file-ignores, ``# noqa``; never VIL000), add VIL100 for
    the ``# noqa`` that silenced nothing when it is enabled, and sort."""
    ignored = _per_file_ignored(source.path, config) - {SYNTAX_CODE}
    # Every directive holds "noqa" in some case (as ruff reads it): a file without one needs
    # no directive reading, and no noqa module.
    if "noqa" not in source.text.lower():
        kept = [d for d in diagnostics if d.code not in ignored]
        kept.sort(key=lambda d: d.sort_key)
        return kept
    from valohai_image_lint.noqa import UNUSED_NOQA, Directives

    comment_after = _python_comment_after if _is_python(source.path) else _comment_after
    directives = Directives(source, _image_lines(source, sites, diagnostics), comment_after)
    kept = []
    for diagnostic in diagnostics:
        if diagnostic.code in ignored:
            continue
        if diagnostic.code != SYNTAX_CODE and directives.suppresses(diagnostic):
            continue
        kept.append(diagnostic)
    if warn is not None:
        for directive, written in directives.unknown():
            position = source.position(directive.start)
            warn(source.path, position.line, position.column, written)
    if UNUSED_NOQA in enabled and UNUSED_NOQA not in ignored:
        kept.extend(directives.unused(enabled, source.path))
    kept.sort(key=lambda d: d.sort_key)
    return kept


def _image_lines(source: SourceFile, sites: Sequence_[CheckedSite],
                 diagnostics: list[Diagnostic]) -> dict[int, int]:
    """The lines where a `# noqa` can silence something: where an image site's value (or a
    diagnostic's span) starts and ends, each with the offset its comment is looked for after."""
    from valohai_image_lint.rules import written_end

    lines: dict[int, int] = {}

    def add(offset: int, line: int) -> None:
        lines[line] = max(lines.get(line, offset), offset)

    for checked in sites:
        node = checked.site.node or checked.site.anchor_node
        start, end = source.position(node.start), source.position(written_end(source.text, node))
        add(end.offset, end.line)
        if start.line != end.line:
            add(start.offset, start.line)
    for diagnostic in diagnostics:
        start, end = diagnostic.span.start, diagnostic.span.end
        add(end.offset, end.line)
        if start.line != end.line:
            add(start.offset, start.line)
    return lines


def _per_file_ignored(path: str, config: Config) -> set[str]:
    codes: set[str] = set()
    for pattern, selectors in config.per_file_ignores:
        if path_matches(pattern, path, config.root):
            for selector in selectors:
                codes.update(match_selector(selector))
    return codes


def _comment_after(source: SourceFile, offset: int, line: int) -> Optional[str]:
    """The comment on ``line`` after ``offset``, skipping quoted text."""
    end = source.line_end_offset(line)
    text = source.text[offset:end]
    quote: Optional[str] = None
    previous = " " if offset == 0 else source.text[offset - 1]
    i = 0
    while i < len(text):
        char = text[i]
        if quote is not None:
            if char == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 1
                else:
                    quote = None
            elif char == "\\" and quote == '"':
                i += 1
        elif char in "'\"" and previous in " \t,[{:":
            quote = char
        elif char == "#" and previous in " \t":
            return text[i:]
        previous = char
        i += 1
    return None


def _python_comment_after(source: SourceFile, offset: int, line: int) -> Optional[str]:
    """As ``_comment_after`` for a Python source: its tokenizer knows what is a comment."""
    from valohai_image_lint.sites.python import comment_between

    return comment_between(source.text, offset, source.line_end_offset(line))


def fails(diagnostics: list[Diagnostic], fail_level: Severity) -> bool:
    return any(d.severity.rank >= fail_level.rank for d in diagnostics)


# Rules that use registry answers: VIL020 wants sizes, the pinning fixes want digests.
SIZE_RULE = "VIL020"
DIGEST_FIX_RULES = ("VIL001", "VIL002", "VIL003")
# Will it start? These need every reference looked up (existence, platform, credentials, pins).
CHECK_RULES = ("VIL013", "VIL014", "VIL015", "VIL016")


def wants_checks(rules: RuleSet) -> tuple[str, ...]:
    """The enabled rules that need the checks' lookups."""
    return tuple(sorted(rules.codes.intersection(CHECK_RULES)))


def lookups_wanted(source: SourceFile, config: Config,
                   rules: RuleSet) -> dict[ImageReference, bool]:
    """The references of a file that the enabled rules want looked up, each mapped to whether
    its size is wanted (else only its digest)."""
    codes = rules.codes
    checks = wants_checks(rules)
    if SIZE_RULE not in codes and not codes.intersection(DIGEST_FIX_RULES) and not checks:
        return {}
    from valohai_image_lint.rules.vil002_floating_tag import is_floating
    from valohai_image_lint.rules.vil020_oversized_image import configured_size

    if _is_python(source.path):
        sites = _python_sites(source) or []
    else:
        try:
            sites = find_image_sites(parse(source.text, keep_keys=SITE_KEYS).root)
        except (YamlError, NotAValohaiConfig):
            return {}
    wanted: dict[ImageReference, bool] = {}
    for checked in (_check_site(site) for site in sites):
        ref = checked.reference
        if ref is None:
            continue
        want_size = SIZE_RULE in codes and configured_size(ref, config) is None
        want_digest = ref.digest is None and (
            ("VIL001" in codes and ref.tag is None)
            or (ref.tag is not None and is_floating(ref.tag, config.floating_tags)
                and "VIL002" in codes)
            or (ref.tag is not None and not is_floating(ref.tag, config.floating_tags)
                and "VIL003" in codes))
        if want_size or want_digest or checks:
            wanted[ref] = wanted.get(ref, False) or want_size
    return wanted
