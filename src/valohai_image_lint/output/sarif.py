"""``sarif``: a SARIF 2.1.0 log for code scanning (GitHub, GitLab, Azure DevOps, IDEs).

One run. ``tool.driver.rules`` describes the rules that have results in it (name, summary,
documentation as help, default level), so a viewer can explain every result without this
tool installed. Regions count columns in Unicode code points (``columnKind``) with an
exclusive end, as our spans do. A diagnostic with a fix carries it as ``fixes`` with
``artifactChanges``. Artifact URIs are relative to the working directory (the repository root
in CI) and percent-encoded.
"""

from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import quote

from valohai_image_lint import __version__
from valohai_image_lint.diagnostic import Diagnostic, Fix, Severity
from valohai_image_lint.output import Report
from valohai_image_lint.output._locations import fingerprints, relative_path
from valohai_image_lint.source import Span

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
TOOL_NAME = "valohai-image-lint"
INFORMATION_URI = "https://github.com/valohai-image-lint/valohai-image-lint"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# Key of our own fingerprint in partialFingerprints (versioned, as SARIF recommends).
FINGERPRINT_KEY = "valohaiImageLint/v1"

_SECTION_RE = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)


def artifact_uri(path: str) -> str:
    """A URI reference for ``path``: relative with ``/`` separators when it is below the
    working directory, ``file://`` when it is not; reserved characters percent-encoded."""
    shown = relative_path(path)
    if shown.startswith("/"):
        return "file://" + quote(shown, safe="/")
    return quote(shown, safe="/")


def region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.start.line,
        "startColumn": span.start.column,
        "endLine": span.end.line,
        "endColumn": span.end.column,
    }


def section(documentation: str, title: str) -> Optional[str]:
    """The text of one ``## title`` section of a rule's documentation."""
    matches = list(_SECTION_RE.finditer(documentation))
    for index, match in enumerate(matches):
        if match.group("title").strip() == title:
            end = matches[index + 1].start() if index + 1 < len(matches) else len(documentation)
            return documentation[match.end() : end].strip()
    return None


def rule_descriptor(code: str) -> dict[str, Any]:
    from valohai_image_lint.rules import all_rules

    rule = all_rules()[code]
    documentation = rule.documentation()
    what = section(documentation, "What it does")
    full = " ".join(what.split()) if what else rule.summary
    # The first line repeats code and name; the help is the sections, as `rule CODE` prints.
    body = documentation.split("\n", 1)[1].strip() if "\n" in documentation else documentation
    descriptor: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "help": {"text": body, "markdown": body},
        "defaultConfiguration": {"level": LEVELS[rule.severity],
                                 "enabled": rule.default_enabled},
        "properties": {
            "fixable": rule.fix_applicability is not None,
        },
    }
    if rule.fix_applicability is not None:
        descriptor["properties"]["fixApplicability"] = str(rule.fix_applicability)
    return descriptor


def _fix(fix: Fix, uri: str) -> dict[str, Any]:
    return {
        "description": {"text": fix.title},
        "artifactChanges": [{
            "artifactLocation": {"uri": uri},
            "replacements": [
                {"deletedRegion": region(edit.span), "insertedContent": {"text": edit.content}}
                for edit in fix.edits
            ],
        }],
        "properties": {"applicability": str(fix.applicability)},
    }


def _message(diagnostic: Diagnostic) -> dict[str, str]:
    """The problem as text; with the help, also as markdown (viewers that render markdown
    show the advice under the problem)."""
    message = {"text": diagnostic.message}
    if diagnostic.help:
        message["markdown"] = f"{diagnostic.message}\n\n{diagnostic.help}"
    return message


def _result(diagnostic: Diagnostic, rule_index: int, fingerprint: str) -> dict[str, Any]:
    uri = artifact_uri(diagnostic.path)
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": LEVELS[diagnostic.severity],
        "message": _message(diagnostic),
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri},
                "region": region(diagnostic.span),
            },
        }],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    properties = {}
    if diagnostic.yaml_path is not None:
        properties["yamlPath"] = diagnostic.yaml_path
    if diagnostic.image is not None:
        properties["image"] = diagnostic.image
    if properties:
        result["properties"] = properties
    if diagnostic.fix is not None:
        result["fixes"] = [_fix(diagnostic.fix, uri)]
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    codes = sorted({d.code for d in report.diagnostics})
    index = {code: i for i, code in enumerate(codes)}
    results = [
        _result(diagnostic, index[diagnostic.code], fingerprint)
        for diagnostic, fingerprint in zip(report.diagnostics, fingerprints(report.diagnostics))
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": TOOL_NAME,
                    "version": __version__,
                    "informationUri": INFORMATION_URI,
                    "rules": [rule_descriptor(code) for code in codes],
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render(report: Report) -> str:
    import json

    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"
