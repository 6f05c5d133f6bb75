"""``concise``: exactly one line per diagnostic, ``path:line:col: CODE [severity] message``.

The message only (the help is for ``full`` and ``json``). Line breaks and other control
characters in a path or message are escaped (``\\n``), so a line is always one problem.
"""

from __future__ import annotations

import re

from valohai_image_lint.output import Report, header

# Compiled (and cached by re) only for a line that holds one of these.
_CONTROL = "[\x00-\x1f\x7f\x85\u2028\u2029]"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """``text`` with line breaks and control characters written as escapes."""
    if text.isprintable():  # false for every character the pattern matches
        return text
    return re.compile(_CONTROL).sub(_escape, text)


def render(report: Report) -> str:
    return "".join(escape(header(d)) + "\n" for d in report.diagnostics)
