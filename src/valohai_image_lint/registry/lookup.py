"""Looking up many references at once: cache first, then registries, concurrently.

Per reference (one thread each, at most ``MAX_WORKERS`` at a time):

1. tag -> digest: the cache (while younger than ``cache-ttl``), else a HEAD of the manifest;
2. digest -> size for the platform: the cache (never expires), else GET the manifest by digest
   and, for an index, GET the platform's manifest; size = config + layers (compressed).

A failure is a note, never a finding: the answer just stays unknown. Once a registry is
unreachable, its other references are not tried again in the same run.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Optional, TextIO

from valohai_image_lint.registry import (
    FROM_CACHE,
    FROM_REGISTRY,
    ImageInfo,
    LookupRequest,
    Lookups,
    Verdict,
    did_you_mean,
    lookup_key,
)
from valohai_image_lint.registry.cache import AnswerCache, SizeAnswer, default_cache_dir
from valohai_image_lint.registry.checks import Checker, NotCached
from valohai_image_lint.registry.validate import printable

# The network modules (auth, client, transport and with them http.client, ssl, socket, email,
# concurrent.futures) are imported only online: --offline reads the cache without them.
if TYPE_CHECKING:
    from concurrent.futures import Future

    from valohai_image_lint.config import Config
    from valohai_image_lint.reference import ImageReference
    from valohai_image_lint.registry.client import FetchedManifest, RegistryClient, TokenCache
    from valohai_image_lint.registry.transport import RegistryError, Transport, TransportOptions

MAX_WORKERS = 8
NOT_CACHED = " in the cache (--offline)"
# A progress bar is worth drawing only when there is something to wait for.
PROGRESS_THRESHOLD = 4


class Lookup:
    def __init__(self, config: Config, *, offline: bool, verbose: bool, err: Optional[TextIO],
                 options: Optional[TransportOptions], progress: Optional[bool]) -> None:
        self.config = config
        self.offline = offline
        self.verbose = verbose
        self.err = err if err is not None else sys.stderr
        self.progress = progress
        self.platform = config.platform
        self._notes: list[str] = []
        self._notes_lock = threading.Lock()
        self.cache = AnswerCache(config.cache_dir or default_cache_dir(),
                                 float(config.cache_ttl), self.note)
        self._transport: Optional[Transport] = None
        self._clients: dict[str, RegistryClient] = {}
        self._unreachable: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread_requests = threading.local()
        self._anonymous_clients: dict[str, RegistryClient] = {}
        self._checker: Optional[Checker] = None
        if offline:
            return
        from valohai_image_lint.registry.auth import CredentialStore
        from valohai_image_lint.registry.client import TokenCache
        from valohai_image_lint.registry.transport import Deadline, TransportOptions

        if options is None:
            options = TransportOptions(insecure_registries=config.insecure_registries)
        self.options = options
        # One deadline for all network work of the run: requests, token fetches, helpers.
        self.deadline = Deadline(options.budget)
        self._credentials = CredentialStore(self.note, deadline=self.deadline)
        self._tokens = TokenCache()
        self._anonymous_tokens: TokenCache = TokenCache()

    def note(self, message: str) -> None:
        with self._notes_lock:
            if message not in self._notes:
                self._notes.append(message)

    # -- orchestration -------------------------------------------------------------------------

    def run(self, requests: list[LookupRequest]) -> Lookups:
        unique: dict[str, LookupRequest] = {}
        for request in requests:
            key = lookup_key(request.reference)
            known = unique.get(key)
            if known is None or (request.want_size and not known.want_size):
                unique[key] = request
        answers: dict[str, ImageInfo] = {}
        if unique and self.offline:
            answers = {key: self._from_cache(request) for key, request in unique.items()}
        elif unique:
            answers = self._look_up_all(list(unique.items()))
        self._report(answers)
        by_digest = {}
        for key, request in unique.items():
            info = answers.get(key)
            if info is not None and info.digest is not None and request.reference.digest is None:
                by_digest[f"{request.reference.name}@{info.digest}"] = info
        return Lookups(answers, self.platform, by_digest)

    def _look_up_all(self, items: list[tuple[str, LookupRequest]]) -> dict[str, ImageInfo]:
        from concurrent.futures import ThreadPoolExecutor

        show_progress = self.progress if self.progress is not None else (
            len(items) > PROGRESS_THRESHOLD and _is_terminal(self.err))
        pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items)))
        try:
            futures = {pool.submit(self._look_up, request): key for key, request in items}
            if show_progress:
                return self._collect_with_progress(futures)
            return {key: future.result() for future, key in futures.items()}
        except BaseException:
            # Ctrl-C (or anything else): every socket is shut and every helper killed, so
            # the workers end at once instead of finishing their requests.
            self.deadline.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            if self._transport is not None:
                self._transport.close()
            self.deadline.close()

    def _collect_with_progress(self, futures: dict[Future[ImageInfo], str]
                               ) -> dict[str, ImageInfo]:
        from concurrent.futures import as_completed

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(file=self.err)
        answers: dict[str, ImageInfo] = {}
        with Progress(TextColumn("looking up images"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("lookups", total=len(futures))
            for future in as_completed(futures):
                answers[futures[future]] = future.result()
                progress.advance(task)
        return answers

    def _report(self, answers: dict[str, ImageInfo]) -> None:
        problems: dict[str, int] = {}
        not_cached = 0
        for info in answers.values():
            if info.problem is None or self.verbose:
                continue
            if info.problem.endswith(NOT_CACHED):
                not_cached += 1  # one note for all of them: --verbose lists them
            else:
                problems[info.problem] = problems.get(info.problem, 0) + 1
        # Notes hold text from registries and the cache: escaped, and one bounded line each.
        for message in self._notes:
            print(f"note: {printable(message)}", file=self.err)
        if self.verbose:
            for domain, client in sorted(self._clients.items()):
                if client.rate_limit is not None:
                    remaining, limit = client.rate_limit
                    of = f" of {limit}" if limit is not None else ""
                    print(f"rate limit {printable(domain)}: {remaining}{of} pulls left in the"
                          " window", file=self.err)
        for problem, count in problems.items():
            if problem in self._notes:
                continue  # already said once (the rate limit)
            print(f"note: {printable(problem)}{_also(count)}", file=self.err)
        if not_cached:
            which = ("image is", "its digest and size are") if not_cached == 1 else (
                "images are", "their digests and sizes are")
            print(f"note: {not_cached} {which[0]} not in the cache (--offline), so {which[1]}"
                  " unknown; an --online run fills the cache", file=self.err)
        if self.verbose:
            for key in sorted(answers):
                print(f"lookup {printable(key)}: {printable(_describe(answers[key]), 1000)}",
                      file=self.err)

    # -- one reference -------------------------------------------------------------------------

    def _client(self, domain: str) -> RegistryClient:
        from valohai_image_lint.registry.client import RegistryClient
        from valohai_image_lint.registry.transport import Transport

        with self._lock:
            if self._transport is None:
                self._transport = Transport(self.options, self.deadline)
            client = self._clients.get(domain)
            if client is None:
                client = RegistryClient(domain, self._transport, self._credentials,
                                        self._tokens, self.note)
                self._clients[domain] = client
            return client

    def _look_up(self, request: LookupRequest) -> ImageInfo:
        started = time.monotonic()
        before = self._requests_so_far()
        try:
            info = self._look_up_inner(request)
        except Exception as exc:  # a lookup must never take the lint run down
            info = ImageInfo(lookup_key(request.reference),
                             problem=f"{lookup_key(request.reference)}: lookup failed"
                             f" unexpectedly ({type(exc).__name__}); please report it")
        return replace(info, requests=self._requests_so_far() - before,
                       seconds=time.monotonic() - started)

    def _requests_so_far(self) -> int:
        transport = self._transport
        return transport.thread_request_count() if transport is not None else 0

    def _anonymous(self, domain: str) -> RegistryClient:
        """A client that never sends credentials: would Valohai's anonymous pull work?"""
        from valohai_image_lint.registry.auth import CredentialStore
        from valohai_image_lint.registry.client import RegistryClient

        class NoCredentials(CredentialStore):
            def get(self, domain: str) -> None:
                return None

        with self._lock:
            client = self._anonymous_clients.get(domain)
            if client is None:
                assert self._transport is not None
                client = RegistryClient(domain, self._transport, NoCredentials(self.note),
                                        self._anonymous_tokens, self.note)
                self._anonymous_clients[domain] = client
            return client

    def checker(self) -> Checker:
        with self._lock:
            if self._checker is None:
                self._checker = Checker(self.cache, self.platform, self.offline, self._client,
                                        self._anonymous)
            return self._checker

    def _from_cache(self, request: LookupRequest) -> ImageInfo:
        """--offline: what the cache knows of one reference, the checks' answers included."""
        if not request.want_checks:
            return self._digest_and_size_from_cache(request)
        key = lookup_key(request.reference)
        try:
            verdict = self.checker().run(request.reference)
        except NotCached:
            return replace(self._digest_and_size_from_cache(request),
                           problem=f"{key}: checks not{NOT_CACHED}")
        return self._with_verdict(request, verdict, self._digest_and_size_from_cache)

    def _with_verdict(self, request: LookupRequest, verdict: Verdict,
                      digest_and_size: Callable[[LookupRequest], ImageInfo]) -> ImageInfo:
        key = lookup_key(request.reference)
        if verdict.missing is not None:
            # A finding of VIL013; with that rule off, a note as before.
            problem = None if "VIL013" in request.want_checks else (
                f"{key} not found in the registry")
            return ImageInfo(key, problem=problem, verdict=verdict)
        if verdict.anonymous_denied and not verdict.with_credentials:
            problem = None if "VIL016" in request.want_checks else (
                f"{key}: access denied by {request.reference.domain} (no credentials for it in"
                " the Docker configuration)")
            return ImageInfo(key, problem=problem, verdict=verdict)
        return replace(digest_and_size(request), verdict=verdict)

    def _digest_and_size_from_cache(self, request: LookupRequest) -> ImageInfo:
        ref = request.reference
        key = lookup_key(ref)
        digest = ref.digest
        digest_source: Optional[str] = None
        if digest is None:
            digest = self.cache.get_tag(ref.name, ref.tag or "latest")
            if digest is None:
                return ImageInfo(key, problem=f"{key}: not{NOT_CACHED}")
            digest_source = FROM_CACHE
        if not request.want_size:
            return ImageInfo(key, digest, digest_source)
        answer = self.cache.get_size(digest, self.platform)
        if answer is None:
            return ImageInfo(key, digest, digest_source, problem=f"{key}: size not{NOT_CACHED}")
        return ImageInfo(key, digest, digest_source, answer.size, answer.platform, FROM_CACHE)

    def _look_up_inner(self, request: LookupRequest) -> ImageInfo:
        from valohai_image_lint.registry.transport import (
            BudgetExceededError,
            RefusedError,
            RegistryError,
            UnreachableError,
        )

        ref = request.reference
        key = lookup_key(ref)
        domain = ref.domain
        with self._lock:
            down = self._unreachable.get(domain)
        if down is not None:
            return ImageInfo(key, problem=down)
        if not request.want_checks:
            return self._digest_and_size(request)
        from valohai_image_lint.registry.client import RateLimitedError

        try:
            verdict = self.checker().run(ref)
        except (UnreachableError, RefusedError, BudgetExceededError, RateLimitedError) as exc:
            return self._down(key, domain, exc, None, None)
        except RegistryError as exc:
            # A check that could not be answered (a bad config blob, say) leaves the digest
            # and the size to be looked up as without the checks.
            info = self._digest_and_size(request)
            return replace(info, problem=info.problem or str(exc))
        return self._with_verdict(request, verdict, self._digest_and_size)

    def _down(self, key: str, domain: str, exc: RegistryError, digest: Optional[str],
              digest_source: Optional[str]) -> ImageInfo:
        """The registry cannot answer (unreachable, refused, out of time or quota): its other
        references are not tried again in this run."""
        from valohai_image_lint.registry.client import RateLimitedError

        message = str(exc)
        if isinstance(exc, RateLimitedError):
            self.note(message)  # one note, however many images it stops
        with self._lock:
            self._unreachable.setdefault(domain, message)
        return self._partial(key, digest, digest_source, message)

    def _digest_and_size(self, request: LookupRequest) -> ImageInfo:
        from valohai_image_lint.registry.client import DigestMismatchError, RateLimitedError
        from valohai_image_lint.registry.transport import (
            BudgetExceededError,
            RefusedError,
            RegistryError,
            UnreachableError,
        )

        ref = request.reference
        key = lookup_key(ref)
        domain = ref.domain
        digest = ref.digest
        digest_source: Optional[str] = None
        fetched: Optional[FetchedManifest] = None
        try:
            if digest is None:
                tag = ref.tag or "latest"
                digest = self.cache.get_tag(ref.name, tag)
                checker = self._checker
                fresh = checker is not None and f"{ref.name}:{tag}" in checker.fresh_tags
                digest_source = FROM_REGISTRY if fresh else FROM_CACHE
                if digest is None:
                    digest, fetched = self._client(domain).resolve_tag(ref.path, tag)
                    digest_source = FROM_REGISTRY
                    self.cache.put_tag(ref.name, tag, digest)
            if not request.want_size:
                return ImageInfo(key, digest, digest_source)
            answer = self.cache.get_size(digest, self.platform)
            size_source = FROM_CACHE
            if answer is None:
                answer = self._fetch_size(ref, digest, fetched)
                size_source = FROM_REGISTRY
                self.cache.put_size(digest, self.platform, answer)
            return ImageInfo(key, digest, digest_source, answer.size, answer.platform,
                             size_source)
        except DigestMismatchError as exc:
            # The digest names other content than the registry serves: never pin or keep it.
            if ref.digest is None and digest_source is not None:
                self.cache.forget_tag(ref.name, ref.tag or "latest")
            return ImageInfo(key, problem=str(exc))
        except (UnreachableError, RefusedError, BudgetExceededError, RateLimitedError) as exc:
            return self._down(key, domain, exc, digest, digest_source)
        except RegistryError as exc:
            return self._partial(key, digest, digest_source, str(exc))

    @staticmethod
    def _partial(key: str, digest: Optional[str], digest_source: Optional[str],
                 problem: str) -> ImageInfo:
        """The digest, when it was learnt before the failure, still serves the pinning fix."""
        if digest is None or digest_source is None:
            return ImageInfo(key, problem=problem)
        return ImageInfo(key, digest, digest_source, problem=problem)

    def _fetch_size(self, ref: ImageReference, digest: str,
                    fetched: Optional[FetchedManifest]) -> SizeAnswer:
        from valohai_image_lint.registry.manifests import (
            ManifestError,
            compressed_size,
            describe_platforms,
            select_platform,
        )
        from valohai_image_lint.registry.transport import RegistryError

        client = self._client(ref.domain)
        if fetched is None and self._checker is not None:
            fetched = self._checker.fetched.get(digest)
        top = fetched if fetched is not None else client.get_manifest(ref.path, digest)
        try:
            if not top.manifest.is_index:
                return SizeAnswer(compressed_size(top.manifest), None)
            entry = select_platform(top.manifest, self.platform)
            if entry is None:
                offered = describe_platforms(top.manifest)
                raise RegistryError(f"{lookup_key(ref)} has no {self.platform} image"
                                    f" (platforms: {offered})")
            child = client.get_manifest(ref.path, str(entry["digest"]))
            if child.manifest.is_index:
                raise RegistryError(f"{lookup_key(ref)}: the {self.platform} entry is another"
                                    " index; nested indexes are not followed")
            return SizeAnswer(compressed_size(child.manifest), self.platform)
        except ManifestError as exc:
            raise RegistryError(f"{lookup_key(ref)}: {exc}") from None


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _also(count: int) -> str:
    return "" if count == 1 else f" ({count} images)"


