"""``full``: a header per diagnostic, the source lines with the span underlined, the help and
the fix.

Info findings (VIL021) are compact: the header and the help, no snippet unless ``--verbose``,
so that errors and warnings stand out (on the real-world corpus, half the findings are infos).
Plain text unless colour is on; rich is imported only then.
"""

from __future__ import annotations

import unicodedata
from typing import Optional

from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.output import Report, fix_title, header
from valohai_image_lint.source import SourceFile

_SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
                    Severity.INFO: "bold cyan"}
_MAX_FRAME_LINES = 6
# Longer source lines are shown as a window around the span.
_MAX_LINE_CHARS = 200
_CLIP_CONTEXT = 60


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _clip(raw: str, begin: int, finish: int) -> tuple[str, int, int]:
    """Cut a long line to a window around the span, marking the cuts with an ellipsis, so a
    megabyte-long line prints as one screen line."""
    if len(raw) <= _MAX_LINE_CHARS:
        return raw, begin, finish
    start = max(0, begin - _CLIP_CONTEXT)
    stop = min(len(raw), max(finish, begin + 1) + _CLIP_CONTEXT, start + _MAX_LINE_CHARS)
    head = "…" if start > 0 else ""
    tail = "…" if stop < len(raw) else ""
    shift = len(head) - start
    return (head + raw[start:stop] + tail, begin + shift,
            min(finish, stop) + shift)


def _frame(diagnostic: Diagnostic, source: Optional[SourceFile]) -> list[tuple[str, str, str]]:
    """Rows of (gutter, text, kind) where kind is "code" or "marker"."""
    if source is None:
        return []
    start, end = diagnostic.span.start, diagnostic.span.end
    last = end.line if end.column > 1 or end.line == start.line else end.line - 1
    last = min(last, start.line + _MAX_FRAME_LINES - 1)
    rows: list[tuple[str, str, str]] = []
    width = len(str(last))
    for line in range(start.line, last + 1):
        raw = source.line_text(line)
        begin = start.column - 1 if line == start.line else len(raw) - len(raw.lstrip())
        finish = end.column - 1 if line == end.line else len(raw)
        raw, begin, finish = _clip(raw, begin, finish)
        rows.append((str(line).rjust(width), raw.expandtabs(4), "code"))
        prefix = raw[:begin].expandtabs(4)
        marked = raw[begin:finish].expandtabs(4)
        marker = " " * _cells(prefix) + "^" * max(1, _cells(marked))
        rows.append((" " * width, marker, "marker"))
    return rows


def _rows(report: Report, diagnostic: Diagnostic) -> list[tuple[str, str, str]]:
    if diagnostic.severity is Severity.INFO and not report.verbose:
        return []
    return _frame(diagnostic, report.sources.get(diagnostic.path))


def render(report: Report) -> str:
    if report.color:
        return _render_color(report)
    out: list[str] = []
    for diagnostic in report.diagnostics:
        out.append(header(diagnostic))
        for gutter, text, kind in _rows(report, diagnostic):
            label = f" {diagnostic.code}" if kind == "marker" and text.strip() else ""
            out.append(f"  {gutter} | {text}{label if kind == 'marker' else ''}".rstrip())
        if diagnostic.help:
            out.append(f"  = help: {diagnostic.help}")
        title = fix_title(diagnostic)
        if title:
            out.append(f"  = fix: {title}")
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def _render_color(report: Report) -> str:
    from rich.console import Console
    from rich.text import Text

    # Colour was decided by the caller (--color, NO_COLOR, FORCE_COLOR, isatty); rich must not
    # second-guess it from the environment, or `--color always` with NO_COLOR set loses colour.
    console = Console(force_terminal=True, color_system="standard", width=10_000,
                      soft_wrap=True, highlight=False, no_color=False)
    with console.capture() as capture:
        for diagnostic in report.diagnostics:
            start = diagnostic.span.start
            line = Text()
            line.append(f"{diagnostic.path}:{start.line}:{start.column}:", style="bold")
            line.append(" ")
            line.append(diagnostic.code, style=_SEVERITY_STYLES[diagnostic.severity])
            line.append(f" [{diagnostic.severity}] ", style=_SEVERITY_STYLES[diagnostic.severity])
            line.append(diagnostic.message)
            console.print(line)
            for gutter, text, kind in _rows(report, diagnostic):
                row = Text()
                row.append(f"  {gutter} | ", style="blue")
                if kind == "marker":
                    style = _SEVERITY_STYLES[diagnostic.severity]
                    row.append(text, style=style)
                    if text.strip():
                        row.append(f" {diagnostic.code}", style=style)
                else:
                    row.append(text)
                console.print(row)
            if diagnostic.help:
                console.print(Text(f"  = help: {diagnostic.help}", style="cyan"))
            title = fix_title(diagnostic)
            if title:
                console.print(Text(f"  = fix: {title}", style="green"))
            console.print()
    return capture.get()
