"""``gitlab``: a GitLab Code Quality report (a JSON array in the Code Climate shape).

Each issue has ``description``, ``check_name`` (the rule code), ``fingerprint``, ``severity``
and ``location`` (``path`` and ``lines.begin``). GitLab compares fingerprints between the
merge request and its target branch to tell new problems from old ones, so they leave line
numbers out (see ``_locations.fingerprints``).
"""

from __future__ import annotations

from typing import Any

from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.output import Report
from valohai_image_lint.output._locations import fingerprints, relative_path

SEVERITIES = {Severity.INFO: "info", Severity.WARNING: "minor", Severity.ERROR: "major"}
# A file that cannot be read as a Valohai config hides every other problem in it.
SYNTAX_CODE = "VIL000"


def severity_of(diagnostic: Diagnostic) -> str:
    if diagnostic.code == SYNTAX_CODE:
        return "blocker"
    return SEVERITIES[diagnostic.severity]


def render(report: Report) -> str:
    import json

    issues: list[dict[str, Any]] = []
    for diagnostic, fingerprint in zip(report.diagnostics, fingerprints(report.diagnostics)):
        issues.append({
            "description": f"{diagnostic.code} {diagnostic.message}",
            "check_name": diagnostic.code,
            "fingerprint": fingerprint,
            "severity": severity_of(diagnostic),
            "location": {
                "path": relative_path(diagnostic.path),
                "lines": {"begin": diagnostic.span.start.line},
            },
        })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
