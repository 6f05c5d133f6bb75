"""Registry patterns in the form of Valohai's organization Registries settings.

``docker.io/myuser/*`` and ``myregistry.azurecr.io/*``: ``*`` matches any characters, ``/``
included; a bare host (``myregistry.azurecr.io``) matches everything on that host; a pattern
without ``*`` also matches that repository with any tag or digest.
"""

from __future__ import annotations

import re
from functools import lru_cache

from valohai_image_lint.reference import ImageReference


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


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
    if "*" in pattern and _compile(pattern).fullmatch(image) is not None:
        return True
    repository = _repository(image)
    bare = pattern.rstrip("/")
    if "/" not in bare:
        # A host, or a host glob such as `*.azurecr.io`: everything on a matching host.
        host, slash, _ = repository.partition("/")
        return bool(slash) and _compile(bare).fullmatch(host) is not None
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
    compiled = _compile(glob.lower())
    host = host.lower()
    if compiled.fullmatch(host) is not None:
        return True
    bare, colon, port = host.rpartition(":")
    if not colon or not port.isdigit() or ":" in glob:
        return False
    return compiled.fullmatch(bare) is not None
