"""``junit``: JUnit XML, one test case per checked file and a failure per diagnostic.

CI systems that read JUnit (GitLab, Jenkins, Azure Pipelines) then show every valohai.yaml as
a test that passed or failed. Only findings at or above the fail level (``--fail-level``,
default warning) are failures, so the report is red exactly when the exit code is 1; the
others (an info finding, by default) are the passing test's ``<system-out>``. Each
``<failure>`` carries ``path:line:col``, the rule and the message, in its ``message``
attribute and its text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from valohai_image_lint.diagnostic import Diagnostic
from valohai_image_lint.output import Report
from valohai_image_lint.output._locations import relative_path

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

SUITE_NAME = "valohai-image-lint"
# Characters XML 1.0 cannot hold even escaped; a YAML error message may quote one.
_NOT_XML_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _location(diagnostic: Diagnostic) -> str:
    start = diagnostic.span.start
    return f"{relative_path(diagnostic.path)}:{start.line}:{start.column}"


def _failure(parent: Element, diagnostic: Diagnostic) -> None:
    from xml.etree.ElementTree import SubElement

    location = _location(diagnostic)
    failure = SubElement(parent, "failure", {
        "message": _xml_text(f"{location}: {diagnostic.code} {diagnostic.message}"),
        "type": f"{diagnostic.code} {diagnostic.name}",
    })
    failure.text = _xml_text("\n".join(_details(diagnostic)))


def _details(diagnostic: Diagnostic) -> list[str]:
    location = _location(diagnostic)
    lines = [f"{location}: {diagnostic.code} [{diagnostic.severity}] {diagnostic.message}"]
    if diagnostic.help:
        lines.append(f"help: {diagnostic.help}")
    if diagnostic.yaml_path:
        lines.append(f"yaml path: {diagnostic.yaml_path}")
    if diagnostic.image is not None:
        lines.append(f"image: {diagnostic.image}")
    if diagnostic.fix is not None:
        lines.append(f"fix: {diagnostic.fix.title} ({diagnostic.fix.applicability} fix)")
    return lines


def render(report: Report) -> str:
    from xml.etree.ElementTree import Element, SubElement, indent, tostring

    by_file: dict[str, list[Diagnostic]] = {path: [] for path in report.files_checked}
    for diagnostic in report.diagnostics:
        by_file.setdefault(diagnostic.path, []).append(diagnostic)
    failing = sum(1 for diagnostics in by_file.values() if any(map(report.fails, diagnostics)))
    counts = {"tests": str(len(by_file)), "failures": str(failing), "errors": "0",
              "skipped": "0"}
    root = Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = SubElement(root, "testsuite", {"name": SUITE_NAME, **counts})
    for path, diagnostics in by_file.items():
        shown = _xml_text(relative_path(path))
        case = SubElement(suite, "testcase",
                          {"classname": SUITE_NAME, "name": shown, "file": shown})
        passing: list[str] = []
        for diagnostic in diagnostics:
            if report.fails(diagnostic):
                _failure(case, diagnostic)
            else:
                passing.extend(_details(diagnostic))
        if passing:
            SubElement(case, "system-out").text = _xml_text("\n".join(passing))
    indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"
