"""``json``: a JSON array with one object per diagnostic (DESIGN section 6)."""

from __future__ import annotations

import json
from typing import Any

from valohai_image_lint.diagnostic import Diagnostic
from valohai_image_lint.output import Report


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    span = diagnostic.span
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "path": diagnostic.path,
        "line": span.start.line,
        "column": span.start.column,
        "end_line": span.end.line,
        "end_column": span.end.column,
        "yaml_path": diagnostic.yaml_path,
        "image": diagnostic.image,
        "help": diagnostic.help,
        "fix": None if fix is None else {
            "title": fix.title,
            "applicability": fix.applicability.value,
            "edits": [
                {
                    "line": edit.span.start.line,
                    "column": edit.span.start.column,
                    "end_line": edit.span.end.line,
                    "end_column": edit.span.end.column,
                    "content": edit.content,
                }
                for edit in fix.edits
            ],
        },
    }


def render(report: Report) -> str:
    items = [diagnostic_to_dict(d) for d in report.diagnostics]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
