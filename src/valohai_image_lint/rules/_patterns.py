"""Registry patterns in the form of Valohai's organization Registries settings.

``docker.io/myuser/*`` and ``myregistry.azurecr.io/*``: ``*`` matches any characters, ``/``
included; a bare host (``myregistry.azurecr.io``) matches everything on that host; a pattern
without ``*`` also matches that repository with any tag or digest.
"""

from __future__ import annotations

from functools import lru_cache

from valohai_image_lint.reference import ImageReference


def glob_matches(pattern: str, text: str) -> bool:
    """Is ``text`` the pattern with each ``*`` standing for any characters (``/`` too)?

    With ``*`` the only wildcard, finding each piece between two stars at its leftmost place
    after the previous one decides it; no regular expression is compiled (a run would pay
    for one per pattern of the configuration).
    """
    first, *pieces = pattern.split("*")
    if not pieces:
        return text == pattern
    last = pieces.pop()
    if len(text) < len(first) + len(last) or not (
            text.startswith(first) and text.endswith(last)):
        return False
    position, end = len(first), len(text) - len(last)
    for piece in pieces:
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _repository(image: str) -> str:
    """``image`` without its tag and digest."""
    name = image.split("@", 1)[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def pattern_matches(pattern: str, image: str) -> bool:
    """Does the image string, exactly as given, match one registry pattern?"""
    pattern = pattern.strip()
    if not pattern:
        return False
    if "*" in pattern and glob_matches(pattern, image):
        return True
    repository = _repository(image)
    bare = pattern.rstrip("/")
    if "/" not in bare:
        # A host, or a host glob such as `*.azurecr.io`: everything on a matching host.
        host, slash, _ = repository.partition("/")
        return bool(slash) and glob_matches(bare, host)
    if "*" in pattern:
        return False
    return repository == bare or repository.startswith(bare + "/")


# Large files name the same few images over and over; several rules ask about each.
@lru_cache(maxsize=4096)
def any_pattern_matches(patterns: tuple[str, ...], image: str) -> bool:
    return any(pattern_matches(p, image) for p in patterns)


def full_name_candidates(ref: ImageReference) -> list[str]:
    """Fully qualified spellings of ``ref``, shortest first (``docker.io/python:3`` before
    ``docker.io/library/python:3``)."""
    suffix = str(ref)[len(ref.name) :]
    if ref.domain != "docker.io":
        return [str(ref)]
    # Docker Hub has two host spellings; an organization's pattern may use either.
    candidates = []
    for host in ("docker.io", "index.docker.io"):
        # `python` as well as `library/python`; but `docker.io/foo.bar/app` has no shorter
        # spelling on the hub (its familiar name is the full name).
        if ref.familiar_name not in (ref.path, ref.name):
            candidates.append(f"{host}/{ref.familiar_name}{suffix}")
        candidates.append(f"{host}/{ref.path}{suffix}")
    return candidates


@lru_cache(maxsize=4096)
def host_matches(glob: str, host: str) -> bool:
    """Does a host glob match ``host``? A glob without a port also matches the host on any
    port (`registry.example.com` covers `registry.example.com:5000`)."""
    glob = glob.lower()
    host = host.lower()
    if glob_matches(glob, host):
        return True
    bare, colon, port = host.rpartition(":")
    if not colon or not port.isdigit() or ":" in glob:
        return False
    return glob_matches(glob, bare)
