"""The image reference grammar against the documented cases of the Go implementation.

Tables are ported from ``github.com/distribution/reference`` (reference_test.go,
normalize_test.go, regexp_test.go) and ``github.com/opencontainers/go-digest``
(digest_test.go). ``parse_reference`` has ``ParseNormalizedNamed`` semantics, so the cases of
Go's plain ``Parse`` are written here with the normalised result Docker gives for them
(``test_com`` -> ``docker.io/library/test_com``).
"""

from __future__ import annotations

import re
import string
from typing import Optional

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conftest import examples
from valohai_image_lint import reference as reference_module
from valohai_image_lint.reference import ImageReference, InvalidReferenceError, parse_reference

F64 = "f" * 64
SHA256_F = "sha256:" + F64
SHA512_F = "sha512:" + "f" * 128
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
BUSYBOX_DIGEST = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
REDIS_DIGEST = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"


def ref(
    domain: str, path: str, tag: Optional[str] = None, digest: Optional[str] = None
) -> ImageReference:
    return ImageReference(domain, path, tag, digest)


# --- reference_test.go TestReferenceParse, normalised ----------------------------------------

VALID_PARSE_CASES = [
    ("test_com", ref("docker.io", "library/test_com")),
    ("test.com:tag", ref("docker.io", "library/test.com", "tag")),
    ("test.com:5000", ref("docker.io", "library/test.com", "5000")),
    ("test.com/repo:tag", ref("test.com", "repo", "tag")),
    ("test:5000/repo", ref("test:5000", "repo")),
    ("test:5000/repo:tag", ref("test:5000", "repo", "tag")),
    (f"test:5000/repo@{SHA256_F}", ref("test:5000", "repo", None, SHA256_F)),
    (f"test:5000/repo:tag@{SHA256_F}", ref("test:5000", "repo", "tag", SHA256_F)),
    # Go's FIXME: an uppercase first component is taken for a host, so this passes.
    ("Uppercase/lowercase:tag", ref("Uppercase", "lowercase", "tag")),
    ("lowercase:Uppercase", ref("docker.io", "library/lowercase", "Uppercase")),
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        ref("docker.io", "a/" * 127 + "a", "tag-puts-this-over-max"),
    ),
    ("sub-dom1.foo.com/bar/baz/quux", ref("sub-dom1.foo.com", "bar/baz/quux")),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        ref("sub-dom1.foo.com", "bar/baz/quux", "some-long-tag"),
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        ref("b.gcr.io", "test.example.com/my-app", "test.example.com"),
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", ref("xn--n3h.com", "myimage", "xn--n3h.com")),
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA512_F}",
        ref("xn--7o8h.com", "myimage", "xn--7o8h.com", SHA512_F),
    ),
    ("foo_bar.com:8080", ref("docker.io", "library/foo_bar.com", "8080")),
    ("foo/foo_bar.com:8080", ref("docker.io", "foo/foo_bar.com", "8080")),
    ("192.168.1.1", ref("docker.io", "library/192.168.1.1")),
    ("192.168.1.1:tag", ref("docker.io", "library/192.168.1.1", "tag")),
    ("192.168.1.1:5000", ref("docker.io", "library/192.168.1.1", "5000")),
    ("192.168.1.1/repo", ref("192.168.1.1", "repo")),
    ("192.168.1.1:5000/repo", ref("192.168.1.1:5000", "repo")),
    ("192.168.1.1:5000/repo:5050", ref("192.168.1.1:5000", "repo", "5050")),
    ("[2001:db8::1]/repo", ref("[2001:db8::1]", "repo")),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", ref("[2001:db8:1:2:3:4:5:6]", "repo", "tag")),
    ("[2001:db8::1]:5000/repo", ref("[2001:db8::1]:5000", "repo")),
    ("[2001:db8::1]:5000/repo:tag", ref("[2001:db8::1]:5000", "repo", "tag")),
    (
        f"[2001:db8::1]:5000/repo@{SHA256_F}",
        ref("[2001:db8::1]:5000", "repo", None, SHA256_F),
    ),
    (
        f"[2001:db8::1]:5000/repo:tag@{SHA256_F}",
        ref("[2001:db8::1]:5000", "repo", "tag", SHA256_F),
    ),
    ("[2001:db8::]:5000/repo", ref("[2001:db8::]:5000", "repo")),
    ("[::1]:5000/repo", ref("[::1]:5000", "repo")),
]

