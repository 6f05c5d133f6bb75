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
from functools import cache
from typing import Optional

from valohai_image_lint._record import FrozenRecord, set_field

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

# Groups: domain (None without one), path, tag, digest. The domain is taken whenever the
# whole text can match with it (the pattern tries it first), which is where Go's separate
# name pattern splits the matched name.
_REFERENCE = rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?"
_IDENTIFIER = r"[a-f0-9]{64}"


# The patterns are compiled when first used: the reference pattern alone took 0.7 ms of every
# run, and the plain images nearly every file names are read without it (_plain_parts).
@cache
def _pattern(source: str, flags: int = re.ASCII) -> re.Pattern[str]:
    return re.compile(source, flags)

# Algorithms that go-digest knows, with the length of their hex encoding.
DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReferenceError(ValueError):
    """The string is not a valid image reference; the message says which part is wrong."""


class ImageReference(FrozenRecord):
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    __slots__ = ("domain", "path", "tag", "digest")
    domain: str
    path: str
    tag: Optional[str]
    digest: Optional[str]

    def __init__(self, domain: str, path: str, tag: Optional[str] = None,
                 digest: Optional[str] = None) -> None:
        set_field(self, "domain", domain)
        set_field(self, "path", path)
        set_field(self, "tag", tag)
        set_field(self, "digest", digest)

    @property
    def name(self) -> str:
        """The full repository name, ``domain/path``.

        The domain is empty only for names like ``foo_bar.com/app``: Docker takes the first
        component for a host (it has a dot) but the grammar does not (a host has no ``_``), so
        the whole name is a path on no registry; it is printed as Docker prints it.
        """
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """The repository name as ``docker`` prints it (``python``, ``user/app``).

        Unlike Go's ``FamiliarName`` this never drops ``docker.io/`` when what remains would be
        read back as a registry host (``docker.io/foo.bar/app``), so the familiar form always
        parses to the same reference.
        """
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
            return path[len(OFFICIAL_REPO_PREFIX) :]
        first = path.split("/", 1)[0]
        if any(c in first for c in ".:") or first == "localhost":
            return self.name
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
    # Nothing these catch is valid in the grammar; checking them first gives the clearest
    # message (``${IMAGE}`` is a placeholder, not an uppercase repository name).
    obvious = _obvious_problem(text)
    if obvious is not None:
        raise InvalidReferenceError(obvious)
    if len(text) == 64 and _pattern(_IDENTIFIER).fullmatch(text):
        raise InvalidReferenceError(
            f"invalid repository name ({text}): a 64-character hexadecimal string is an image ID,"
            " not a reference"
        )
    domain, remainder = _split_docker_domain(text)
    tag_sep = remainder.find(":")
    remote_name = remainder[:tag_sep] if tag_sep > -1 else remainder
    if remote_name.lower() != remote_name:
        raise InvalidReferenceError(_uppercase_message(text))
    # The path is at least what comes before the tag or digest, so a longer one is an error
    # whatever else is wrong; saying so early spares the pattern a megabyte-long image.
    at = remote_name.find("@")
    path_length = len(remote_name if at == -1 else remote_name[:at])
    if path_length > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(_path_too_long(path_length))
    return _parse(f"{domain}/{remainder}", original=text)


def _path_too_long(length: int) -> str:
    return (
        f"repository path is {length} characters long; at most {NAME_TOTAL_LENGTH_MAX} are"
        " allowed"
    )


