"""``rdjsonl``: reviewdog's Diagnostic Format as JSON lines (``reviewdog -f=rdjsonl``), one
``Diagnostic`` per line, each as ``rdjson`` writes it (see there)."""

from __future__ import annotations

import json

from valohai_image_lint.output import Report
from valohai_image_lint.output.rdjson import diagnostics


def render(report: Report) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in diagnostics(report))