# (input, a fragment the message must contain: it names the part that is wrong)
INVALID_PARSE_CASES = [
    ("", "empty"),
    (":justtag", "repository name is empty"),
    (f"@{SHA256_F}", "repository name is empty"),
    ("repo@sha256:" + "f" * 34, "sha256 digest has 34 hex characters; it needs exactly 64"),
    (f"validname@invaliddigest:{F64}", "digest algorithm 'invaliddigest' is not supported"),
    ("Uppercase:tag", "repository name 'Uppercase' must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "'Uppercase/lowercase' must be lowercase"),
    ("a/" * 128 + "a:tag", "repository path is 257 characters long; at most 255"),
    ("aa/asdf$$^/aa", "component 'asdf$$^'"),
    ("[2001:db8::1]", "registry host '[2001:db8::1]' must be followed by '/'"),
    ("[2001:db8::1]:5000", "must be followed by '/'"),
    ("[2001:db8::1]:tag", "must be followed by '/'"),
    ("[fe80::1%eth0]:5000/repo", "registry host '[fe80::1%eth0]:5000' is invalid"),
    ("[fe80::1%@invalidzone]:5000/repo", "registry host"),
]


@pytest.mark.parametrize(("text", "expected"), VALID_PARSE_CASES)
def test_reference_parse_valid(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(("text", "fragment"), INVALID_PARSE_CASES)
def test_reference_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_invalid_reference_error_is_a_value_error() -> None:
    assert issubclass(InvalidReferenceError, ValueError)
    with pytest.raises(ValueError, match="lowercase"):
        parse_reference("Python")


def test_design_example() -> None:
    parsed = parse_reference("python:3.11")
    assert (parsed.domain, parsed.path, parsed.tag, parsed.digest) == (
        "docker.io",
        "library/python",
        "3.11",
        None,
    )
    assert str(parsed) == "docker.io/library/python:3.11"
    assert parsed.familiar == "python:3.11"
    # ParseNormalizedNamed adds no default tag.
    assert parse_reference("python").tag is None
    assert str(parse_reference("python")) == "docker.io/library/python"


# --- reference_test.go TestDomainAndPath / normalize_test.go TestNormalizedSplitHostname ---


@pytest.mark.parametrize(
    ("text", "domain", "path"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        ("localhost/foo", "localhost", "foo"),
        ("localhost:5000/foo", "localhost:5000", "foo"),
        # Bare "localhost" has no slash: a familiar name on Docker Hub (Go's FIXME).
        ("localhost", "docker.io", "library/localhost"),
        ("localhost:5000", "docker.io", "library/localhost"),
    ],
)
def test_domain_and_path(text: str, domain: str, path: str) -> None:
    parsed = parse_reference(text)
    assert (parsed.domain, parsed.path) == (domain, path)


# --- normalize_test.go TestValidateReferenceName / TestValidateRemoteName -------------------

VALID_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    f"docker.io/{HEX64}",
    "Docker/docker",
    "DOCKER/docker",
    # TestValidateRemoteName
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]

INVALID_NAMES = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    HEX64,
    # TestValidateRemoteName
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
]


# What each valid name means, written out by hand: Docker Hub and its official `library/`
# namespace filled in, index.docker.io read as docker.io, a first component with "." or ":"
# (or uppercase) taken as the registry host.
_SONG = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"
VALID_NAME_MEANS = {
    "docker/docker": "docker.io/docker/docker",
    "library/debian": "docker.io/library/debian",
    "debian": "docker.io/library/debian",
    "docker.io/docker/docker": "docker.io/docker/docker",
    "docker.io/library/debian": "docker.io/library/debian",
    "docker.io/debian": "docker.io/library/debian",
    "index.docker.io/docker/docker": "docker.io/docker/docker",
    "index.docker.io/library/debian": "docker.io/library/debian",
    "index.docker.io/debian": "docker.io/library/debian",
    "127.0.0.1:5000/docker/docker": "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian": "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian": "127.0.0.1:5000/debian",
    # No "/": an IP address alone is an official image's name, ":80" its tag.
    "192.168.0.1": "docker.io/library/192.168.0.1",
    "192.168.0.1:80": "docker.io/library/192.168.0.1:80",
    "192.168.0.1:8/debian": "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian": "192.168.0.2:25000/debian",
    _SONG: f"docker.io/library/{_SONG}",
    "[fc00::1]:5000/docker": "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker": "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian": "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    f"docker.io/{HEX64}": f"docker.io/library/{HEX64}",
    "Docker/docker": "Docker/docker",
    "DOCKER/docker": "DOCKER/docker",
    "docker-rules/docker": "docker.io/docker-rules/docker",
    "docker---rules/docker": "docker.io/docker---rules/docker",
    "doc/docker": "docker.io/doc/docker",
    "d/docker": "docker.io/d/docker",
    "jess/t": "docker.io/jess/t",
    "dock__er/docker": "docker.io/dock__er/docker",
}


def test_every_valid_name_has_a_meaning() -> None:
    assert sorted(VALID_NAME_MEANS) == sorted(VALID_NAMES)


@pytest.mark.parametrize("text", VALID_NAMES)
def test_valid_names(text: str) -> None:
    parsed = parse_reference(text)
    assert str(parsed) == VALID_NAME_MEANS[text]
    assert parsed.digest is None
    assert parsed.tag == ("80" if text == "192.168.0.1:80" else None)