def _uppercase_message(text: str) -> str:
    """Say where the uppercase letters are that ``ParseNormalizedNamed`` rejects."""
    name, _, digest = _split_suffixes(text)
    if digest is not None and digest.split(":", 1)[0].lower() != digest.split(":", 1)[0]:
        return f"digest algorithm {_shorten(digest.split(':', 1)[0])!r} must be lowercase"
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost"):
        return f"repository name {_shorten(rest)!r} must be lowercase"
    if slash and first.lower() != first:
        # Docker reads an uppercase first component as a registry host, which is almost
        # never what ``MyOrg/App`` meant; name the whole thing.
        return (
            f"repository name {_shorten(name)!r} must be lowercase (Docker would read"
            f" {_shorten(first)!r} as a registry host)"
        )
    return f"repository name {_shorten(name)!r} must be lowercase"


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
    plain = _plain_parts(text)
    if plain is not None:
        domain, path, tag, digest = plain
    else:
        match = _pattern(_REFERENCE).fullmatch(text)
        if match is None:
            raise InvalidReferenceError(explain_invalid(original))
        domain, path, tag, digest = match.groups()
        domain = domain or ""
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(_path_too_long(len(path)))
    if digest is not None:
        _validate_digest(digest)
    return ImageReference(domain, path, tag, digest)


_ALNUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_DIGITS = frozenset("0123456789")
_LOWER_HEX_CHARS = frozenset("0123456789abcdef")
_TAG_START = _TAG_CHARS - {"", ".", "-"}


def _plain_parts(text: str) -> Optional[tuple[str, str, Optional[str], Optional[str]]]:
    """Domain, path, tag and digest of ``domain/path[:tag][@digest]`` when each part plainly
    follows the grammar: a host name (no IPv6 address), lowercase path components, a digest
    of a known algorithm with as many lowercase hex digits as it has. Then the reference
    pattern would split it the same way (the domain ends at the first "/", the path at the
    ":", the tag at the "@", and every part is valid). None for anything else, which the
    pattern decides."""
    name, at, digest = text.partition("@")
    if at:
        algorithm, colon, encoded = digest.partition(":")
        if not (colon and DIGEST_ALGORITHMS.get(algorithm) == len(encoded)
                and _LOWER_HEX_CHARS.issuperset(encoded)):
            return None
    domain, _, rest = name.partition("/")
    path, colon, tag = rest.partition(":")
    if not (_plain_domain(domain) and all(map(_plain_component, path.split("/")))):
        return None
    if colon and not (len(tag) <= 128 and tag[:1] in _TAG_START and _TAG_CHARS.issuperset(tag)):
        return None
    return domain, path, tag if colon else None, digest if at else None


def _plain_domain(domain: str) -> bool:
    """``domain-name [":" port-number]``: components of letters, digits and inner "-"."""
    host, colon, port = domain.partition(":")
    if colon and not (port and _DIGITS.issuperset(port)):
        return False
    return all(component and _HOST_CHARS.issuperset(component) and component[0] != "-"
               and component[-1] != "-" for component in host.split("."))


def _plain_component(component: str) -> bool:
    """``alpha-numeric [separator alpha-numeric]*``, separators ``.``, ``_``, ``__``, ``-+``."""
    if not component or component[0] not in _ALNUM_CHARS or component[-1] not in _ALNUM_CHARS:
        return False
    separator = ""
    for char in component:
        if char in _ALNUM_CHARS:
            if separator and separator not in (".", "_", "__") and separator.strip("-"):
                return False
            separator = ""
        elif char in "._-":
            separator += char
        else:
            return False
    return True


def _validate_digest(digest: str) -> None:
    # algorithm ":" encoded, the algorithm not empty (go-digest's format).
    algorithm, colon, encoded = digest.partition(":")
    if not (colon and algorithm):
        raise InvalidReferenceError(f"digest {_shorten(digest)!r} has no algorithm")
    length = DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        known = ", ".join(DIGEST_ALGORITHMS)
        raise InvalidReferenceError(
            f"digest algorithm {_shorten(algorithm)!r} is not supported (known: {known})"
        )
    if len(encoded) != length:
        raise InvalidReferenceError(
            f"{algorithm} digest has {len(encoded)} hex characters; it needs exactly {length}"
        )
    if not _LOWER_HEX_CHARS.issuperset(encoded):
        raise InvalidReferenceError(f"{algorithm} digest must be lowercase hexadecimal")