def _describe(info: ImageInfo) -> str:
    parts = []
    if info.digest is not None:
        parts.append(f"digest {info.digest} (from {info.digest_source or 'the reference'})")
    if info.size is not None:
        where = info.size_platform or "its only platform"
        parts.append(f"{info.size} bytes compressed for {where} (from {info.size_source})")
    if info.verdict is not None:
        parts.extend(_describe_verdict(info.verdict))
    if info.problem is not None:
        parts.append(f"unknown: {info.problem}")
    parts.append(f"{info.requests} requests, {info.seconds * 1000:.0f} ms")
    return "; ".join(parts)


def _describe_verdict(verdict: Verdict) -> list[str]:
    if verdict.missing is not None:
        missing = f"{verdict.missing} missing"
        if verdict.suggestions:
            missing += "; " + did_you_mean(verdict.suggestions)
        return [missing]
    parts = []
    if verdict.platform_found is False:
        parts.append(f"no image for the platform (has {', '.join(verdict.platforms) or 'none'})")
    if verdict.stale is not None:
        kind = {"index": "index digest pinned", "platform": "platform digest pinned"}.get(
            verdict.pinned_kind or "", "digest pinned")
        parts.append(f"{kind}, stale (now {verdict.current})" if verdict.stale
                     else f"{kind}, current")
    if verdict.anonymous_denied:
        how = " (found with your credentials)" if verdict.with_credentials else ""
        parts.append(f"anonymous pulls refused{how}")
    return parts
