"""Docker image references, parsed as ``github.com/distribution/reference`` parses them.

The grammar (from the Go package's documentation)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | \\[ IPv6address \\]
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    path-component   := alpha-numeric [separator alpha-numeric]*
    path             := path-component ['/' path-component]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" hex

``parse_reference`` follows ``ParseNormalizedNamed``: familiar names are normalised
(``python`` -> ``docker.io/library/python``) and no default tag is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "DEFAULT_DOMAIN",
    "ImageReference",
    "InvalidReferenceError",
    "parse_reference",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(
    rf"((?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII
)
_NAME_RE = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT, re.ASCII)
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT, re.ASCII)

# Algorithms that go-digest knows, with the length of their hex encoding.
DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_FORMAT_RE = re.compile(r"([^:]+):(.*)", re.ASCII | re.DOTALL)
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)


class InvalidReferenceError(ValueError):
    """The string is not a valid image reference; the message says which part is wrong."""


@dataclass(frozen=True)
class ImageReference:
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def name(self) -> str:
        """The full repository name, ``domain/path``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository name as ``docker`` prints it (``python``, ``user/app``)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
            path = path[len(OFFICIAL_REPO_PREFIX) :]
        return path

    @property
    def familiar(self) -> str:
        """The shortest form that means the same image (``python:3.11``)."""
        return self.familiar_name + self._suffix()

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.domain, self.path, self.tag, digest)

    def with_tag(self, tag: Optional[str]) -> ImageReference:
        return ImageReference(self.domain, self.path, tag, self.digest)

    def _suffix(self) -> str:
        suffix = f":{self.tag}" if self.tag is not None else ""
        if self.digest is not None:
            suffix += f"@{self.digest}"
        return suffix

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse_reference(text: str) -> ImageReference:
    """Parse ``text`` with ``ParseNormalizedNamed`` semantics.

    Raises ``InvalidReferenceError`` saying which part is wrong.
    """
    if not isinstance(text, str):
        raise InvalidReferenceError(f"expected a string, got {type(text).__name__}")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid repository name ({text}): a 64-character hexadecimal string is an image ID,"
            " not a reference"
        )
    domain, remainder = _split_docker_domain(text)
    tag_sep = remainder.find(":")
    remote_name = remainder[:tag_sep] if tag_sep > -1 else remainder
    if remote_name.lower() != remote_name:
        written = remote_name
        if written.startswith(OFFICIAL_REPO_PREFIX) and OFFICIAL_REPO_PREFIX not in text:
            written = written[len(OFFICIAL_REPO_PREFIX) :]
        raise InvalidReferenceError(f"repository name {written!r} must be lowercase")
    return _parse(f"{domain}/{remainder}", original=text)


def _split_docker_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    first = name[:i]
    if i == -1 or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remote = DEFAULT_DOMAIN, name
    else:
        domain, remote = first, name[i + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse(text: str, original: str) -> ImageReference:
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        raise InvalidReferenceError(explain_invalid(original))
    name, tag, digest = match.groups()
    name_match = _NAME_RE.fullmatch(name)
    assert name_match is not None  # the reference pattern already matched it
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"repository path is {len(path)} characters long; at most"
            f" {NAME_TOTAL_LENGTH_MAX} are allowed"
        )
    if digest is not None:
        _validate_digest(digest)
    return ImageReference(domain, path, tag, digest)


def _validate_digest(digest: str) -> None:
    match = _DIGEST_FORMAT_RE.fullmatch(digest)
    if match is None:
        raise InvalidReferenceError(f"digest {digest!r} has no algorithm")
    algorithm, encoded = match.groups()
    length = DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        known = ", ".join(DIGEST_ALGORITHMS)
        raise InvalidReferenceError(
            f"digest algorithm {algorithm!r} is not supported (known: {known})"
        )
    if len(encoded) != length:
        raise InvalidReferenceError(
            f"{algorithm} digest has {len(encoded)} hex characters; it needs exactly {length}"
        )
    if not _LOWER_HEX_RE.fullmatch(encoded):
        raise InvalidReferenceError(f"{algorithm} digest must be lowercase hexadecimal")


def explain_invalid(text: str) -> str:
    """Say which part of an invalid reference is wrong, as precisely as we can."""
    if text == "":
        return "image reference is empty"
    if text.strip() != text or any(c.isspace() for c in text):
        return "image reference contains whitespace"
    if ("<" in text and ">" in text) or "{{" in text or "${" in text:
        return "image reference is a template placeholder, not an image name"
    if not text.isascii():
        return "image reference contains non-ASCII characters"
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not re.fullmatch(_DIGEST, digest, re.ASCII):
            return f"digest {digest!r} is not of the form algorithm:hex (32 or more hex digits)"
    name, tag = rest, None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if tag == "":
            return "tag after ':' is empty"
        if len(tag) > 128:
            return f"tag is {len(tag)} characters long; at most 128 are allowed"
        if not _TAG_RE.fullmatch(tag):
            return (
                f"tag {tag!r} is invalid: it may contain only letters, digits, '_', '.' and '-',"
                " and must not start with '.' or '-'"
            )
    if name == "":
        return "repository name is empty"
    domain, _, path = name.partition("/") if "/" in name else ("", "", name)
    if domain and (any(c in domain for c in ".:") or domain == "localhost" or not domain.islower()):
        if not _DOMAIN_RE.fullmatch(domain):
            return f"registry host {domain!r} is invalid"
    else:
        path = name
    if path.lower() != path:
        return f"repository name {path!r} must be lowercase"
    for component in path.split("/"):
        if component == "":
            return f"repository path {path!r} has an empty component"
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return (
                f"repository path component {component!r} is invalid: use lowercase letters and"
                " digits, separated by '.', '_', '__' or '-'"
            )
    return f"{text!r} is not a valid image reference"
