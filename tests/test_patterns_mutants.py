"""The ``*`` glob of rules/_patterns.py on the edge cases its string fast path must get right.

``glob_matches`` finds each piece between two stars at its leftmost place after the previous
one, inside the part of the text that the first and last pieces leave free. The property test
in test_patterns.py compares it with a regular expression, but under mutmut it runs a fixed,
small set of examples that misses these edges; each case here is one of them, and the
expected answer is the regular expression's (``*`` is any characters, possibly none).
"""

from __future__ import annotations

import re

import pytest

from valohai_image_lint.rules._patterns import glob_matches, host_matches, pattern_matches


def regex_answer(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text,
                        re.DOTALL) is not None


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    # A trailing `*` may stand for nothing: the text is exactly first + last.
    ("latest*", "latest", True),
    ("a*b", "ab", True),
    # The first and last pieces may not share characters of the text.
    ("ab*ba", "aba", False),
    ("1.*.1", "1.1", False),
    # A middle piece may not reach into the last piece's characters...
    ("a*b*b", "ab", False),
    ("*-slim*-slim", "3.11-slim", False),
    # ...nor into the first piece's characters.
    ("ab*b*c", "abc", False),
    ("v1*1*-rc", "v1-rc", False),
    # A middle piece found at the very start of the text (the first piece is empty).
    ("*a*", "ab", True),
    ("*registry*", "registry.example.com", True),
    # The leftmost place of a piece leaves room for the pieces after it.
    ("*a*b*", "aba", True),
    ("*-*.*", "3-1.2-x", True),
    # Each piece takes its own characters: one `a` is not two.
    ("*a*a*", "a", False),
    ("*ab*ab*", "ab", False),
    ("*ab*ab*", "abab", True),
])
def test_glob_matches_edges(pattern: str, text: str, expected: bool) -> None:
    assert regex_answer(pattern, text) is expected  # the meaning, independently
    assert glob_matches(pattern, text) is expected


def test_a_host_glob_whose_piece_starts_the_host() -> None:
    """VIL011's host globs: ``*registry*`` covers ``registry.example.com:5000``."""
    assert host_matches("*registry*", "registry.example.com:5000")
    assert not host_matches("*registry*registry*", "registry.example.com")


def test_registry_patterns_through_the_fast_path() -> None:
    assert pattern_matches("*myorg*", "myorg/app:1")
    assert not pattern_matches("docker.io/*o*o*", "docker.io/o")
