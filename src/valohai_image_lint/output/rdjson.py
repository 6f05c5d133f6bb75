"""``rdjson``: reviewdog's Diagnostic Format (``reviewdog -f=rdjson``), one ``DiagnosticResult``.

Each diagnostic names its source (this tool, with a URL), its rule code with a link to the
rule's documentation, the message (with the help, the advice, after a blank line), a severity
(``ERROR``, ``WARNING``, ``INFO``) and a range whose end is exclusive. reviewdog counts lines
from 1 and columns from 1 in UTF-8 bytes, so columns here are byte columns, unlike the
code-point columns of ``json`` and ``sarif``. A fix becomes ``suggestions`` (one per edit):
``reviewdog -reporter=github-pr-review`` posts them as suggested changes. Suggested are the
fixes ``--fix`` would apply with the same options: safe ones, and with ``--unsafe-fixes``
unsafe ones too, whose message says they need checking. Applying every suggestion gives what
``--fix`` writes when one pass of fixes is enough (as it nearly always is).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from valohai_image_lint import __version__
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Severity
from valohai_image_lint.output import Report
from valohai_image_lint.output._locations import PROJECT_URL, relative_path, rule_url
from valohai_image_lint.source import UTF8_BOM, Position, SourceFile, Span

SOURCE = {"name": "valohai-image-lint", "url": PROJECT_URL}
SEVERITIES = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def byte_position(source: Optional[SourceFile], position: Position) -> dict[str, int]:
    """``position`` as reviewdog counts: lines split at ``\\n`` (what its diff reader splits
    at), columns in UTF-8 bytes; both 1-based."""
    if source is None:
        # Text that could not be decoded: the position is where decoding failed.
        return {"line": position.line, "column": position.column}
    text = source.text
    offset = position.offset
    line_start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, line_start) + 1
    column = len(text[line_start:offset].encode("utf-8")) + 1
    if line == 1 and source.has_bom:
        column += len(UTF8_BOM)  # reviewdog reads the file's bytes, BOM and all
    return {"line": line, "column": column}


def byte_range(source: Optional[SourceFile], span: Span) -> dict[str, dict[str, int]]:
    return {"start": byte_position(source, span.start), "end": byte_position(source, span.end)}


def diagnostic_dict(diagnostic: Diagnostic, source: Optional[SourceFile],
                    unsafe_fixes: bool = False) -> dict[str, Any]:
    fix = diagnostic.fix
    item: dict[str, Any] = {
        "message": diagnostic.message,
        "location": {"path": relative_path(diagnostic.path),
                     "range": byte_range(source, diagnostic.span)},
        "severity": SEVERITIES[diagnostic.severity],
        "source": SOURCE,
        "code": {"value": diagnostic.code, "url": rule_url(diagnostic.code)},
    }
    unsafe = fix is not None and fix.applicability is Applicability.UNSAFE
    if fix is not None and fix.edits and (unsafe_fixes or not unsafe):
        item["message"] += f" (suggested: {fix.title}" + (
            ", an unsafe fix: check it)" if unsafe else ")")
        item["suggestions"] = [{"range": byte_range(source, edit.span), "text": edit.content}
                               for edit in fix.edits]
    if diagnostic.help:
        # reviewdog posts the message as a review comment, where the advice belongs too.
        item["message"] += f"\n\n{diagnostic.help}"
    return item


def diagnostics(report: Report) -> list[dict[str, Any]]:
    return [diagnostic_dict(d, report.sources.get(d.path), report.unsafe_fixes)
            for d in report.diagnostics]


def render(report: Report) -> str:
    result = {
        "source": {**SOURCE, "version": __version__},
        "diagnostics": diagnostics(report),
    }
    if report.diagnostics:
        worst = max((d.severity for d in report.diagnostics), key=lambda s: s.rank)
        result["severity"] = SEVERITIES[worst]
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
