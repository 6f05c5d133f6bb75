"""``parse_reference`` against an independent oracle: Go's ``ParseNormalizedNamed``, transcribed
step by step from ``distribution/reference`` (normalize.go, reference.go, regexp.go) and
``go-digest`` (digest.go, algorithm.go), with none of the linter's code or constants.

The property tests ask, for any text, that both accept or both reject it and, when they
accept it, that they agree on every part; the round trip ``str(parse(s))`` and the familiar
form must parse to the same reference. Edge cases of the length limit (issue 16, behaviour 8)
are pinned as explicit examples, which random generation would almost never reach.
"""

from __future__ import annotations

import re
from typing import Optional

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import examples
from test_reference import written_references
from valohai_image_lint.reference import ImageReference, InvalidReferenceError, parse_reference

# --- The oracle ---------------------------------------------------------------------------
# regexp.go: the expressions are built exactly as there (optional, repeated, capture...).


def _optional(*parts: str) -> str:
    return "(?:" + "".join(parts) + ")?"


def _repeated(*parts: str) -> str:
    return "(?:" + "".join(parts) + ")+"


def _any_times(*parts: str) -> str:
    return "(?:" + "".join(parts) + ")*"


def _capture(*parts: str) -> str:
    return "(" + "".join(parts) + ")"


_alpha_numeric = "[a-z0-9]+"
_separator = "(?:[._]|__|[-]+)"
_path_component = _alpha_numeric + _any_times(_separator, _alpha_numeric)
_domain_name_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_ipv6_address = r"\[(?:[a-fA-F0-9:]+)\]"
_domain_name = _domain_name_component + _any_times(r"\.", _domain_name_component)
_host = "(?:" + _domain_name + "|" + _ipv6_address + ")"
_domain_and_port = _host + _optional(":[0-9]+")
_tag = r"[\w][\w.-]{0,127}"
_digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_remote_name = _path_component + _any_times("/", _path_component)
_name_pat = _optional(_domain_and_port, "/") + _remote_name
# Go's `^...$` without multi-line mode: `$` is the end of the text (Python: \Z). RE2's \w is
# ASCII only.
REFERENCE_REGEXP = re.compile("^" + _capture(_name_pat) + _optional(":", _capture(_tag))
                              + _optional("@", _capture(_digest)) + r"\Z", re.ASCII)
ANCHORED_NAME_REGEXP = re.compile("^" + _optional(_capture(_domain_and_port), "/")
                                  + _capture(_remote_name) + r"\Z", re.ASCII)
ANCHORED_IDENTIFIER_REGEXP = re.compile(r"^[a-f0-9]{64}\Z", re.ASCII)
NAME_TOTAL_LENGTH_MAX = 255

# go-digest: the registered algorithms and their encodings.
_ENCODED = {"sha256": r"^[a-f0-9]{64}\Z", "sha384": r"^[a-f0-9]{96}\Z",
            "sha512": r"^[a-f0-9]{128}\Z"}
_DIGEST_ANCHORED = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z", re.ASCII)


def _digest_valid(s: str) -> bool:
    """digest.Digest.Validate"""
    i = s.find(":")
    if i <= 0 or i + 1 == len(s):
        return False
    algorithm, encoded = s[:i], s[i + 1:]
    if algorithm not in _ENCODED:
        return False  # ErrDigestInvalidFormat or ErrDigestUnsupported: an error either way
    return re.match(_ENCODED[algorithm], encoded, re.ASCII) is not None


