"""The linting pass: source -> YAML tree -> image sites -> rules -> diagnostics."""

from __future__ import annotations

import re
from typing import Optional

from valohai_image_lint.config import Config, path_matches
from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.model import NotAValohaiConfig, find_image_sites
from valohai_image_lint.reference import InvalidReferenceError, parse_reference
from valohai_image_lint.rules import (
    CheckedSite,
    RuleContext,
    RuleSet,
    all_rules,
    match_selector,
)
from valohai_image_lint.source import SourceError, SourceFile
from valohai_image_lint.yamltree import Scalar, YamlError, parse, scalar_type

SYNTAX_CODE = "VIL000"


def syntax_diagnostic(path: str, message: str, source: Optional[SourceFile], offset: int,
                      line: int = 1, column: int = 1) -> Diagnostic:
    from valohai_image_lint.source import Position, Span

    if source is not None:
        offset = min(offset, len(source.text))
        span = source.span(offset, offset)
    else:
        position = Position(offset, line, column)
        span = Span(position, position)
    rule = all_rules()[SYNTAX_CODE]
    return Diagnostic(SYNTAX_CODE, rule.name, rule.severity, message, path, span)


def check_sites(source: SourceFile, config: Config, rules: RuleSet,
                lookups: Optional[object] = None) -> tuple[list[Diagnostic], list[CheckedSite]]:
    """Run every enabled rule over the file's image sites."""
    try:
        document = parse(source.text)
    except YamlError as exc:
        return [syntax_diagnostic(source.path, exc.message, source, exc.offset)], []
    if document.document_count > 1:
        message = (f"file holds {document.document_count} YAML documents; Valohai reads a"
                   " single document")
        return [syntax_diagnostic(source.path, message, source,
                                  document.second_document_offset)], []
    try:
        sites = find_image_sites(document.root)
    except NotAValohaiConfig as exc:
        return [syntax_diagnostic(source.path, exc.message, source, exc.offset)], []
    ctx = RuleContext(source, config, lookups)
    checked_sites = [_check_site(site) for site in sites]
    for checked in checked_sites:
        for rule in rules.rules:
            rule.check(checked, ctx)
    return ctx.diagnostics, checked_sites


_REFERENCE_CACHE: dict[str, tuple[object, Optional[str]]] = {}


def _check_site(site: object) -> CheckedSite:
    from valohai_image_lint.model import ImageSite

    assert isinstance(site, ImageSite)
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
    return CheckedSite(site, image, ref, error)  # type: ignore[arg-type]


def lint_source(source: SourceFile, config: Config, rules: RuleSet,
                lookups: Optional[object] = None) -> list[Diagnostic]:
    """All diagnostics of one decoded file, after suppressions, in file order."""
    diagnostics, _ = check_sites(source, config, rules, lookups)
    return finish(source, config, diagnostics)


def lint_bytes(path: str, data: bytes, config: Config, rules: RuleSet,
               lookups: Optional[object] = None) -> tuple[Optional[SourceFile], list[Diagnostic]]:
    try:
        source = SourceFile.from_bytes(path, data)
    except SourceError as exc:
        if SYNTAX_CODE not in rules.codes:
            return None, []
        return None, [syntax_diagnostic(path, exc.message, None, exc.offset, exc.line,
                                        exc.column)]
    return source, lint_source(source, config, rules, lookups)


def finish(source: SourceFile, config: Config, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop what is suppressed (per-file-ignores, ``# noqa``) and sort."""
    ignored = _per_file_ignored(source.path, config)
    kept = []
    for diagnostic in diagnostics:
        if diagnostic.code in ignored:
            continue
        if diagnostic.code != SYNTAX_CODE and _noqa_suppresses(source, diagnostic):
            continue
        kept.append(diagnostic)
    kept.sort(key=lambda d: d.sort_key)
    return kept


def _per_file_ignored(path: str, config: Config) -> set[str]:
    codes: set[str] = set()
    for pattern, selectors in config.per_file_ignores:
        if path_matches(pattern, path, config.root):
            for selector in selectors:
                codes.update(match_selector(selector))
    return codes


_NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*))?",
                      re.IGNORECASE)


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


def _noqa_suppresses(source: SourceFile, diagnostic: Diagnostic) -> bool:
    end = diagnostic.span.end
    comment = _comment_after(source, end.offset, end.line)
    if comment is None:
        return False
    match = _NOQA_RE.search(comment)
    if match is None:
        return False
    codes = match.group("codes")
    if codes is None:
        return True
    named = {c.strip() for c in codes.split(",")}
    return diagnostic.code in {c.upper() for c in named} or diagnostic.name in named


def fails(diagnostics: list[Diagnostic], fail_level: Severity) -> bool:
    return any(d.severity.rank >= fail_level.rank for d in diagnostics)