_PLACEHOLDER = r"<+[^<>]*>+|\{\{.*?\}\}|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{[^{}]*\}"
_SHORTEN_AT = 60
# Everything a reference may contain is visible ASCII.
_NOT_VISIBLE_ASCII = r"[^\x21-\x7e]"


def _shorten(text: str) -> str:
    """Keep messages to one readable line whatever the input's length."""
    if len(text) <= _SHORTEN_AT:
        return text
    return f"{text[: _SHORTEN_AT - 20]}...({len(text)} characters)"


def _obvious_problem(text: str) -> Optional[str]:
    """Problems that no part of the grammar allows, reported before anything else."""
    if text == "":
        return "image reference is empty"
    # Every placeholder holds "<", "{" or "$"; every other character is visible ASCII.
    placeholder = (_pattern(_PLACEHOLDER, re.DOTALL).search(text)
                   if "<" in text or "{" in text or "$" in text else None)
    if placeholder is not None:
        return (
            f"image reference contains the template placeholder"
            f" {_shorten(placeholder.group(0))!r}; write the real image name"
        )
    if text.isascii() and text.isprintable() and " " not in text:
        return None
    odd = _pattern(_NOT_VISIBLE_ASCII, 0).search(text)
    if odd is None:
        return None
    char, position = odd.group(0), odd.start() + 1
    if char.isspace():
        return f"image reference contains whitespace ({char!r} at position {position})"
    if not char.isascii():
        return f"image reference contains the non-ASCII character {char!r} (at position {position})"
    return f"image reference contains the control character {char!r} (at position {position})"


def _split_suffixes(text: str) -> tuple[str, Optional[str], Optional[str]]:
    """Split ``name[:tag][@digest]`` where the grammar would: neither suffix has a ``/``."""
    name, digest = text, None
    at = text.rfind("@")
    if at != -1 and "/" not in text[at + 1 :]:
        name, digest = text[:at], text[at + 1 :]
    tag = None
    colon = name.rfind(":")
    if colon != -1 and "/" not in name[colon + 1 :]:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def explain_invalid(text: str) -> str:
    """Say which part of an invalid reference is wrong, as precisely as we can."""
    obvious = _obvious_problem(text)
    if obvious is not None:
        return obvious
    scheme = text.find("://")
    if scheme != -1:
        return (
            f"image reference starts with a URL scheme ({_shorten(text[: scheme + 3])!r});"
            " write the registry host and path without it"
        )
    if text.startswith("[") and "/" not in text:
        return f"registry host {_shorten(text)!r} must be followed by '/' and a repository path"
    name, tag, digest = _split_suffixes(text)
    if digest is not None and not _pattern(_DIGEST).fullmatch(digest):
        return (
            f"digest {_shorten(digest)!r} is not of the form algorithm:hex"
            " (like sha256: and 64 hex digits)"
        )
    if tag is not None:
        if tag == "":
            return "tag after ':' is empty"
        if len(tag) > 128:
            return f"tag is {len(tag)} characters long; at most 128 are allowed"
        if not _pattern(_TAG).fullmatch(tag):
            return (
                f"tag {_shorten(tag)!r} is invalid: it may contain only letters, digits, '_',"
                " '.' and '-', and must not start with '.' or '-'"
            )
    if name == "":
        return "repository name is empty"
    first, slash, rest = name.partition("/")
    path = name
    if slash and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        if not _pattern(_DOMAIN_AND_PORT).fullmatch(first):
            return f"registry host {_shorten(first)!r} is invalid"
        path = rest
    if path == "":
        return f"repository path after {_shorten(first)!r} is empty"
    if path.lower() != path:
        return f"repository name {_shorten(path)!r} must be lowercase"
    for component in path.split("/"):
        if component == "":
            return f"repository path {_shorten(path)!r} has an empty component"
        if not _pattern(_PATH_COMPONENT).fullmatch(component):
            return (
                f"repository path component {_shorten(component)!r} is invalid: use lowercase"
                " letters and digits, separated by '.', '_', '__' or '-'"
            )
    return f"{_shorten(text)!r} is not a valid image reference"
