"""Every message of the reference grammar, exactly: the user reads these, and a test that
checks only a fragment lets the rest of a message rot unseen. Each was read against the input
it describes."""

from __future__ import annotations

import pytest

from valohai_image_lint.reference import InvalidReferenceError, explain_invalid, parse_reference

HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
A64 = "a" * 64

MESSAGES = [
    ("",
     'image reference is empty'),
    ("${IMAGE}",
     "image reference contains the template placeholder '${IMAGE}'; write "
     'the real image name'),
    ("<<reg/img:tag>>",
     "image reference contains the template placeholder '<<reg/img:tag>>'; "
     'write the real image name'),
    ("{{image}}",
     "image reference contains the template placeholder '{{image}}'; write "
     'the real image name'),
    ("$IMAGE",
     "image reference contains the template placeholder '$IMAGE'; write the "
     'real image name'),
    ("{x}",
     "image reference contains the template placeholder '{x}'; write the "
     'real image name'),
    ("a b",
     "image reference contains whitespace (' ' at position 2)"),
    ("a\tb",
     "image reference contains whitespace ('\\t' at position 2)"),
    ("caf\u00e9",
     "image reference contains the non-ASCII character 'é' (at position 4)"),
    ("a\x01",
     "image reference contains the control character '\\x01' (at position 2)"),
    ("x" * 61 + "${A}",
     "image reference contains the template placeholder '${A}'; write the "
     'real image name'),
    (HEX64,
     'invalid repository name '
     '(1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a): a '
     '64-character hexadecimal string is an image ID, not a reference'),
    ("MyOrg/App:1",
     "repository name 'MyOrg/App' must be lowercase (Docker would read "
     "'MyOrg' as a registry host)"),
    ("Ubuntu:22.04",
     "repository name 'Ubuntu' must be lowercase"),
    ("ghcr.io/MyOrg/app",
     "repository name 'MyOrg/app' must be lowercase"),
    ("localhost/App",
     "repository name 'App' must be lowercase"),
    ("app@SHA256:" + A64,
     "digest algorithm 'SHA256' must be lowercase"),
    ("app@Sha256:" + A64,
     "digest algorithm 'Sha256' must be lowercase"),
    ("https://ghcr.io/a/b",
     "image reference starts with a URL scheme ('https://'); write the "
     'registry host and path without it'),
    ("[::1]",
     "registry host '[::1]' must be followed by '/' and a repository path"),
    ("app@sha256:xyz",
     "digest 'sha256:xyz' is not of the form algorithm:hex (like sha256: "
     'and 64 hex digits)'),
    ("app:",
     "tag after ':' is empty"),
    ("app:" + "t" * 129,
     'tag is 129 characters long; at most 128 are allowed'),
    ("app:-x",
     "tag '-x' is invalid: it may contain only letters, digits, '_', '.' "
     "and '-', and must not start with '.' or '-'"),
    (":tag",
     'repository name is empty'),
    ("@sha256:" + A64,
     'repository name is empty'),
    ("bad_host!.io/app",
     "registry host 'bad_host!.io' is invalid"),
    ("Bad_Host/app",
     "registry host 'Bad_Host' is invalid"),
    ("ghcr.io/",
     "repository path after 'ghcr.io' is empty"),
    ("ghcr.io/App",
     "repository name 'App' must be lowercase"),
    ("ghcr.io/a//b",
     "repository path 'a//b' has an empty component"),
    ("ghcr.io/a_/b",
     "repository path component 'a_' is invalid: use lowercase letters and "
     "digits, separated by '.', '_', '__' or '-'"),
    ("a/-b",
     "repository path component '-b' is invalid: use lowercase letters and "
     "digits, separated by '.', '_', '__' or '-'"),
    ("app@md5:" + "a" * 32,
     "digest algorithm 'md5' is not supported (known: sha256, sha384, "
     'sha512)'),
    ("app@sha256:" + "a" * 63,
     'sha256 digest has 63 hex characters; it needs exactly 64'),
    ("app@sha256:" + "A" * 64,
     'sha256 digest must be lowercase hexadecimal'),
    ("app@sha512:" + A64,
     'sha512 digest has 64 hex characters; it needs exactly 128'),
    ("app@sha256+b64:" + A64,
     "digest algorithm 'sha256+b64' is not supported (known: sha256, "
     'sha384, sha512)'),
    ("a/" + "b" * 300,
     'repository path is 302 characters long; at most 255 are allowed'),
    ("ghcr.io:/a",
     "registry host 'ghcr.io:' is invalid"),
    ("a@b",
     "digest 'b' is not of the form algorithm:hex (like sha256: and 64 hex "
     'digits)'),
    ("UPPER",
     "repository name 'UPPER' must be lowercase"),
    ("x" * 100 + "/Y",
     "repository name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...(102 "
     "characters)' must be lowercase"),
]


