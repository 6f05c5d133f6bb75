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
    if "*" in pattern:
        return _compile(pattern).fullmatch(image) is not None
    repository = _repository(image)
    if "/" not in pattern.rstrip("/"):
        return repository.startswith(pattern.rstrip("/") + "/")
    return repository == pattern.rstrip("/") or repository.startswith(pattern.rstrip("/") + "/")


def any_pattern_matches(patterns: tuple[str, ...], image: str) -> bool:
    return any(pattern_matches(p, image) for p in patterns)


def full_name_candidates(ref: ImageReference) -> list[str]:
    """Fully qualified spellings of ``ref``, shortest first (``docker.io/python:3`` before
    ``docker.io/library/python:3``)."""
    suffix = str(ref)[len(ref.name) :]
    candidates = []
    if ref.domain == "docker.io" and ref.familiar_name != ref.path:
        candidates.append(f"docker.io/{ref.familiar_name}{suffix}")
    candidates.append(str(ref))
    return candidates


def host_matches(glob: str, host: str) -> bool:
    return _compile(glob.lower()).fullmatch(host.lower()) is not None