def _split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain"""
    i = name.find("/")
    if i == -1 or (not any(c in name[:i] for c in ".:") and name[:i] != "localhost"
                   and name[:i].lower() == name[:i]):
        domain, remainder = "docker.io", name
    else:
        domain, remainder = name[:i], name[i + 1:]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def go_parse_normalized_named(s: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
    """(domain, path, tag, digest), or None where Go returns an error."""
    if ANCHORED_IDENTIFIER_REGEXP.match(s):
        return None
    domain, remainder = _split_docker_domain(s)
    tag_sep = remainder.find(":")
    remote_name = remainder[:tag_sep] if tag_sep > -1 else remainder
    if remote_name.lower() != remote_name:
        return None
    # reference.go Parse
    matches = REFERENCE_REGEXP.match(domain + "/" + remainder)
    if matches is None:
        return None
    name_match = ANCHORED_NAME_REGEXP.match(matches.group(1))
    assert name_match is not None
    repo_domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        return None
    digest = matches.group(3)
    if digest is not None and not _digest_valid(digest):
        return None
    return repo_domain, path, matches.group(2), digest


def ours(s: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
    try:
        parsed = parse_reference(s)
    except InvalidReferenceError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        return None
    return parsed.domain, parsed.path, parsed.tag, parsed.digest


# --- Agreement --------------------------------------------------------------------------

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "fedcba9876543210" * 8


def _path(length: int, prefix: str = "myorg/") -> str:
    return prefix + "a" * (length - len(prefix))


# Written out: what each must give, so the oracle is checked too.
LENGTH_EDGES = [
    # The limit counts the repository path only: not the host, tag or digest.
    (_path(255), ("docker.io", _path(255), None, None)),
    (_path(255) + "@" + SHA256, ("docker.io", _path(255), None, SHA256)),
    (_path(249) + "@" + SHA256, ("docker.io", _path(249), None, SHA256)),
    (_path(252) + "@" + SHA512, ("docker.io", _path(252), None, SHA512)),
    (_path(255) + ":v1@" + SHA256, ("docker.io", _path(255), "v1", SHA256)),
    (_path(255) + ":" + "t" * 128, ("docker.io", _path(255), "t" * 128, None)),
    ("ghcr.io/" + _path(255) + "@" + SHA256, ("ghcr.io", _path(255), None, SHA256)),
    ("localhost:5000/" + _path(255) + ":1", ("localhost:5000", _path(255), "1", None)),
    # An official image: `library/` is part of the path and counts.
    ("a" * 247, ("docker.io", "library/" + "a" * 247, None, None)),
    ("a" * 247 + "@" + SHA256, ("docker.io", "library/" + "a" * 247, None, SHA256)),
    ("a" * 248, None),
    (_path(256), None),
    (_path(256) + "@" + SHA256, None),
    (_path(256) + ":v1", None),
    ("ghcr.io/" + _path(256), None),
    (_path(255) + ":" + "t" * 129, None),
]


@pytest.mark.parametrize(("text", "expected"), LENGTH_EDGES,
                         ids=[f"{len(t)}-{bool(e)}" for t, e in LENGTH_EDGES])
def test_length_limit_edges(text: str, expected: object) -> None:
    assert go_parse_normalized_named(text) == expected
    assert ours(text) == expected


def test_too_long_paths_say_how_long() -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(_path(256) + "@" + SHA256)
    assert str(caught.value) == "repository path is 256 characters long; at most 255 are allowed"
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference("ghcr.io/" + _path(300) + ":1")
    assert str(caught.value).startswith("repository path is 300 characters long")


_SETTINGS = settings(max_examples=examples(400), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])

_ALPHABET = st.sampled_from([*"abz09AZ._-/:@[]", "__", "sha256:", "sha512:", "localhost",
                             "docker.io/", "index.docker.io/", "library/", "0" * 32, "f" * 64,
                             "\u00e9", "\n", " "])


@_SETTINGS
@given(st.one_of(
    st.lists(_ALPHABET, max_size=25).map("".join),
    written_references().map(lambda case: case[0]),
    written_references().flatmap(
        lambda case: st.tuples(st.integers(0, len(case[0])), st.sampled_from(
            ["", ":", "/", "@", ".", "-", "_", "A", "::", "//", "@sha256:" + "a" * 64])).map(
            lambda cut: case[0][: cut[0]] + cut[1] + case[0][cut[0]:])),
))
@example("a" * 64)
@example("docker.io/" + "a" * 64)
@example("Foo/bar:1")
@example("foo/Bar")
@example("foo:Bar")
@example("localhost/Foo")
@example("docker.io/Foo")
@example("[::1]:5000/app@sha256:" + "A" * 64)
@example("app@sha384:" + "a" * 96)
@example("app@sha256:" + "a" * 63)
@example("app@md5:" + "a" * 32)
@example("app@sha256+b64:" + "a" * 64)
@example("app:\u00e9")
@example("app\n")
def test_agrees_with_go_on_any_text(text: str) -> None:
    assert ours(text) == go_parse_normalized_named(text)


@_SETTINGS
@given(written_references().map(lambda case: case[0]))
@example("docker.io/foo.bar/app:1")
@example("docker.io/localhost/app")
@example("index.docker.io/library/python:3@" + SHA256)
@example("foo_bar.com/app")
def test_string_and_familiar_forms_parse_to_the_same_reference(text: str) -> None:
    parsed = parse_reference(text)
    full, familiar = str(parsed), parsed.familiar
    assert parse_reference(full) == parsed
    assert parse_reference(familiar) == parsed
    # The oracle reads both forms the same way too.
    assert go_parse_normalized_named(full) == go_parse_normalized_named(familiar) == \
        (parsed.domain, parsed.path, parsed.tag, parsed.digest)
    assert len(familiar) <= len(full)
    assert str(ImageReference(parsed.domain, parsed.path, parsed.tag, parsed.digest)) == full