@pytest.mark.parametrize(("text", "message"), MESSAGES)
def test_message(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)
    assert str(caught.value) == message


# Inputs at the edges of how a message is built: where a suffix is split off, which part is
# named, when a part is shortened. Each names what would go wrong with a plausible slip.
EDGE_MESSAGES = [
    # The grammar rejects "_" in a host, so the whole name is the path: the limit counts it all.
    pytest.param("foo_bar.com/" + "a" * 250,
                 "repository path is 262 characters long; at most 255 are allowed",
                 id="path-limit-counts-an-unsplit-host"),
    # The path ends at the FIRST "@"; what follows another "@" is no part of it.
    pytest.param("a@" + "b" * 300 + "@c",
                 "digest 'c' is not of the form algorithm:hex (like sha256: and 64 hex digits)",
                 id="path-ends-at-first-at"),
    # The digest is the part after the LAST "@": a good digest, a stray "@" in the name.
    pytest.param("app@x@sha256:" + A64,
                 "repository path component 'app@x' is invalid: use lowercase letters and "
                 "digits, separated by '.', '_', '__' or '-'",
                 id="digest-after-last-at"),
    # A digest never contains "/": "@/b" is part of the name, not a digest "/b".
    pytest.param("a@/b",
                 "repository path component 'a@' is invalid: use lowercase letters and "
                 "digits, separated by '.', '_', '__' or '-'",
                 id="at-slash-is-no-digest"),
    # "/" right before the "@" or ":" does not stop the suffix from being split off.
    pytest.param("ghcr.io/@sha256:" + A64,
                 "repository path after 'ghcr.io' is empty",
                 id="slash-before-digest"),
    pytest.param("ghcr.io/:tag",
                 "repository path after 'ghcr.io' is empty",
                 id="slash-before-tag"),
    pytest.param("localhost/",
                 "repository path after 'localhost' is empty",
                 id="localhost-is-a-host"),
    # Exactly 60 characters are still shown whole.
    pytest.param("x" * 58 + "/Y",
                 "repository name '" + "x" * 58 + "/Y' must be lowercase",
                 id="sixty-characters-unshortened"),
    # An uppercase "X" in the first component is not a host marker like "." or ":".
    pytest.param("Xorg/App",
                 "repository name 'Xorg/App' must be lowercase (Docker would read 'Xorg' as "
                 "a registry host)",
                 id="uppercase-x-first-component"),
    # A lowercase digest algorithm: the uppercase is in the name, and only the part before
    # the first ":" of the digest is its algorithm.
    pytest.param("App@sha256:" + A64,
                 "repository name 'App' must be lowercase",
                 id="uppercase-name-with-digest"),
    pytest.param("App@sha256:a:b",
                 "repository name 'App' must be lowercase",
                 id="uppercase-name-digest-two-colons"),
    pytest.param("app@SHA256:a:b",
                 "digest algorithm 'SHA256' must be lowercase",
                 id="uppercase-algorithm-two-colons"),
    # A 128-character tag is valid; the error is elsewhere.
    pytest.param("a_:" + "t" * 128,
                 "repository path component 'a_' is invalid: use lowercase letters and "
                 "digits, separated by '.', '_', '__' or '-'",
                 id="tag-of-128-is-fine"),
    # The scheme is what comes before the FIRST "://".
    pytest.param("https://x://y",
                 "image reference starts with a URL scheme ('https://'); write the registry "
                 "host and path without it",
                 id="first-url-scheme"),
]


@pytest.mark.parametrize(("text", "message"), EDGE_MESSAGES)
def test_edge_message(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        parse_reference(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("", "image reference is empty", id="empty"),
    pytest.param("a b", "image reference contains whitespace (' ' at position 2)",
                 id="whitespace"),
    pytest.param("${X}", "image reference contains the template placeholder '${X}'; write the"
                 " real image name", id="placeholder"),
])
def test_explain_invalid_names_obvious_problems_first(text: str, message: str) -> None:
    """Called on its own, explain_invalid gives the same first message parse_reference does."""
    assert explain_invalid(text) == message


@pytest.mark.parametrize(("text", "message"), [
    ("docker.io/library/python:3.11",
     "'docker.io/library/python:3.11' is not a valid image reference"),
    ("x" * 100, "'" + "x" * 40 + "...(100 characters)' is not a valid image reference"),
])
def test_explain_invalid_falls_back_to_the_whole_reference(text: str, message: str) -> None:
    """explain_invalid is asked only about text that failed; on text it finds nothing wrong
    with, it says so about the whole, shortened."""
    assert explain_invalid(text) == message


def test_non_string_input() -> None:
    for value, name in ((None, "NoneType"), (3, "int"), (b"python", "bytes")):
        with pytest.raises(InvalidReferenceError) as caught:
            parse_reference(value)  # type: ignore[arg-type]
        assert str(caught.value) == f"expected a string, got {name}"
