"""Checks for every value a registry or the cache hands us, before anything uses it.

A registry is not trusted: its digests end up in the user's file (``--fix``), its sizes in
messages, its text on the terminal. So a digest must match the grammar with the right length,
a size must be a non-negative integer below ``MAX_SIZE``, JSON may not nest deeper than
``MAX_JSON_DEPTH``, and text is escaped before it is printed.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Larger than any image (the largest public ones are tens of GB) and far below the point where
# arithmetic or formatting could misbehave.
MAX_SIZE = 2**50  # 1 PiB
# Manifests nest five levels, config.json three; a deeper document is hostile.
MAX_JSON_DEPTH = 32
# A note is one line; text from outside is cut to this many characters in it.
MAX_TEXT = 500

_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):([0-9a-f]+)")
_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET_RE = re.compile(rb"[^\[\]{}]+")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class InvalidValueError(ValueError):
    """A value from a registry or the cache that fails its check; the message says why."""


def is_valid_digest(value: object) -> bool:
    """``algorithm:hex`` with a known algorithm, lower-case hex of exactly its length."""
    if not isinstance(value, str):
        return False
    match = _DIGEST_RE.fullmatch(value)
    return match is not None and len(match.group(2)) == _DIGEST_LENGTHS[match.group(1)]


def checked_digest(value: object, what: str) -> str:
    if not is_valid_digest(value):
        raise InvalidValueError(f"{what} is not a valid digest ({printable(repr(value), 80)})")
    assert isinstance(value, str)
    return value


def is_valid_size(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and 0 <= value < MAX_SIZE)


def _reject_constant(name: str) -> Any:
    raise InvalidValueError(f"{name} is not a JSON number")


def json_depth(data: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in ``data`` (strings skipped), without parsing it;
    counting stops once past ``limit``."""
    brackets = _NOT_BRACKET_RE.sub(b"", _STRING_RE.sub(b"", data))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def loads(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses deep nesting, NaN and Infinity with ``InvalidValueError``
    (also for anything that is not JSON, so callers catch one exception)."""
    if json_depth(data, max_depth) > max_depth:
        raise InvalidValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except InvalidValueError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidValueError("not valid JSON") from None


def printable(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` with control and bidi characters escaped (``\\x1b``) and cut to ``limit``."""
    escaped = _CONTROL_RE.sub(lambda m: _escape(m.group()), text)
    if len(escaped) > limit:
        escaped = escaped[: limit - 1] + "…"
    return escaped


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