@pytest.mark.parametrize("text", INVALID_NAMES)
def test_invalid_names(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(text)


# --- normalize_test.go TestParseRepositoryInfo ----------------------------------------------

# (path, familiar name, full name, ambiguous name or None, domain)
REPOSITORY_INFO = [
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", None, "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", None, "docker.io"),
    (
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        None,
        "127.0.0.1:8000",
    ),
    (
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        None,
        "127.0.0.1:8000",
    ),
    (
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        None,
        "example.com",
    ),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", None, "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        None,
        "example.com:8000",
    ),
    (
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        None,
        "example.com:8000",
    ),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", None, "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", None, "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", None, "Foo"),
    ("bar", "FOO/bar", "FOO/bar", None, "FOO"),
]


@pytest.mark.parametrize(("path", "familiar", "full", "ambiguous", "domain"), REPOSITORY_INFO)
def test_repository_info(
    path: str, familiar: str, full: str, ambiguous: Optional[str], domain: str
) -> None:
    for text in (familiar, full, ambiguous):
        if text is None:
            continue
        parsed = parse_reference(text)
        assert parsed.familiar_name == familiar, text
        assert parsed.familiar == familiar, text
        assert parsed.name == full, text
        assert str(parsed) == full, text
        assert parsed.domain == domain, text
        assert parsed.path == path, text


def test_tag_and_digest() -> None:
    # normalize_test.go TestParseReferenceWithTagAndDigest: name:tag@digest is valid.
    short = f"busybox:latest@{BUSYBOX_DIGEST}"
    parsed = parse_reference(short)
    assert str(parsed) == "docker.io/library/" + short
    assert parsed.tag == "latest"
    assert parsed.digest == BUSYBOX_DIGEST
    assert parsed.familiar == short


@pytest.mark.parametrize(
    ("text", "equivalent"),
    [
        # normalize_test.go TestParseAnyReference, the named cases
        ("redis", "docker.io/library/redis"),
        ("redis:latest", "docker.io/library/redis:latest"),
        ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
        (f"redis@{REDIS_DIGEST}", f"docker.io/library/redis@{REDIS_DIGEST}"),
        (f"docker.io/library/redis@{REDIS_DIGEST}", f"docker.io/library/redis@{REDIS_DIGEST}"),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
        ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
        ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
        (f"dmcgowan/myapp@{REDIS_DIGEST}", f"docker.io/dmcgowan/myapp@{REDIS_DIGEST}"),
        (REDIS_DIGEST[7:-1], f"docker.io/library/{REDIS_DIGEST[7:-1]}"),
        ("dbcc1", "docker.io/library/dbcc1"),
        # ParseNormalizedNamed (unlike ParseAnyReference) reads a bare digest as name:tag.
        (REDIS_DIGEST, f"docker.io/library/{REDIS_DIGEST}"),
        # normalize_test.go TestParseDockerRef inputs (without the default tag it adds)
        ("library/busybox", "docker.io/library/busybox"),
        ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
        ("gcr.io/library/busybox", "gcr.io/library/busybox"),
    ],
)
def test_normalised_string(text: str, equivalent: str) -> None:
    assert str(parse_reference(text)) == equivalent
    assert parse_reference(equivalent) == parse_reference(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        # reference_test.go TestParseNamed: canonical when the normalised string is the input.
        ("test.com/foo", True),
        ("test:8080/foo", True),
        ("test_com/foo", False),
        ("test.com", False),
        ("foo", False),
        ("library/foo", False),
        ("docker.io/library/foo", True),
        ("docker.io/foo", False),
    ],
)
def test_canonical_names(text: str, canonical: bool) -> None:
    assert (str(parse_reference(text)) == text) is canonical


def test_identifier_is_rejected_with_a_reason() -> None:
    with pytest.raises(InvalidReferenceError, match="64-character hexadecimal"):
        parse_reference(HEX64)
    # One character shorter, longer, or uppercase is just a name (or invalid for uppercase).
    assert parse_reference(HEX64[:-1]).path == f"library/{HEX64[:-1]}"
    assert parse_reference(HEX64 + "a").path == f"library/{HEX64}a"
    with pytest.raises(InvalidReferenceError, match="lowercase"):
        parse_reference(HEX64.upper())


# --- regexp_test.go, against the module's own patterns --------------------------------------

DOMAIN_REGEXP_CASES = [
    ("test.com", True),
    ("test.com:10304", True),
    ("test.com:http", False),
    ("localhost", True),
    ("localhost:8080", True),
    ("a", True),
    ("a.b", True),
    ("ab.cd.com", True),
    ("a-b.com", True),
    ("-ab.com", False),
    ("ab-.com", False),
    ("ab.c-om", True),
    ("ab.-com", False),
    ("ab.com-", False),
    ("0101.com", True),
    ("001a.com", True),
    ("b.gbc.io:443", True),
    ("b.gbc.io", True),
    ("xn--n3h.com", True),
    ("Asdf.com", True),
    ("192.168.1.1:75050", True),
    ("192.168.1.1:750050", True),
    ("[fd00:1:2::3]:75050", True),
    ("[fd00:1:2::3]75050", False),
    ("[fd00:1:2::3]::75050", False),
    ("[fd00:1:2::3%eth0]:75050", False),
    ("[fd00123123123]:75050", True),
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", True),
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", True),
    ("fd00:1:2::3:75050", False),
    ("foo_bar.com", False),
]


