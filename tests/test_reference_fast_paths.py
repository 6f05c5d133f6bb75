"""The string fast paths of the reference grammar, and the messages at the edges near them.

Issue 14 made ``parse_reference`` read plain references (``python:3.11``,
``registry.example.com:5000/team/app:1.0``, ``app@sha256:...``) with string operations
(``_plain_parts``, ``_plain_domain``, ``_plain_component``) instead of compiling the
grammar's pattern at start-up. This file pins:

- what each fast path accepts and declines, with exact values: the parts of a plain reference,
  ``None`` for anything the pattern must decide (IPv6 hosts, uppercase hex, odd separators,
  empty components, a tag one character too long);
- that ``parse_reference`` reaches those branches and gives the grammar's answer, both where
  the fast path accepts (the parts) and where it must decline (the exact error message);
- that plain references really are read without compiling any pattern (the reason the fast
  paths exist);
- the messages of the edges around them: the uppercase message's digest and host cases, the
  60-character shortening limit, where a ``@`` or ``:`` splits off a suffix.
"""

from __future__ import annotations

import re
import warnings
from typing import Optional

import pytest

from valohai_image_lint import reference as reference_module
from valohai_image_lint.reference import (
    ImageReference,
    InvalidReferenceError,
    explain_invalid,
    parse_reference,
)

F64 = "f" * 64
SHA256_F = "sha256:" + F64
SHA384_0 = "sha384:" + "0" * 96
SHA512_A = "sha512:" + "a" * 128
TAG_128 = "t" * 128
COMPONENT_RULE = "use lowercase letters and digits, separated by '.', '_', '__' or '-'"
TAG_RULE = (
    "it may contain only letters, digits, '_', '.' and '-', and must not start with '.' or '-'"
)

Parts = tuple[str, str, Optional[str], Optional[str]]


# --- _plain_parts ----------------------------------------------------------------------------

PLAIN_PARTS = [
    ("docker.io/library/python", ("docker.io", "library/python", None, None)),
    ("docker.io/library/python:3.11", ("docker.io", "library/python", "3.11", None)),
    ("docker.io/library/a:t", ("docker.io", "library/a", "t", None)),
    ("docker.io/library/a:_x", ("docker.io", "library/a", "_x", None)),
    ("docker.io/library/a:Latest-1.0_rc", ("docker.io", "library/a", "Latest-1.0_rc", None)),
    (f"docker.io/library/a:{TAG_128}", ("docker.io", "library/a", TAG_128, None)),
    ("localhost:5000/team/app:1.0", ("localhost:5000", "team/app", "1.0", None)),
    ("registry.example.com/a/b/c", ("registry.example.com", "a/b/c", None, None)),
    ("Registry.Example.COM:443/app", ("Registry.Example.COM:443", "app", None, None)),
    ("sub-dom1.foo-bar.com/app", ("sub-dom1.foo-bar.com", "app", None, None)),
    ("1.2.3.4:80/app", ("1.2.3.4:80", "app", None, None)),
    ("x/a.b_c__d-e--f/g0", ("x", "a.b_c__d-e--f/g0", None, None)),
    (f"docker.io/library/python@{SHA256_F}", ("docker.io", "library/python", None, SHA256_F)),
    (
        f"example.com:5000/team/app:1.0@{SHA384_0}",
        ("example.com:5000", "team/app", "1.0", SHA384_0),
    ),
    (f"example.com/app@{SHA512_A}", ("example.com", "app", None, SHA512_A)),
]


@pytest.mark.parametrize(("text", "parts"), PLAIN_PARTS)
def test_plain_parts_splits_plain_references(text: str, parts: Parts) -> None:
    assert reference_module._plain_parts(text) == parts
    # The pattern, which decides everything the fast path declines, agrees.
    match = reference_module._pattern(reference_module._REFERENCE).fullmatch(text)
    assert match is not None
    assert (match.group(1) or "", *match.groups()[1:]) == parts


NOT_PLAIN = [
    # Valid, but for the pattern to read (or for a later check to refuse).
    "[::1]:5000/app",
    "foo_bar.com/app",
    f"example.com/app@sha256:{'F' * 64}",
    f"example.com/app@sha256:{'f' * 63}",
    f"example.com/app@sha257:{F64}",
    f"example.com/app@sha256+b64:{F64}",
    # Invalid: the pattern fails and explain_invalid says why.
    "example.com/app@sha256",
    f"example.com/app@{SHA256_F}@x",
    f"example.com/app@x@{SHA256_F}",
    f"docker.io/library/a:{TAG_128}t",
    "docker.io/library/a:",
    "docker.io/library/a:-x",
    "docker.io/library/a:.x",
    "docker.io/library/a:x!",
    "docker.io/library/a:b:c",
    "docker.io/library/a:b/c",
    "docker.io/library/-app",
    "docker.io/library/app-",
    "docker.io/library/a._b",
    "docker.io/library/a.-b",
    "docker.io/library/a___b",
    "docker.io/library/a+b",
    "docker.io/library/",
    "docker.io/library//app",
    "docker.io/library/app/",
    ":5000/app",
    "example.com:/app",
    "example.com:abc/app",
    "example.com:5000:6000/app",
    "-a:5000/app",
    "a-:5000/app",
    "-registry.example.com/app",
    "registry-.example.com/app",
    "registry..example.com/app",
    ".example.com/app",
    "example.com./app",
]


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_plain_parts_declines_what_the_pattern_must_decide(text: str) -> None:
    assert reference_module._plain_parts(text) is None


