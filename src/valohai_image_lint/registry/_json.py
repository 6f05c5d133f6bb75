"""JSON from a registry, parsed only when its nesting is shallow enough.

``json.loads`` recurses once per level; a body of a million ``[`` would take the interpreter's
recursion limit (or, in C, the stack) with it. The depth is counted first, outside strings.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class JsonError(ValueError):
    pass


def loads_bounded(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    depth = 0
    in_string = False
    escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                raise JsonError(f"is nested deeper than {max_depth} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise JsonError("is not valid JSON") from None