@pytest.mark.parametrize(("domain", "matches"), DOMAIN_REGEXP_CASES)
def test_domain_regexp(domain: str, matches: bool) -> None:
    pattern = reference_module._pattern(reference_module._DOMAIN_AND_PORT)
    assert bool(pattern.fullmatch(domain)) is matches


@pytest.mark.parametrize(
    ("domain", "matches"),
    # Only what Docker splits off as a host; "a" or "ab" would be a Docker Hub namespace.
    [(d, m) for d, m in DOMAIN_REGEXP_CASES if any(c in d for c in ".:") or d == "localhost"],
)
def test_domain_in_a_reference(domain: str, matches: bool) -> None:
    text = f"{domain}/repo:tag"
    if not matches and "_" in domain:
        # foo_bar.com/repo: not a host, but still a valid path (see test_underscore_hosts).
        assert parse_reference(text).domain == ""
        return
    if matches:
        assert parse_reference(text).domain == domain
    else:
        with pytest.raises(InvalidReferenceError, match="registry host"):
            parse_reference(text)


# (input, matches, domain, path); Go's empty submatch is None here.
FULL_NAME_CASES: list[tuple[str, bool, Optional[str], Optional[str]]] = [
    ("", False, None, None),
    ("short", True, None, "short"),
    ("simple/name", True, "simple", "name"),
    ("library/ubuntu", True, "library", "ubuntu"),
    ("docker/stevvooe/app", True, "docker", "stevvooe/app"),
    (
        "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
        True,
        "aa",
        "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
    ),
    ("aa/aa/bb/bb/bb", True, "aa", "aa/bb/bb/bb"),
    ("a/a/a/a", True, "a", "a/a/a"),
    ("a/a/a/a/", False, None, None),
    ("a//a/a", False, None, None),
    ("a", True, None, "a"),
    ("a/aa", True, "a", "aa"),
    ("a/aa/a", True, "a", "aa/a"),
    ("foo.com", True, None, "foo.com"),
    ("foo.com/", False, None, None),
    ("foo.com:8080/bar", True, "foo.com:8080", "bar"),
    ("foo.com:http/bar", False, None, None),
    ("foo.com/bar", True, "foo.com", "bar"),
    ("foo.com/bar/baz", True, "foo.com", "bar/baz"),
    ("localhost:8080/bar", True, "localhost:8080", "bar"),
    ("sub-dom1.foo.com/bar/baz/quux", True, "sub-dom1.foo.com", "bar/baz/quux"),
    ("blog.foo.com/bar/baz", True, "blog.foo.com", "bar/baz"),
    ("a^a", False, None, None),
    ("aa/asdf$$^/aa", False, None, None),
    ("asdf$$^/aa", False, None, None),
    ("aa-a/a", True, "aa-a", "a"),
    ("a/" * 128 + "a", True, "a", "a/" * 127 + "a"),
    ("a-/a/a/a", False, None, None),
    ("foo.com/a-/a/a", False, None, None),
    ("-foo/bar", False, None, None),
    ("foo/bar-", False, None, None),
    ("foo-/bar", False, None, None),
    ("foo/-bar", False, None, None),
    ("_foo/bar", False, None, None),
    ("foo_bar", True, None, "foo_bar"),
    ("foo_bar.com", True, None, "foo_bar.com"),
    ("foo_bar.com:8080", False, None, None),
    ("foo_bar.com:8080/app", False, None, None),
    ("foo.com/foo_bar", True, "foo.com", "foo_bar"),
    ("____/____", False, None, None),
    ("_docker/_docker", False, None, None),
    ("docker_/docker_", False, None, None),
    ("b.gcr.io/test.example.com/my-app", True, "b.gcr.io", "test.example.com/my-app"),
    ("xn--n3h.com/myimage", True, "xn--n3h.com", "myimage"),
    ("xn--7o8h.com/myimage", True, "xn--7o8h.com", "myimage"),
    ("example.com/xn--7o8h.com/myimage", True, "example.com", "xn--7o8h.com/myimage"),
    (
        "example.com/some_separator__underscore/myimage",
        True,
        "example.com",
        "some_separator__underscore/myimage",
    ),
    ("example.com/__underscore/myimage", False, None, None),
    ("example.com/..dots/myimage", False, None, None),
    ("example.com/.dots/myimage", False, None, None),
    ("example.com/nodouble..dots/myimage", False, None, None),
    ("docker./docker", False, None, None),
    (".docker/docker", False, None, None),
    ("docker-/docker", False, None, None),
    ("-docker/docker", False, None, None),
    ("do..cker/docker", False, None, None),
    ("do__cker:8080/docker", False, None, None),
    ("do__cker/docker", True, None, "do__cker/docker"),
    (
        "registry.io/foo/project--id.module--name.ver---sion--name",
        True,
        "registry.io",
        "foo/project--id.module--name.ver---sion--name",
    ),
    ("Asdf.com/foo/bar", True, "Asdf.com", "foo/bar"),
    ("Foo/FarB", False, None, None),
]