# --- _plain_domain and _plain_component ------------------------------------------------------

@pytest.mark.parametrize(("domain", "plain"), [
    ("docker.io", True),
    ("localhost", True),
    ("a", True),
    ("0", True),
    ("a-b", True),
    ("a--b.c", True),
    ("Registry.Example.COM", True),
    ("localhost:5000", True),
    ("registry.example.com:443", True),
    ("1.2.3.4:0", True),
    ("", False),
    (":5000", False),
    ("host:", False),
    ("host:abc", False),
    ("host:5000a", False),
    ("host:50:00", False),
    ("-a", False),
    ("a-", False),
    ("-a:5000", False),
    ("a-:5000", False),
    ("-", False),
    ("a.-b", False),
    ("a-.b", False),
    ("a..b", False),
    (".a", False),
    ("a.", False),
    ("a_b", False),
    ("[::1]", False),
    ("a b", False),
])
def test_plain_domain(domain: str, plain: bool) -> None:
    assert reference_module._plain_domain(domain) is plain


@pytest.mark.parametrize(("component", "plain"), [
    ("a", True),
    ("0", True),
    ("ab", True),
    ("a0b1", True),
    ("a.b", True),
    ("a_b", True),
    ("a__b", True),
    ("a-b", True),
    ("a--b", True),
    ("a---b", True),
    ("a.b_c__d-e--f", True),
    ("", False),
    ("-a", False),
    (".a", False),
    ("_a", False),
    ("a-", False),
    ("a.", False),
    ("a_", False),
    ("-", False),
    ("a..b", False),
    ("a._b", False),
    ("a_.b", False),
    ("a.-b", False),
    ("a-.b", False),
    ("a___b", False),
    ("a-_b", False),
    ("a+b", False),
    ("a@b", False),
    ("a:b", False),
    ("a/b", False),
    ("aXb", False),
    ("A", False),
])
def test_plain_component(component: str, plain: bool) -> None:
    assert reference_module._plain_component(component) is plain


# --- parse_reference through the fast paths --------------------------------------------------

def ref(domain: str, path: str, tag: Optional[str] = None,
        digest: Optional[str] = None) -> ImageReference:
    return ImageReference(domain, path, tag, digest)


PLAIN_REFERENCES = [
    ("python", ref("docker.io", "library/python")),
    ("python:3.11", ref("docker.io", "library/python", "3.11")),
    ("python:t", ref("docker.io", "library/python", "t")),
    (f"python:{TAG_128}", ref("docker.io", "library/python", TAG_128)),
    ("index.docker.io/team/app:v1", ref("docker.io", "team/app", "v1")),
    ("localhost:5000/team/app:1.0", ref("localhost:5000", "team/app", "1.0")),
    ("localhost/app", ref("localhost", "app")),
    ("Registry.Example.COM:443/app", ref("Registry.Example.COM:443", "app")),
    ("sub-dom1.foo.com/bar/baz/quux", ref("sub-dom1.foo.com", "bar/baz/quux")),
    ("example.com/a:TAG", ref("example.com", "a", "TAG")),
    ("team/a.b_c__d-e---f:1.0-rc_1", ref("docker.io", "team/a.b_c__d-e---f", "1.0-rc_1")),
    (f"python@{SHA256_F}", ref("docker.io", "library/python", None, SHA256_F)),
    (f"python:3.11@{SHA256_F}", ref("docker.io", "library/python", "3.11", SHA256_F)),
    (f"example.com:5000/app@{SHA512_A}", ref("example.com:5000", "app", None, SHA512_A)),
]


