"""``# noqa`` directives, read as ruff reads them, and VIL100 unused-noqa.

A directive is ``# noqa`` (silences every rule on its line) or ``# noqa: CODE[, CODE ...]``
with rule codes or names separated by commas or spaces; text after the codes is a free
comment (``# noqa: VIL002 pinned upstream``). Nothing else that merely starts with
``# noqa`` counts: ``# noqa-ish``, ``# noqa:`` without a code, ``# noqaVIL002``. As in ruff,
``# noqa VIL002`` (no colon) is a bare directive: it silences every rule on its line.

Directives are read on the lines where an image site's value starts and ends, the only lines
where one can silence a finding.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from valohai_image_lint._record import Record
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix
from valohai_image_lint.source import SourceFile

UNUSED_NOQA = "VIL100"

# "#", optional blanks, "noqa" in any case; then ":" and codes, or the end of the directive.
_DIRECTIVE_RE = re.compile(r"#[ \t]*noqa(?=[:\s#]|$)", re.IGNORECASE)
# A code (VIL002, vil2: letters then digits) or a rule name (floating-tag).
_TOKEN_RE = re.compile(r"[A-Za-z]+[0-9]+|[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+")
_SEPARATOR_RE = re.compile(r"[ \t]*,[ \t]*|[ \t]+")


class Directive(Record):
    __slots__ = ("line", "start", "end", "codes", "used", "used_bare")
    line: int
    start: int  # offset of its "#"
    end: int  # offset after the directive (after its last code)
    # Codes and names as written, with their offsets; None for a bare noqa.
    codes: Optional[list[tuple[str, int, int]]]
    # What suppressing used: True for a bare directive, else the names that silenced something.
    used: set[str]
    used_bare: bool

    def __init__(self, line: int, start: int, end: int,
                 codes: Optional[list[tuple[str, int, int]]],
                 used: Optional[set[str]] = None, used_bare: bool = False) -> None:
        self.line = line
        self.start = start
        self.end = end
        self.codes = codes
        self.used = set() if used is None else used
        self.used_bare = used_bare


def parse_directive(comment: str, offset: int, line: int) -> Optional[Directive]:
    """The directive in ``comment`` (text from a ``#`` to the end of the line, found at
    ``offset``), or None."""
    for match in _DIRECTIVE_RE.finditer(comment):
        position = match.end()
        if position < len(comment) and comment[position] == ":":
            codes = _codes(comment, position + 1, offset)
            if not codes:
                continue  # "noqa:" with no code is no directive (ruff warns; we ignore it)
            return Directive(line, offset + match.start(), codes[-1][2], codes)
        return Directive(line, offset + match.start(), offset + position, None)
    return None


def _codes(comment: str, position: int, offset: int) -> list[tuple[str, int, int]]:
    codes: list[tuple[str, int, int]] = []
    while position < len(comment) and comment[position] in " \t":
        position += 1
    while True:
        token = _TOKEN_RE.match(comment, position)
        if token is None or (token.end() < len(comment)
                             and comment[token.end()] not in " \t,#"):
            break
        codes.append((token.group(), offset + token.start(), offset + token.end()))
        separator = _SEPARATOR_RE.match(comment, token.end())
        if separator is None:
            break
        position = separator.end()
    return codes


class Directives:
    """The directives on the image lines of one file, and which of them were used."""

    def __init__(self, source: SourceFile, lines: dict[int, int],
                 comment_after: Callable[[SourceFile, int, int], Optional[str]]) -> None:
        """``lines``: line -> the offset on it after which its comment is looked for (the
        end of the last image value there)."""
        self.source = source
        self.by_line: dict[int, Directive] = {}
        for line, start in sorted(lines.items()):
            comment = comment_after(source, start, line)
            if comment is None:
                continue
            offset = source.line_end_offset(line) - len(comment)
            directive = parse_directive(comment, offset, line)
            if directive is not None:
                self.by_line[line] = directive

    def suppresses(self, diagnostic: Diagnostic) -> bool:
        """Whether a directive on the diagnostic's last (or, for a span over several lines,
        first) line names it; marks what was used."""
        start, end = diagnostic.span.start.line, diagnostic.span.end.line
        for line in (end, start) if start != end else (end,):
            directive = self.by_line.get(line)
            if directive is None:
                continue
            if directive.codes is None:
                directive.used_bare = True
                return True
            for written, _, _ in directive.codes:
                if written.lower() in (diagnostic.code.lower(), diagnostic.name):
                    directive.used.add(written)
                    return True
        return False

    def unknown(self) -> list[tuple[Directive, str]]:
        """Codes and names in directives that name no rule."""
        from valohai_image_lint.rules import UnknownRuleError, rule_code

        found = []
        for directive in self.by_line.values():
            for written, _, _ in directive.codes or ():
                try:
                    rule_code(written)
                except UnknownRuleError:
                    found.append((directive, written))
        return found

    def unused(self, enabled: frozenset[str], path: str) -> list[Diagnostic]:
        """VIL100 findings: a bare directive that silenced nothing; codes that silenced
        nothing or name no rule. Codes of rules this run does not enable are left alone (they
        may silence something in another run)."""
        from valohai_image_lint.rules import UnknownRuleError, rule_class, rule_code

        rule = rule_class(UNUSED_NOQA)
        diagnostics = []
        for directive in self.by_line.values():
            if directive.codes is None:
                if directive.used_bare:
                    continue
                message, dropped = "unused `# noqa` directive", None
            else:
                unused, unknown = [], []
                for written, _, _ in directive.codes:
                    try:
                        code = rule_code(written)
                    except UnknownRuleError:
                        unknown.append(written)
                        continue
                    if (written not in directive.used and code in enabled
                            and code != UNUSED_NOQA):
                        unused.append(written)
                if not unused and not unknown:
                    continue
                parts = [f"unused: {', '.join(unused)}"] if unused else []
                parts += [f"unknown: {', '.join(unknown)}"] if unknown else []
                message = f"unused `# noqa` code ({'; '.join(parts)})"
                dropped = set(unused) | set(unknown)
            span = self.source.span(directive.start, directive.end)
            diagnostics.append(Diagnostic(
                rule.code, rule.name, rule.severity, message, path, span,
                fix=self._removal(directive, dropped),
                help="remove it: a `# noqa` that silences nothing hides the next real problem"
                " on its line"))
        return diagnostics

    def _removal(self, directive: Directive, dropped: Optional[set[str]]) -> Fix:
        text = self.source.text
        kept = [(w, s, e) for w, s, e in directive.codes or () if dropped is not None
                and w not in dropped]
        if kept:
            # Rewrite the list of codes, keeping the ones that are used.
            first, last = directive.codes[0][1], directive.codes[-1][2]  # type: ignore[index]
            edit = Edit(self.source.span(first, last), ", ".join(w for w, _, _ in kept))
            return Fix("Remove the unused codes", (edit,), Applicability.SAFE)
        line_end = self.source.line_end_offset(directive.line)
        rest = text[directive.end:line_end]
        if rest.strip(" \t"):
            # A comment goes on after the directive: keep it as a comment.
            after = len(rest) - len(rest.lstrip(" \t"))
            edit = Edit(self.source.span(directive.start, directive.end + after),
                        "" if rest.lstrip(" \t").startswith("#") else "# ")
        else:
            # Remove the directive and the blanks before it.
            start = directive.start
            while start > 0 and text[start - 1] in " \t":
                start -= 1
            edit = Edit(self.source.span(start, line_end), "")
        return Fix("Remove the unused `# noqa`", (edit,), Applicability.SAFE)