@pytest.mark.parametrize(("text", "matches", "domain", "path"), FULL_NAME_CASES)
def test_full_name_regexp(
    text: str, matches: bool, domain: Optional[str], path: Optional[str]
) -> None:
    # Go's anchored name pattern, from the module's parts; the reference pattern splits a
    # name where it does.
    name_re = re.compile(
        rf"(?:({reference_module._DOMAIN_AND_PORT})/)?({reference_module._REMOTE_NAME})",
        re.ASCII)
    match = name_re.fullmatch(text)
    assert bool(match) is matches
    if match is not None:
        assert match.groups() == (domain, path)
    if match is not None:
        whole = reference_module._pattern(reference_module._REFERENCE).fullmatch(text)
        assert whole is not None and whole.groups() == (domain, path, None, None)


DIGEST_BE = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("registry.com:8080/myapp:tag", ("registry.com:8080/myapp", "tag", None)),
        (f"registry.com:8080/myapp@{DIGEST_BE}", ("registry.com:8080/myapp", None, DIGEST_BE)),
        (
            f"registry.com:8080/myapp:tag2@{DIGEST_BE}",
            ("registry.com:8080/myapp", "tag2", DIGEST_BE),
        ),
        ("registry.com:8080/myapp@sha256:badbadbadbad", None),
        ("registry.com:8080/myapp:invalid~tag", None),
        ("bad_hostname.com:8080/myapp:tag", None),
        (f"localhost:8080@{DIGEST_BE}", ("localhost", "8080", DIGEST_BE)),
        (f"localhost:8080/name@{DIGEST_BE}", ("localhost:8080/name", None, DIGEST_BE)),
        (f"localhost:http/name@{DIGEST_BE}", None),
        (f"localhost@{DIGEST_BE}", ("localhost", None, DIGEST_BE)),
        ("registry.com:8080/myapp@bad", None),
        ("registry.com:8080/myapp@2bad", None),
    ],
)
def test_reference_regexp(text: str, groups: Optional[tuple[Optional[str], ...]]) -> None:
    match = reference_module._pattern(reference_module._REFERENCE).fullmatch(text)
    # Go's groups are name, tag, digest; this pattern splits the name into domain and path.
    if match is not None:
        domain, path, tag, digest = match.groups()
        assert (f"{domain}/{path}" if domain else path, tag, digest) == groups
    else:
        assert groups is None
    # And the same verdict from the public parser.
    if groups is None:
        with pytest.raises(InvalidReferenceError):
            parse_reference(text)
    else:
        parsed = parse_reference(text)
        assert (parsed.tag, parsed.digest) == groups[1:]


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", True),
        ("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", False),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", False),
        ("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", False),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", False),
    ],
)
def test_identifier_regexp(text: str, matches: bool) -> None:
    assert bool(reference_module._pattern(reference_module._IDENTIFIER).fullmatch(text)) is matches


# --- go-digest digest_test.go TestParseDigest, as the digest of a reference ---------------

SHA384_D3 = (
    "sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5"
    "bad76e19af801d"
)


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b",
        SHA384_D3,
        SHA512_F,
    ],
)
def test_valid_digests(digest: str) -> None:
    parsed = parse_reference(f"repo@{digest}")
    assert parsed.digest == digest
    assert parsed.tag is None


