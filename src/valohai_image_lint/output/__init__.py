"""Output formats: one module each, each only printing what the linter found."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional

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


@dataclass
class Report:
    """Everything a formatter may print: the diagnostics and the files they are in."""

    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    files_checked: list[str] = field(default_factory=list)
    color: bool = False
    show_fixes: bool = False
    # --unsafe-fixes: formats that carry fixes as suggestions (rdjson) offer unsafe ones too.
    unsafe_fixes: bool = False
    # --verbose: info findings get their source snippet in `full` too.
    verbose: bool = False
    # The fail level of each checked file's configuration (default: warning).
    fail_levels: dict[str, Severity] = field(default_factory=dict)

    def fails(self, diagnostic: Diagnostic) -> bool:
        """Is ``diagnostic`` at or above its file's fail level (a failure, exit 1)?"""
        level = self.fail_levels.get(diagnostic.path, Severity.WARNING)
        return diagnostic.severity.rank >= level.rank

    def failing(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if self.fails(d)]
    # Fix titles applied, per path (filled by --fix).
    applied: dict[str, list[str]] = field(default_factory=dict)


def renderer(name: str) -> Callable[[Report], str]:
    module = importlib.import_module(f"{__name__}.{FORMATS[name]}")
    render: Callable[[Report], str] = module.render
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
