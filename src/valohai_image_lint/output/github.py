"""``github``: GitHub Actions workflow commands, one annotation per diagnostic.

``::error file=PATH,line=L,col=C,endLine=L,endColumn=C,title=CODE::message``; warnings are
``::warning`` and infos ``::notice``. GitHub reads ``%``, CR and LF in the message as escapes,
and also ``:`` and ``,`` in property values, so those are percent-encoded.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.output import Report
from valohai_image_lint.output._locations import relative_path

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for diagnostic in report.diagnostics:
        start, end = diagnostic.span.start, diagnostic.span.end
        properties = (
            ("file", relative_path(diagnostic.path)),
            ("line", str(start.line)),
            ("col", str(start.column)),
            ("endLine", str(end.line)),
            ("endColumn", str(end.column)),
            ("title", diagnostic.code),
        )
        joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
        lines.append(f"::{COMMANDS[diagnostic.severity]} {joined}::"
                     f"{escape_data(diagnostic.message)}\n")
    return "".join(lines)
