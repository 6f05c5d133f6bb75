"""``concise``: exactly one line per diagnostic, ``path:line:col: CODE [severity] message``."""

from __future__ import annotations

from valohai_image_lint.output import Report, header


def render(report: Report) -> str:
    return "".join(header(d) + "\n" for d in report.diagnostics)
