"""Output formats: one module each, each only printing what the linter found."""

from __future__ import annotations

import sys
from typing import Callable, Optional

from valohai_image_lint._record import Record
from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.source import SourceFile

# Format name -> module (imported only when that format is asked for).
FORMATS = {
    "full": "full",
    "concise": "concise",
    "json": "json_format",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
    "rdjson": "rdjson",
    "rdjsonl": "rdjsonl",
}


class Report(Record):
    """Everything a formatter may print: the diagnostics and the files they are in."""

    __slots__ = ("diagnostics", "sources", "files_checked", "color", "show_fixes",
                 "unsafe_fixes", "verbose", "fail_levels", "applied")
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile]
    files_checked: list[str]
    color: bool
    show_fixes: bool
    # --unsafe-fixes: formats that carry fixes as suggestions (rdjson) offer unsafe ones too.
    unsafe_fixes: bool
    # --verbose: info findings get their source snippet in `full` too.
    verbose: bool
    # The fail level of each checked file's configuration (default: warning).
    fail_levels: dict[str, Severity]
    # Fix titles applied, per path (filled by --fix).
    applied: dict[str, list[str]]

    def __init__(self, diagnostics: list[Diagnostic],
                 sources: Optional[dict[str, SourceFile]] = None,
                 files_checked: Optional[list[str]] = None, color: bool = False,
                 show_fixes: bool = False, unsafe_fixes: bool = False, verbose: bool = False,
                 fail_levels: Optional[dict[str, Severity]] = None,
                 applied: Optional[dict[str, list[str]]] = None) -> None:
        self.diagnostics = diagnostics
        self.sources = {} if sources is None else sources
        self.files_checked = [] if files_checked is None else files_checked
        self.color = color
        self.show_fixes = show_fixes
        self.unsafe_fixes = unsafe_fixes
        self.verbose = verbose
        self.fail_levels = {} if fail_levels is None else fail_levels
        self.applied = {} if applied is None else applied

    def fails(self, diagnostic: Diagnostic) -> bool:
        """Is ``diagnostic`` at or above its file's fail level (a failure, exit 1)?"""
        level = self.fail_levels.get(diagnostic.path, Severity.WARNING)
        return diagnostic.severity.rank >= level.rank

    def failing(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if self.fails(d)]


def renderer(name: str) -> Callable[[Report], str]:
    # The import statement's machinery: importlib's package is not otherwise loaded.
    module_name = f"{__name__}.{FORMATS[name]}"
    __import__(module_name)
    render: Callable[[Report], str] = sys.modules[module_name].render
    return render


def header(diagnostic: Diagnostic) -> str:
    """``path:line:col: CODE [severity] message``: the one-line form every text format shares."""
    start = diagnostic.span.start
    return (f"{diagnostic.path}:{start.line}:{start.column}: {diagnostic.code}"
            f" [{diagnostic.severity}] {diagnostic.message}")


def fix_title(diagnostic: Diagnostic) -> Optional[str]:
    fix = diagnostic.fix
    if fix is None:
        return None
    return f"{fix.title} ({fix.applicability} fix)"