@pytest.mark.parametrize(
    ("digest", "fragment"),
    [
        # blake3 is not registered in Docker (only sha256, sha384, sha512 are).
        (
            "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            "digest algorithm 'blake3' is not supported",
        ),
        ("", "digest '' is not of the form algorithm:hex"),
        ("     ", "whitespace"),
        ("sha256:", "digest 'sha256:' is not of the form"),
        ("sha256:" + " " * 64, "whitespace"),
        (":", "digest ':' is not of the form"),
        ("d41d8cd98f00b204e9800998ecf8427e", "is not of the form algorithm:hex"),
        ("sha256:d41d8cd98f00b204e9800m98ecf8427e", "is not of the form algorithm:hex"),
        ("sha256:abcdef0123456789", "is not of the form algorithm:hex"),
        (
            "sha512:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "sha512 digest has 64 hex characters; it needs exactly 128",
        ),
        ("foo:d41d8cd98f00b204e9800998ecf8427e", "digest algorithm 'foo' is not supported"),
        ("sha384__foo+bar:" + SHA384_D3[7:], "is not of the form algorithm:hex"),
        ("sha384.foo+bar:" + SHA384_D3[7:], "'sha384.foo+bar' is not supported"),
        ("sha384_foo+bar:" + SHA384_D3[7:], "'sha384_foo+bar' is not supported"),
        ("sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "is not of the form"),
        (
            "sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B",
            "sha256 digest must be lowercase hexadecimal",
        ),
        ("sha256:" + "f" * 65, "sha256 digest has 65 hex characters; it needs exactly 64"),
        ("sha384:" + "f" * 64, "sha384 digest has 64 hex characters; it needs exactly 96"),
        ("md5:" + "f" * 32, "digest algorithm 'md5' is not supported"),
        ("SHA256:" + F64, "digest algorithm 'SHA256' must be lowercase"),
    ],
)
def test_invalid_digests(digest: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(f"repo@{digest}")
    assert fragment in str(info.value)


# --- The cases the brief names, with the part of the message that says what is wrong ------


def test_domain_with_port_and_tag() -> None:
    parsed = parse_reference("registry.example.com:5000/team/app:1.2")
    assert parsed == ref("registry.example.com:5000", "team/app", "1.2")
    assert parsed.familiar == "registry.example.com:5000/team/app:1.2"


def test_ipv6_hosts() -> None:
    assert parse_reference("[::1]/app").domain == "[::1]"
    assert parse_reference("[fc00::1]:5000/app:1").domain == "[fc00::1]:5000"
    with pytest.raises(InvalidReferenceError, match="registry host"):
        parse_reference("[::1]")


def test_localhost() -> None:
    assert parse_reference("localhost/app") == ref("localhost", "app")
    assert parse_reference("localhost:5000/app:1") == ref("localhost:5000", "app", "1")
    # A namespace called "localhostx" is not the reserved name.
    assert parse_reference("localhostx/app").domain == "docker.io"


def test_underscore_hosts() -> None:
    # "test_com" has no dot: it is a Docker Hub namespace.
    assert parse_reference("test_com/app") == ref("docker.io", "test_com/app")
    # "foo_bar.com" has a dot, so Docker splits it off as the domain; the grammar's host does
    # not allow "_" but the whole string is still a valid path, so Go returns it with an
    # empty domain. We do the same, and print it as Docker does.
    odd = parse_reference("foo_bar.com/app:1")
    assert odd == ref("", "foo_bar.com/app", "1")
    assert str(odd) == "foo_bar.com/app:1"
    assert odd.familiar == "foo_bar.com/app:1"
    # With a port it cannot be a path any more.
    with pytest.raises(InvalidReferenceError, match=r"registry host 'foo_bar\.com:8080'"):
        parse_reference("foo_bar.com:8080/app")


def test_uppercase_host_allowed_uppercase_path_rejected() -> None:
    assert parse_reference("Registry.Example.COM/app:Tag") == ref(
        "Registry.Example.COM", "app", "Tag"
    )
    with pytest.raises(InvalidReferenceError, match="repository name 'App' must be lowercase"):
        parse_reference("registry.example.com/App:1")
    with pytest.raises(InvalidReferenceError, match="'MyOrg/Train' must be lowercase"):
        parse_reference("MyOrg/Train:1.0")
    with pytest.raises(InvalidReferenceError, match="repository name 'Python' must be lowercase"):
        parse_reference("Python:3.11")


def test_path_limit_is_on_the_path_not_the_domain() -> None:
    long_domain = ".".join(["a" * 60] * 8) + ":5000"  # 487 characters of host
    path = "b" * 51 + "/" + "/".join(["b" * 50] * 4)  # exactly 255
    assert len(path) == 255
    parsed = parse_reference(f"{long_domain}/{path}:1")
    assert (parsed.domain, parsed.path) == (long_domain, path)
    with pytest.raises(InvalidReferenceError, match="256 characters long; at most 255"):
        parse_reference(f"{long_domain}/{path}c:1")
    # On Docker Hub the implied "library/" counts: 247 + 8 = 255 is fine, 248 + 8 is not.
    assert len(parse_reference("a" * 247).path) == 255
    with pytest.raises(InvalidReferenceError, match="256 characters long"):
        parse_reference("a" * 248)


def test_tag_length() -> None:
    assert parse_reference("python:" + "a" * 128).tag == "a" * 128
    with pytest.raises(InvalidReferenceError, match="tag is 129 characters long; at most 128"):
        parse_reference("python:" + "a" * 129)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("python:", "tag after ':' is empty"),
        ("python:.x", "tag '.x' is invalid"),
        ("python:-x", "tag '-x' is invalid"),
        ("python:a~b", "tag 'a~b' is invalid"),
        ("python@", "digest '' is not of the form"),
        ("python@2bad", "digest '2bad' is not of the form"),
        ("/python", "empty component"),
        ("python/", "empty component"),
        ("docker.io/", "repository path after 'docker.io' is empty"),
        ("-python", "component '-python' is invalid"),
        ("pyt..hon", "component 'pyt..hon' is invalid"),
        ("https://registry.example.com/app", "URL scheme ('https://')"),
        ("bad-.host.com/app", "registry host 'bad-.host.com' is invalid"),
        ("host.com:port/app", "registry host 'host.com:port' is invalid"),
    ],
)
def test_messages_name_the_wrong_part(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "python:3.11\n",
        "\npython:3.11",
        "python:3.11 ",
        " python",
        "python :3.11",
        "python:3.11\tx",
        "python\r",
        "python\u00a0",
        "python\u2028",
    ],
)
def test_whitespace_and_newlines_are_rejected(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match="whitespace"):
        parse_reference(text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<<registry/image:tag>>", "<<registry/image:tag>>"),
        ("<your-image>", "<your-image>"),
        ("{{ image }}", "{{ image }}"),
        ("{{image}}:latest", "{{image}}"),
        ("${IMAGE}", "${IMAGE}"),
        ("$IMAGE", "$IMAGE"),
        ("registry.example.com/${PROJECT}/app:1", "${PROJECT}"),
        ("myorg/app:{tag}", "{tag}"),
    ],
)
def test_template_placeholders(text: str, shown: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    message = str(info.value)
    assert "template placeholder" in message
    assert repr(shown) in message


@pytest.mark.parametrize(
    "text", ["pythön:3", "python:3.11\u2013slim", "\ufeffpython", "python\x00", "pyth\x7fon"]
)
def test_non_ascii_and_control_characters(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match=r"non-ASCII|control character"):
        parse_reference(text)


def test_non_string_input() -> None:
    with pytest.raises(InvalidReferenceError, match="expected a string"):
        parse_reference(3.9)  # type: ignore[arg-type]


def test_messages_stay_short_for_huge_input() -> None:
    for text in ("a-" * 100_000 + "!", "python:" + "x" * 100_000, "Q" * 100_000):
        with pytest.raises(InvalidReferenceError) as info:
            parse_reference(text)
        message = str(info.value)
        assert len(message) < 200
        assert "\n" not in message


def test_familiar_forms() -> None:
    assert parse_reference("docker.io/library/python:3.11").familiar == "python:3.11"
    assert parse_reference("index.docker.io/library/python").familiar == "python"
    assert parse_reference("index.docker.io/user/app:1").familiar == "user/app:1"
    assert parse_reference("docker.io/library/foo/bar").familiar == "library/foo/bar"
    assert parse_reference("ghcr.io/org/app@" + SHA256_F).familiar == "ghcr.io/org/app@" + SHA256_F
    # Go's FamiliarString would print "foo.bar/app" and "localhost/app", which name a
    # different registry; ours keeps docker.io so that the familiar form means the same image.
    assert parse_reference("docker.io/foo.bar/app").familiar == "docker.io/foo.bar/app"
    assert parse_reference("docker.io/localhost/app").familiar == "docker.io/localhost/app"
    assert parse_reference("docker.io/foo.bar").familiar == "foo.bar"


def test_with_tag_and_digest() -> None:
    parsed = parse_reference("test.com:8000/foo")
    assert str(parsed.with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    assert str(parsed.with_digest(SHA256_F).with_tag("latest")) == (
        f"test.com:8000/foo:latest@{SHA256_F}"
    )
    assert parse_reference("foo:1").with_tag(None).familiar == "foo"


def test_with_digest_keeps_the_tag() -> None:
    """Pinning ``python:3.11`` keeps the tag a reader recognises: ``python:3.11@sha256:...``."""
    pinned = parse_reference("python:3.11").with_digest(SHA256_F)
    assert pinned == ref("docker.io", "library/python", "3.11", SHA256_F)
    assert pinned.familiar == f"python:3.11@{SHA256_F}"


# --- Properties ------------------------------------------------------------------------------

_ALNUM = string.ascii_lowercase + string.digits
_alnum_runs = st.text(alphabet=_ALNUM, min_size=1, max_size=6)
_separators = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def path_components(draw: st.DrawFn) -> str:
    parts = [draw(_alnum_runs)]
    for _ in range(draw(st.integers(0, 2))):
        parts.append(draw(_separators))
        parts.append(draw(_alnum_runs))
    return "".join(parts)


@st.composite
def domain_components(draw: st.DrawFn) -> str:
    letters = string.ascii_letters + string.digits
    first = draw(st.sampled_from(letters))
    middle = draw(st.text(alphabet=letters + "-", max_size=5))
    if middle == "":
        return first
    return first + middle + draw(st.sampled_from(letters))


@st.composite
def domains(draw: st.DrawFn) -> str:
    """Hosts that Docker splits off as a domain: a dot, a port, localhost or uppercase."""
    kind = draw(st.sampled_from(["dotted", "port", "localhost", "ipv4", "ipv6", "upper"]))
    if kind == "dotted":
        host = ".".join(draw(st.lists(domain_components(), min_size=2, max_size=4)))
    elif kind == "port":
        host = draw(domain_components())
    elif kind == "localhost":
        host = "localhost"
    elif kind == "ipv4":
        host = ".".join(str(draw(st.integers(0, 255))) for _ in range(4))
    elif kind == "ipv6":
        groups = draw(st.lists(st.text(alphabet="0123456789abcdefABCDEF", max_size=4), max_size=7))
        host = "[" + ":".join(groups) + "::1]"
    else:
        host = draw(domain_components()).upper()
        assume(host.lower() != host)
    if kind == "port" or draw(st.booleans()):
        host += f":{draw(st.integers(0, 99999))}"
    return host


_digests = st.sampled_from([("sha256", 64), ("sha384", 96), ("sha512", 128)]).flatmap(
    lambda known: st.text(alphabet="0123456789abcdef", min_size=known[1], max_size=known[1]).map(
        lambda encoded: f"{known[0]}:{encoded}"
    )
)
_tags = st.text(alphabet=string.ascii_letters + string.digits + "_.-", max_size=20).flatmap(
    lambda rest: st.sampled_from(string.ascii_letters + string.digits + "_").map(
        lambda first: first + rest
    )
)


# (text, domain as written, path as written, tag, digest)
WrittenReference = tuple[str, Optional[str], str, Optional[str], Optional[str]]


@st.composite
def written_references(draw: st.DrawFn) -> WrittenReference:
    """A valid reference as a user might write it, with the parts it was built from."""
    domain = draw(st.none() | domains() | st.sampled_from(["docker.io", "index.docker.io"]))
    path = "/".join(draw(st.lists(path_components(), min_size=1, max_size=4)))
    tag = draw(st.none() | _tags)
    digest = draw(st.none() | _digests)
    text = path if domain is None else f"{domain}/{path}"
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"
    assume(not re.fullmatch("[a-f0-9]{64}", text))
    return text, domain, path, tag, digest


_SETTINGS = settings(max_examples=examples(300), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(written_references())
def test_valid_references_parse_to_their_parts(
    case: WrittenReference,
) -> None:
    text, domain, path, tag, digest = case
    parsed = parse_reference(text)
    assert (parsed.tag, parsed.digest) == (tag, digest)
    if domain is None:
        first = path.split("/", 1)[0]
        # A lowercase first component without "." or ":" stays in the path (Docker Hub).
        assume("." not in first)
        expected_domain = "docker.io"
    else:
        expected_domain = "docker.io" if domain == "index.docker.io" else domain
    assert parsed.domain == expected_domain
    if expected_domain == "docker.io" and "/" not in path:
        assert parsed.path == "library/" + path
    else:
        assert parsed.path == path


@_SETTINGS
@given(written_references())
@example(("foo_bar.com/app", None, "foo_bar.com/app", None, None))
@example(("docker.io/foo.bar/app", None, "", None, None))
@example(("docker.io/localhost/app:1", None, "", None, None))
def test_string_and_familiar_round_trip(
    case: WrittenReference,
) -> None:
    parsed = parse_reference(case[0])
    assert parse_reference(str(parsed)) == parsed
    assert parse_reference(parsed.familiar) == parsed
    assert len(parsed.familiar) <= len(str(parsed))
    # Normalising is idempotent: the full form is its own normal form.
    assert str(parse_reference(str(parsed))) == str(parsed)


_REFERENCE_ALPHABET = st.sampled_from(
    [*"abcz09AZ._-/:@[]%$<>{}~^ \n\t\r", "__", "sha256:", "\u00e9", "\U0001f433", "\x00"]
)


@_SETTINGS
@given(
    st.one_of(
        st.text(),
        st.lists(_REFERENCE_ALPHABET, max_size=30).map("".join),
        written_references().flatmap(
            lambda case: st.tuples(st.integers(0, len(case[0])), st.text(max_size=3)).map(
                lambda cut: case[0][: cut[0]] + cut[1] + case[0][cut[0] :]
            )
        ),
    )
)
def test_any_text_parses_or_raises_invalid_reference_error(text: str) -> None:
    try:
        parsed = parse_reference(text)
    except InvalidReferenceError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert len(message) < 300
        return
    # Whatever parses is made only of what the grammar allows, and prints back the same.
    assert parsed.path and re.fullmatch(r"[a-z0-9._/-]+", parsed.path)
    assert parse_reference(str(parsed)) == parsed


# Near-valid text: the characters where the grammar's choices are made.
_NEAR = st.text(alphabet="aZ0-._:/@[]", max_size=24)


@_SETTINGS
@given(st.one_of(
    written_references().map(lambda case: case[0]),
    st.tuples(_NEAR, st.none() | _digests).map(lambda t: t[0] + (f"@{t[1]}" if t[1] else "")),
))
def test_the_plain_reading_splits_as_the_pattern_does(text: str) -> None:
    """Plain references are read without the pattern (it is not compiled at start-up); what
    that reading accepts, the pattern accepts with the same parts."""
    plain = reference_module._plain_parts(text)
    if plain is not None:
        match = reference_module._pattern(reference_module._REFERENCE).fullmatch(text)
        assert match is not None, text
        domain, path, tag, digest = match.groups()
        assert (domain or "", path, tag, digest) == plain
