"""Online lookups: the digest a tag resolves to and the compressed size of an image.

Built on the standard library (``http.client``, ``ssl``, ``socket``, ``concurrent.futures``)
rather than requests/httpx/urllib3 for three reasons: the safety rules need control that those
libraries hide or make awkward (connect only to an address we resolved and checked, so no
link-local host is ever reached; plain HTTP only for loopback and ``insecure-registries``;
credentials dropped on a redirect to another host; capped reads); the work is a handful of
small manifest requests, for which connection reuse per thread is all the pooling needed; and
a pre-commit hook should not pay the import time of a large HTTP stack or add a dependency.

This package is imported only in online mode or with ``--offline`` (cache only); a default run
never imports it and opens no socket.

``lookup_images`` is the entry point; rules read the answers through ``Lookups.get``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, TextIO

from valohai_image_lint.reference import ImageReference

if TYPE_CHECKING:
    from valohai_image_lint.config import Config
    from valohai_image_lint.registry.transport import TransportOptions

__all__ = ["ImageInfo", "LookupRequest", "Lookups", "Verdict", "lookup_images", "lookup_key"]

# Where an answer came from, as VIL020's message says it.
FROM_REGISTRY = "registry"
FROM_CACHE = "cache"


def did_you_mean(suggestions: tuple[str, ...]) -> str:
    """"did you mean `a`? (or `b`, `c`)"; the tags were checked against the tag grammar."""
    first, *others = suggestions
    also = f" (or {', '.join(f'`{tag}`' for tag in others)})" if others else ""
    return f"did you mean `{first}`?{also}"


def lookup_key(reference: ImageReference) -> str:
    """What is looked up for a reference: its digest if it has one, else its tag (or latest)."""
    if reference.digest is not None:
        return f"{reference.name}@{reference.digest}"
    return f"{reference.name}:{reference.tag or 'latest'}"


@dataclass(frozen=True)
class LookupRequest:
    reference: ImageReference
    # A digest alone needs one HEAD; a size needs the manifest (and the platform's manifest).
    want_size: bool
    # The enabled rules of VIL013-VIL016 (does it exist, run on the platform, need
    # credentials, is its pin stale?); empty: none of those lookups.
    want_checks: tuple[str, ...] = ()


# What ``Verdict.missing`` says is missing.
MISSING_REPOSITORY = "repository"
MISSING_TAG = "tag"
MISSING_DIGEST = "digest"


@dataclass(frozen=True)
class Verdict:
    """What the checks of VIL013-VIL016 learnt about one reference; None means unknown."""

    # VIL013: "repository", "tag" or "digest" when the registry says it does not exist.
    missing: Optional[str] = None
    # Existing tags closest to a missing tag, best first; ``tags_listed`` False when the
    # registry would not list them (so no suggestion means nothing).
    suggestions: tuple[str, ...] = ()
    tags_listed: bool = True
    # VIL014: False when there is no image for the platform; then ``platforms`` lists those
    # there are.
    platform_found: Optional[bool] = None
    platforms: tuple[str, ...] = ()
    # VIL015: True when the pinned digest is no longer the tag's; ``current`` is the digest of
    # the same kind (index, or the pinned platform's child) the tag resolves to now.
    stale: Optional[bool] = None
    current: Optional[str] = None
    # "index", "platform" (a child of the tag's index) or "manifest" (the tag is one too).
    pinned_kind: Optional[str] = None
    # The pinned digest's tag no longer exists (the pin still pulls): stale, with no current.
    tag_gone: bool = False
    # VIL016: True when the registry refused anonymous access; ``with_credentials`` when the
    # lookup then succeeded with the local Docker credentials.
    anonymous_denied: Optional[bool] = None
    with_credentials: bool = False
    source: Optional[str] = None


@dataclass(frozen=True)
class ImageInfo:
    """What the registry (or the cache) said about one reference."""

    key: str
    # The digest ``docker pull`` records for the reference (the index digest for multi-arch).
    digest: Optional[str] = None
    digest_source: Optional[str] = None
    # Compressed bytes for ``size_platform`` (None: a single-platform image).
    size: Optional[int] = None
    size_platform: Optional[str] = None
    size_source: Optional[str] = None
    # Why the digest or size is unknown (for notes and --verbose).
    problem: Optional[str] = None
    requests: int = 0
    seconds: float = 0.0
    verdict: Optional[Verdict] = None


class Lookups:
    """Answers by reference, handed to the rules through ``RuleContext.lookups``."""

    def __init__(self, answers: dict[str, ImageInfo], platform: str,
                 by_digest: Optional[dict[str, ImageInfo]] = None) -> None:
        self.answers = answers
        self.platform = platform
        # ``name@digest`` -> the tag's answer, so that an image pinned by --fix (which then
        # carries the digest) is still known when the file is linted again.
        self.by_digest = by_digest or {}

    def get(self, reference: ImageReference) -> Optional[ImageInfo]:
        key = lookup_key(reference)
        return self.answers.get(key) or self.by_digest.get(key)

    def __len__(self) -> int:
        return len(self.answers)


def lookup_images(
    requests: list[LookupRequest],
    config: Config,
    *,
    offline: bool,
    verbose: bool = False,
    err: Optional[TextIO] = None,
    options: Optional[TransportOptions] = None,
    progress: Optional[bool] = None,
) -> Lookups:
    """Look every request up once (concurrently), printing notes to ``err``.

    ``offline`` answers from the cache only and opens no connection.
    """
    from valohai_image_lint.registry.lookup import Lookup

    return Lookup(config, offline=offline, verbose=verbose, err=err, options=options,
                  progress=progress).run(requests)
