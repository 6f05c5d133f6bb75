"""Will it start? The lookups behind VIL013-VIL016, and the cache of what they learn.

Per reference (in the lookup's thread), online or from the cache with ``--offline``:

1. the tag's digest (HEAD, as for pinning); a 404 lists the repository's tags (``tags.py``) to
   tell a missing repository from a missing tag and to suggest the closest tags (VIL013);
2. a pinned digest's manifest (a 404: VIL013); its kind (index, or one platform's manifest)
   decides what it is compared with: the tag's digest, or the same platform's child of the
   tag's index (VIL015);
3. the manifest that is pulled: an index must have the platform; a single manifest's config
   must name it (VIL014);
4. a 401/403 without credentials means anonymous pulls are refused; with credentials that
   worked, one anonymous HEAD tells whether Valohai (which pulls anonymously unless a
   ``private-registries`` pattern matches) could pull it (VIL016).

Cached: "not found" answers and anonymous access expire like tag answers (``cache-ttl``);
platform facts of a digest never expire (a digest names one piece of content).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from valohai_image_lint.registry import (
    FROM_CACHE,
    FROM_REGISTRY,
    MISSING_DIGEST,
    MISSING_REPOSITORY,
    MISSING_TAG,
    Verdict,
)
from valohai_image_lint.registry.cache import CLOCK_SKEW, AnswerCache
from valohai_image_lint.registry.manifests import (
    MANIFEST_CAP,
    OCI_INDEX,
    Manifest,
    ManifestError,
    available_platforms,
    select_platform,
)
from valohai_image_lint.registry.validate import InvalidValueError, is_valid_digest, loads

# The network modules (client, tags, transport) are imported only online: --offline answers
# from the cache without them.
if TYPE_CHECKING:
    from valohai_image_lint.reference import ImageReference
    from valohai_image_lint.registry.client import FetchedManifest, RegistryClient

MAX_SUGGESTIONS = 3
# The reference grammar's tag (distribution/reference): a word character, then up to 127 more.
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
KIND_INDEX = "index"
KIND_MANIFEST = "manifest"
CONFIG_CAP = 4 * 1024 * 1024
MAX_PLATFORMS = 64
_PLATFORM_PART_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,31}", re.ASCII)
_MISSING_KINDS = (MISSING_REPOSITORY, MISSING_TAG, MISSING_DIGEST)


@dataclass(frozen=True)
class PlatformFacts:
    """What one digest holds for one platform."""

    kind: str  # KIND_INDEX or KIND_MANIFEST
    found: bool  # an image for the platform (unknown platforms count as found)
    child: Optional[str]  # an index's child for the platform
    platforms: tuple[str, ...]  # what it has: an index's entries, a manifest's own platform


def is_digest(value: object) -> bool:
    return is_valid_digest(value)


def clean_platform(parts: list[Any]) -> Optional[str]:
    """``os/arch[/variant]`` when every part is a plain lower-case word; None otherwise."""
    words = [part for part in parts if part not in (None, "")]
    if len(words) < 2 or not all(isinstance(w, str) and _PLATFORM_PART_RE.fullmatch(w)
                                 for w in words):
        return None
    return "/".join(words)


class FactsCache:
    """The checks' answers in the answer cache's files (same directory, same hardening)."""

    def __init__(self, cache: AnswerCache) -> None:
        self.cache = cache

    def _corrupt(self, kind: str, key: str) -> None:
        self.cache._notes(f"cache entry {self.cache._path(kind, key)} is corrupt; ignored")

    def _fresh(self, data: dict[str, Any]) -> bool:
        stored = data.get("stored")
        if not isinstance(stored, (int, float)) or isinstance(stored, bool):
            return False
        age = time.time() - stored
        return -CLOCK_SKEW <= age <= self.cache.tag_ttl

    def get_missing(self, key: str) -> Optional[tuple[str, tuple[str, ...], bool]]:
        data = self.cache._read("missing", key)
        if data is None or not self._fresh(data):
            return None
        what, suggestions = data.get("what"), data.get("suggestions")
        listed = data.get("listed", True)
        if (what not in _MISSING_KINDS or not isinstance(suggestions, list)
                or not isinstance(listed, bool)):
            self._corrupt("missing", key)
            return None
        tags = tuple(tag for tag in suggestions[:MAX_SUGGESTIONS]
                     if isinstance(tag, str) and TAG_RE.fullmatch(tag))
        return str(what), tags, listed

    def put_missing(self, key: str, what: str, suggestions: tuple[str, ...],
                    listed: bool) -> None:
        self.cache._write("missing", key, {"what": what, "suggestions": list(suggestions),
                                           "listed": listed, "stored": time.time()})

    def get_access(self, name: str) -> Optional[tuple[bool, bool]]:
        """(anonymous pulls refused, the lookup worked with credentials)."""
        data = self.cache._read("access", name)
        if data is None or not self._fresh(data):
            return None
        denied, with_credentials = data.get("denied"), data.get("with_credentials")
        if not isinstance(denied, bool) or not isinstance(with_credentials, bool):
            self._corrupt("access", name)
            return None
        return denied, with_credentials

    def put_access(self, name: str, denied: bool, with_credentials: bool) -> None:
        self.cache._write("access", name, {"denied": denied, "with_credentials": with_credentials,
                                           "stored": time.time()})

    def get_facts(self, digest: str, platform: str) -> Optional[PlatformFacts]:
        data = self.cache._read("platforms", f"{digest} {platform}")
        if data is None:
            return None
        kind, found, child, platforms = (data.get("kind"), data.get("found"), data.get("child"),
                                         data.get("platforms"))
        if (kind not in (KIND_INDEX, KIND_MANIFEST) or not isinstance(found, bool)
                or not (child is None or is_digest(child)) or not isinstance(platforms, list)):
            self._corrupt("platforms", f"{digest} {platform}")
            return None
        cleaned = tuple(p for p in platforms[:MAX_PLATFORMS]
                        if isinstance(p, str) and clean_platform(p.split("/")) == p)
        return PlatformFacts(str(kind), found, child, cleaned)

    def put_facts(self, digest: str, platform: str, facts: PlatformFacts) -> None:
        self.cache._write("platforms", f"{digest} {platform}", {
            "kind": facts.kind, "found": facts.found, "child": facts.child,
            "platforms": list(facts.platforms), "stored": time.time()})


class NotCached(Exception):
    """Offline, and the cache does not hold the answer."""


class Checker:
    def __init__(self, cache: AnswerCache, platform: str, offline: bool,
                 client: Callable[[str], RegistryClient],
                 anonymous_client: Callable[[str], RegistryClient]) -> None:
        self.facts_cache = FactsCache(cache)
        self.cache = cache
        self.platform = platform
        self.offline = offline
        self._client = client
        self._anonymous_client = anonymous_client
        # Manifests fetched in this run, by digest, so the size lookup does not fetch them again.
        self.fetched: dict[str, FetchedManifest] = {}
        # Tags resolved from the registry in this run (not from the cache), by ``name:tag``.
        self.fresh_tags: set[str] = set()
        self._lock = threading.Lock()
        # What run() catches; offline nothing raises them, and the network code stays unloaded.
        self._not_found: type[Exception] = _NeverRaised
        self._auth: type[Exception] = _NeverRaised
        if not offline:
            from valohai_image_lint.registry.client import AuthError, NotFoundError

            self._not_found, self._auth = NotFoundError, AuthError

    def run(self, ref: ImageReference) -> Verdict:
        """The verdict for one reference; raises RegistryError for what is only a note."""
        name = ref.name
        tag = ref.tag if ref.tag is not None else ("latest" if ref.digest is None else None)
        access = self.facts_cache.get_access(name)
        if access is not None and access[0] and not access[1]:
            return Verdict(anonymous_denied=True, source=FROM_CACHE)
        source = FROM_CACHE if self.offline else FROM_REGISTRY
        tag_digest: Optional[str] = None
        # A pin whose tag is gone still pulls (the digest decides): then only the pin is judged.
        tag_gone = False
        if tag is not None:
            cached = self.facts_cache.get_missing(f"{name}:{tag}")
            gone: Optional[Verdict] = None
            if cached is not None:
                gone = Verdict(missing=cached[0], suggestions=cached[1],
                               tags_listed=cached[2], source=FROM_CACHE)
            else:
                tag_digest = self.cache.get_tag(name, tag)
            if gone is None and tag_digest is None:
                if self.offline:
                    raise NotCached
                try:
                    tag_digest, fetched = self._client(ref.domain).resolve_tag(ref.path, tag)
                except self._not_found:
                    gone = self._missing(ref, f"{name}:{tag}", tag)
                except self._auth as exc:
                    return self._denied(ref, exc)
                else:
                    self.cache.put_tag(name, tag, tag_digest)
                    with self._lock:
                        self.fresh_tags.add(f"{name}:{tag}")
                    if fetched is not None:
                        self._remember(fetched)
            if gone is not None:
                if gone.missing != MISSING_TAG or ref.digest is None:
                    return gone
                tag_gone = True
        if tag_digest is not None and not is_digest(tag_digest):
            if self.offline:
                raise NotCached
            from valohai_image_lint.registry.transport import RegistryError

            raise RegistryError(f"{name}:{tag}: the digest is not a valid sha256/384/512 digest")
        pinned = ref.digest
        pulled = pinned or tag_digest
        assert pulled is not None
        if pinned is not None:
            missing = self.facts_cache.get_missing(f"{name}@{pinned}")
            if missing is not None:
                return Verdict(missing=missing[0], source=FROM_CACHE)
        try:
            facts = self._facts(ref, pulled, self.platform)
        except self._not_found:
            return self._missing(ref, f"{name}@{pulled}", None)
        except self._auth as exc:
            return self._denied(ref, exc)
        if facts is None:
            raise NotCached
        stale, current, kind = self._staleness(ref, pinned, tag_digest, facts)
        if tag_gone:
            stale, current, kind = True, None, facts.kind if facts.kind == KIND_INDEX else None
        denied, with_credentials = self._anonymous_access(ref, pulled if tag_gone else
                                                          tag or pulled)
        return Verdict(platform_found=facts.found, platforms=facts.platforms, stale=stale,
                       current=current, pinned_kind=kind, tag_gone=tag_gone,
                       anonymous_denied=denied, with_credentials=with_credentials,
                       source=source)

    # -- VIL013 --------------------------------------------------------------------------------

    def _missing(self, ref: ImageReference, key: str, tag: Optional[str]) -> Verdict:
        from valohai_image_lint.registry.tags import (
            RepositoryNotFoundError,
            closest_tags,
            list_tags,
        )
        from valohai_image_lint.registry.transport import RegistryError

        client = self._client(ref.domain)
        suggestions: tuple[str, ...] = ()
        listed = True
        try:
            tags, _ = list_tags(client, ref.path)
        except RepositoryNotFoundError:
            what = MISSING_REPOSITORY
        except RegistryError:
            # The manifest is missing (the registry said so); whether the repository is too
            # stays unknown when the list cannot be read (refused, too deep, unreachable).
            what = MISSING_TAG if tag is not None else MISSING_DIGEST
            listed = False
        else:
            what = MISSING_TAG if tag is not None else MISSING_DIGEST
            if tag is not None:
                suggestions = closest_tags(tag, tags)
        self.facts_cache.put_missing(key, what, suggestions, listed)
        return Verdict(missing=what, suggestions=suggestions, tags_listed=listed,
                       source=FROM_REGISTRY)

    # -- VIL014 and VIL015 ---------------------------------------------------------------------

    def _remember(self, fetched: FetchedManifest) -> None:
        with self._lock:
            self.fetched[fetched.digest] = fetched

    def _manifest(self, ref: ImageReference, digest: str) -> FetchedManifest:
        with self._lock:
            known = self.fetched.get(digest)
        if known is not None:
            return known
        fetched = self._client(ref.domain).get_manifest(ref.path, digest)
        self._remember(fetched)
        return fetched

    def _facts(self, ref: ImageReference, digest: str, platform: str) -> Optional[PlatformFacts]:
        facts = self.facts_cache.get_facts(digest, platform)
        if facts is not None:
            return facts
        if self.offline:
            return None
        from valohai_image_lint.registry.transport import RegistryError

        manifest = self._manifest(ref, digest).manifest
        try:
            facts = self._read_facts(ref, manifest, platform)
        except ManifestError as exc:
            raise RegistryError(f"{ref.name}@{digest}: {exc}") from None
        self.facts_cache.put_facts(digest, platform, facts)
        return facts

    def _read_facts(self, ref: ImageReference, manifest: Manifest,
                    platform: str) -> PlatformFacts:
        if manifest.is_index:
            entry = select_platform(manifest, platform)
            child = entry.get("digest") if entry is not None else None
            if entry is not None and not is_digest(child):
                raise ManifestError("an index entry has an invalid digest")
            offered = []
            for text in available_platforms(manifest)[:MAX_PLATFORMS]:
                cleaned = clean_platform(text.split("/"))
                if cleaned is not None and cleaned not in offered:
                    offered.append(cleaned)
            return PlatformFacts(KIND_INDEX, entry is not None,
                                 str(child) if child else None, tuple(offered))
        own = self._own_platform(ref, manifest)
        if own is None:
            return PlatformFacts(KIND_MANIFEST, True, None, ())
        return PlatformFacts(KIND_MANIFEST, _matches(own, platform), None, (own,))

    def _own_platform(self, ref: ImageReference, manifest: Manifest) -> Optional[str]:
        """A single manifest's platform, from its config blob (None when it does not say)."""
        config = manifest.data.get("config")
        digest = config.get("digest") if isinstance(config, dict) else None
        if not is_digest(digest):
            raise ManifestError("the manifest's config has no valid digest")
        body = self._client(ref.domain).get_blob(ref.path, str(digest), CONFIG_CAP)
        try:
            data = loads(body)
        except InvalidValueError as exc:
            raise ManifestError(f"the image config is {exc}") from None
        if not isinstance(data, dict):
            return None
        return clean_platform([data.get("os"), data.get("architecture"), data.get("variant")])

    def _staleness(self, ref: ImageReference, pinned: Optional[str], tag_digest: Optional[str],
                   facts: PlatformFacts) -> tuple[Optional[bool], Optional[str], Optional[str]]:
        """(stale, the digest of the same kind the tag has now, the kind pinned)."""
        if pinned is None or tag_digest is None:
            return None, None, None
        if facts.kind == KIND_INDEX:
            return pinned != tag_digest, tag_digest, KIND_INDEX
        if pinned == tag_digest:
            return False, tag_digest, KIND_MANIFEST  # the tag is a single manifest too
        own = facts.platforms[0] if facts.platforms else self.platform
        current_facts = self._facts(ref, tag_digest, own)
        if current_facts is None:
            return None, None, None
        if current_facts.kind == KIND_MANIFEST:
            return True, tag_digest, KIND_MANIFEST
        return pinned != current_facts.child, current_facts.child, "platform"

    # -- VIL016 --------------------------------------------------------------------------------

    def _denied(self, ref: ImageReference, error: Exception) -> Verdict:
        if self._client(ref.domain).has_credentials():
            raise error  # the credentials were refused: a note, not a finding
        self.facts_cache.put_access(ref.name, True, False)
        return Verdict(anonymous_denied=True, source=FROM_REGISTRY)

    def _anonymous_access(self, ref: ImageReference,
                          reference: str) -> tuple[Optional[bool], bool]:
        """Would an anonymous pull work? Asked only when credentials may have been used."""
        cached = self.facts_cache.get_access(ref.name)
        if cached is not None:
            return cached
        if self.offline:
            return None, False
        from valohai_image_lint.registry.client import AuthError
        from valohai_image_lint.registry.transport import RegistryError

        client = self._client(ref.domain)
        if not (client.has_credentials() and client.challenged):
            return False, False
        try:
            self._anonymous_client(ref.domain).resolve_tag(ref.path, reference)
            denied = False
        except AuthError:
            denied = True
        except RegistryError:
            return None, True
        self.facts_cache.put_access(ref.name, denied, True)
        return denied, True


class _NeverRaised(Exception):
    """Stands for the network errors offline, where nothing raises them."""


def _matches(own: str, platform: str) -> bool:
    """Is a manifest of platform ``own`` the image for ``platform`` (variants as Docker)?"""
    os_name, arch, *variant = own.split("/")
    found = {"os": os_name, "architecture": arch}
    if variant:
        found["variant"] = variant[0]
    index = Manifest(OCI_INDEX, {"manifests": [{"digest": "sha256:" + "0" * 64,
                                                "platform": found}]})
    return select_platform(index, platform) is not None


__all__ = ["MANIFEST_CAP", "Checker", "NotCached", "PlatformFacts"]