@pytest.mark.parametrize(("text", "expected"), PLAIN_REFERENCES)
def test_plain_references_parse_to_their_parts(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(("text", "expected"), PLAIN_REFERENCES)
def test_plain_references_compile_no_pattern(text: str, expected: ImageReference) -> None:
    """The fast paths exist so that a run over ordinary files never compiles the grammar's
    pattern (0.7 ms of every run); a plain reference must not need it, nor any other."""
    reference_module._pattern.cache_clear()
    try:
        assert parse_reference(text) == expected
        assert reference_module._pattern.cache_info().currsize == 0
    finally:
        reference_module._pattern.cache_clear()


@pytest.mark.parametrize(("text", "expected"), [
    ("[::1]:5000/app", ref("[::1]:5000", "app")),
    ("[2001:db8::1]/team/app:1.0", ref("[2001:db8::1]", "team/app", "1.0")),
    ("foo_bar.com/app", ref("", "foo_bar.com/app")),
])
def test_references_the_fast_path_declines_still_parse(
    text: str, expected: ImageReference
) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    # Hosts the fast path must not accept.
    (":5000/app", "registry host ':5000' is invalid"),
    ("-a:5000/app", "registry host '-a:5000' is invalid"),
    ("a-:5000/app", "registry host 'a-:5000' is invalid"),
    ("-registry.example.com/app", "registry host '-registry.example.com' is invalid"),
    ("registry-.example.com/app", "registry host 'registry-.example.com' is invalid"),
    ("example.com:abc/app", "registry host 'example.com:abc' is invalid"),
    ("example.com:/app", "registry host 'example.com:' is invalid"),
    # Path components.
    ("-app", f"repository path component '-app' is invalid: {COMPONENT_RULE}"),
    ("app-", f"repository path component 'app-' is invalid: {COMPONENT_RULE}"),
    ("a._b", f"repository path component 'a._b' is invalid: {COMPONENT_RULE}"),
    ("a.-b", f"repository path component 'a.-b' is invalid: {COMPONENT_RULE}"),
    ("a___b", f"repository path component 'a___b' is invalid: {COMPONENT_RULE}"),
    ("example.com/a+b", f"repository path component 'a+b' is invalid: {COMPONENT_RULE}"),
    ("team//app", "repository path 'team//app' has an empty component"),
    # Tags.
    ("python:-x", f"tag '-x' is invalid: {TAG_RULE}"),
    ("python:.x", f"tag '.x' is invalid: {TAG_RULE}"),
    ("python:x!", f"tag 'x!' is invalid: {TAG_RULE}"),
    (f"python:{TAG_128}t", "tag is 129 characters long; at most 128 are allowed"),
    ("python:", "tag after ':' is empty"),
    # Digests the fast path leaves to the checks after the pattern.
    (f"python@sha256:{'F' * 64}", "sha256 digest must be lowercase hexadecimal"),
    (f"python@sha256:{'f' * 63}", "sha256 digest has 63 hex characters; it needs exactly 64"),
])
def test_what_the_fast_path_must_decline_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)
    assert str(caught.value) == message


# --- Messages at the edges -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    # The tag split stops at the first ':' of what follows the host, even at position 0 or 1.
    ("host.com/:TAG", "repository path after 'host.com' is empty"),
    # A digest with a second ':' still names the uppercase part that is really wrong.
    ("App@sha256:a:b", "repository name 'App' must be lowercase"),
    ("App@SHA256:a:b", "digest algorithm 'SHA256' must be lowercase"),
    ("XOrg/App", "repository name 'XOrg/App' must be lowercase (Docker would read 'XOrg' as a"
                 " registry host)"),
    ("Xy.com/App", "repository name 'App' must be lowercase"),
    # The last '@' starts the digest, and neither suffix holds a '/'.
    (f"a@b@{SHA256_F}", f"repository path component 'a@b' is invalid: {COMPONENT_RULE}"),
    (f"app/@{SHA256_F}", "repository path 'app/' has an empty component"),
    ("app@/x", f"repository path component 'app@' is invalid: {COMPONENT_RULE}"),
    ("app/:tag", "repository path 'app/' has an empty component"),
    # Uppercase after a ':' that is no tag separator.
    ("host.com/a:x/B", "repository name 'a:x/B' must be lowercase"),
    # A template with a newline inside is named whole.
    ("{{ a\nb }}", "image reference contains the template placeholder '{{ a\\nb }}'; write"
                   " the real image name"),
])
def test_edge_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)
    assert str(caught.value) == message


def test_explain_invalid_names_an_uppercase_path() -> None:
    assert explain_invalid("host.com/a:x/B") == "repository name 'a:x/B' must be lowercase"
    assert explain_invalid("App") == "repository name 'App' must be lowercase"


def test_sixty_characters_are_shown_whole_and_sixty_one_are_shortened() -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference("A" * 60)
    assert str(caught.value) == f"repository name '{'A' * 60}' must be lowercase"
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference("A" * 61)
    assert str(caught.value) == f"repository name '{'A' * 40}...(61 characters)' must be lowercase"


def test_with_digest_keeps_tag_and_registry() -> None:
    parsed = parse_reference("registry.example.com:5000/team/app:1.0")
    assert str(parsed.with_digest(SHA256_F)) == (
        f"registry.example.com:5000/team/app:1.0@{SHA256_F}"
    )
    assert parsed.with_digest(SHA256_F).tag == "1.0"


@pytest.mark.parametrize(("text", "message"), [
    ("pythön", "image reference contains the non-ASCII character 'ö' (at position 5)"),
    ("python\x00", "image reference contains the control character '\\x00' (at position 7)"),
])
def test_odd_characters_are_found_without_warnings(text: str, message: str) -> None:
    """The patterns compiled on first use raise no warning (a run with ``-W error`` would
    otherwise end in a traceback), however they are compiled."""
    reference_module._pattern.cache_clear()
    re.purge()  # re's own cache would hand back a pattern compiled earlier, warning unseen
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(InvalidReferenceError) as caught:
                parse_reference(text)
        assert str(caught.value) == message
    finally:
        reference_module._pattern.cache_clear()
