"""One registry's Distribution API: authentication and manifests.

Flow per request: send (anonymously, or with what earlier answers taught us); on 401 read the
``WWW-Authenticate`` challenge; for ``Bearer`` fetch a token from the realm (with Basic
credentials when we have them) and cache it per (registry, repository) until it expires; for
``Basic`` send the credentials. After the first challenge the scheme is remembered, so later
repositories of the same registry skip the anonymous round trip.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import quote, urlencode, urlsplit

from valohai_image_lint.registry.auth import Challenge, CredentialStore, parse_www_authenticate
from valohai_image_lint.registry.manifests import (
    ACCEPT,
    MANIFEST_CAP,
    Manifest,
    ManifestError,
    digest_of,
    parse_manifest,
    verify_digest,
)
from valohai_image_lint.registry.transport import (
    RegistryError,
    Response,
    Transport,
    is_loopback_host,
    split_host_port,
)
from valohai_image_lint.registry.validate import (
    InvalidValueError,
    checked_digest,
    is_valid_digest,
    loads,
)

DOCKER_HUB_API = "registry-1.docker.io"
TOKEN_CAP = 1024 * 1024
# Answers to HEAD from registries that only implement GET for manifests.
HEAD_UNSUPPORTED = (400, 405, 501)
DEFAULT_TOKEN_LIFETIME = 60.0
# A token is kept at most this long, whatever its answer claims.
MAX_TOKEN_LIFETIME = 3600.0
# What may be sent in an Authorization header: visible ASCII (JWTs and opaque tokens are).
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,16384}")
# Renew a token this long before it expires, so that it does not expire in flight.
TOKEN_MARGIN = 10.0


class AuthError(RegistryError):
    pass


class NotFoundError(RegistryError):
    pass


class DigestMismatchError(RegistryError):
    """Content that does not hash to the digest naming it: that digest is not to be trusted."""


def api_host(domain: str) -> str:
    """The host that serves the API for a reference's domain."""
    return DOCKER_HUB_API if domain == "docker.io" else domain


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    expires: float = 0.0


class TokenCache:
    """Bearer tokens per (registry, repository) until they expire; shared by all threads."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def get(self, netloc: str, repository: str) -> Optional[str]:
        with self._lock:
            token = self._tokens.get((netloc, repository))
        if token is None or token.expires <= time.monotonic():
            return None
        return token.value

    def put(self, netloc: str, repository: str, value: str, lifetime: float) -> None:
        expires = time.monotonic() + max(lifetime - TOKEN_MARGIN, 1.0)
        with self._lock:
            self._tokens[(netloc, repository)] = _Token(value, expires)


@dataclass(frozen=True)
class FetchedManifest:
    manifest: Manifest
    digest: str


class RegistryClient:
    def __init__(self, domain: str, transport: Transport, credentials: CredentialStore,
                 tokens: TokenCache, notes: Callable[[str], None]) -> None:
        self.domain = domain
        self.netloc = api_host(domain)
        self._transport = transport
        self._credentials = credentials
        self._tokens = tokens
        self._notes = notes
        self._challenge: Optional[Challenge] = None
        self._lock = threading.Lock()
        # (remaining, limit) from the last ``RateLimit-Remaining`` seen (Docker Hub).
        self.rate_limit: Optional[tuple[int, Optional[int]]] = None

    # -- public operations -------------------------------------------------------------------

    def resolve_tag(self, repository: str, tag: str) -> tuple[str, Optional[FetchedManifest]]:
        """The digest a tag points to now, as ``docker pull`` records it.

        HEAD first (Docker Hub does not count HEADs against the pull limit); when the registry
        omits ``Docker-Content-Digest``, GET the manifest and hash it, and hand that manifest
        back so it is not fetched twice.
        """
        response = self._manifest_response("HEAD", repository, tag)
        if response.status not in HEAD_UNSUPPORTED:
            self._check(response, repository, tag)
            digest = response.header("Docker-Content-Digest")
            if digest and digest.strip():
                try:
                    return checked_digest(digest.strip(), f"{self.domain}'s Docker-Content-Digest"
                                          f" for {repository}:{tag}"), None
                except InvalidValueError as exc:
                    raise RegistryError(str(exc)) from None
        fetched = self._get(repository, tag, expected_digest=None)
        return fetched.digest, fetched

    def get_manifest(self, repository: str, digest: str) -> FetchedManifest:
        return self._get(repository, digest, expected_digest=digest)

    # -- internals -----------------------------------------------------------------------------

    def _get(self, repository: str, reference: str,
             expected_digest: Optional[str]) -> FetchedManifest:
        response = self._manifest_request("GET", repository, reference)
        body = response.body
        if expected_digest is not None:
            if not is_valid_digest(expected_digest):
                raise RegistryError(f"{self.domain}/{repository}: an invalid digest was named")
            if not verify_digest(body, expected_digest):
                raise DigestMismatchError(
                    f"{self.domain} sent a manifest for {repository}@{expected_digest} whose"
                    " content does not match the digest")
            digest = expected_digest
        else:
            header = response.header("Docker-Content-Digest")
            digest = digest_of(body)
            if header and header.strip().startswith("sha256:") and header.strip() != digest:
                raise DigestMismatchError(
                    f"{self.domain} sent a manifest for {repository}:{reference} whose content"
                    " does not match its Docker-Content-Digest")
        try:
            manifest = parse_manifest(body, response.header("Content-Type"))
        except ManifestError as exc:
            raise RegistryError(f"{self.domain}/{repository}:{reference}: {exc}") from None
        return FetchedManifest(manifest, digest)

    def _manifest_request(self, method: str, repository: str, reference: str) -> Response:
        return self._check(self._manifest_response(method, repository, reference), repository,
                           reference)

    def _manifest_response(self, method: str, repository: str, reference: str) -> Response:
        path = f"/v2/{repository}/manifests/{quote(reference, safe=':')}"
        response = self._authorized(method, path, repository, MANIFEST_CAP)
        self._watch_rate_limit(response)
        return response

    def _check(self, response: Response, repository: str, reference: str) -> Response:
        what = f"{self.domain}/{repository}{'@' if ':' in reference else ':'}{reference}"
        if response.status == 200:
            return response
        if response.status == 404:
            raise NotFoundError(f"{what} not found in the registry")
        if response.status in (401, 403):
            raise AuthError(f"{what}: access denied by {self.domain}"
                            f"{self._credential_hint()}")
        if response.status == 429:
            raise RateLimitedError(rate_limit_note(self.domain))
        raise RegistryError(f"{what}: {self.domain} answered HTTP {response.status}")

    def _credential_hint(self) -> str:
        if self._credentials.get(self.domain) is None:
            return " (no credentials for it in the Docker configuration)"
        return " (the credentials in the Docker configuration were refused or lack access)"

    def _authorized(self, method: str, path: str, repository: str, cap: int) -> Response:
        base = self._transport.base_url(self.netloc)
        url = base + path
        headers = {"Accept": ACCEPT}
        authorization = self._known_authorization(repository)
        response = self._transport.request(method, url, headers, cap=cap,
                                           authorization=authorization)
        if response.status != 401:
            return response
        if response.url != url and _netloc(response.url) != self.netloc.lower():
            # A challenge from a host a redirect led to is that host's, not the registry's:
            # the registry's credentials never go to it or to a token service it names.
            raise AuthError(f"{self.domain} redirected to {_netloc(response.url)}, which asked"
                            " for credentials; credentials go only to the registry itself and"
                            " the token service it names")
        challenge = self._read_challenge(response)
        if challenge is None:
            return response
        with self._lock:
            self._challenge = challenge
        if challenge.scheme == "bearer":
            # A token that was sent and refused is renewed; otherwise another thread may have
            # fetched one for this repository meanwhile.
            authorization = self._bearer(challenge, repository,
                                         fresh=authorization is not None)
        elif challenge.scheme == "basic":
            credentials = self._credentials.get(self.domain)
            if credentials is None:
                return response
            self._note_plain_http(url)
            authorization = credentials.basic_header()
        else:
            return response
        if authorization is None:
            return response
        return self._transport.request(method, url, headers, cap=cap,
                                       authorization=authorization)

    def _note_plain_http(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback_host(split_host_port(parts.netloc, 80)[0]):
            self._notes(f"{self.domain} speaks plain HTTP; its credentials are not sent over"
                        " plain HTTP")

    def _read_challenge(self, response: Response) -> Optional[Challenge]:
        for value in response.headers.get_all("WWW-Authenticate") or []:
            challenge = parse_www_authenticate(str(value))
            if challenge is not None and challenge.scheme in ("bearer", "basic"):
                return challenge
        return None

    def _known_authorization(self, repository: str) -> Optional[str]:
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            credentials = self._credentials.get(self.domain)
            return credentials.basic_header() if credentials else None
        return self._bearer(challenge, repository, fresh=False)

    def _bearer(self, challenge: Challenge, repository: str, fresh: bool) -> Optional[str]:
        cached = self._tokens.get(self.netloc, repository)
        if cached is not None and not fresh:
            return f"Bearer {cached}"
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthError(f"{self.domain} asked for a token but named no token service")
        if urlsplit(realm).scheme not in ("https", "http"):
            raise AuthError(f"{self.domain} named a token service that is not an HTTP URL")
        query = []
        if challenge.params.get("service"):
            query.append(("service", challenge.params["service"]))
        query.append(("scope", f"repository:{repository}:pull"))
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        credentials = self._credentials.get(self.domain)
        # The token service is the registry's own login endpoint, so its credentials go there
        # (as Docker sends them); a redirect away from the realm host drops them, and so does
        # plain HTTP to a host that is not loopback.
        if credentials is not None:
            self._note_plain_http(url)
        if credentials is not None and credentials.identity_token is not None:
            response = self._refresh_token_grant(realm, query, credentials.identity_token)
        else:
            response = self._transport.request(
                "GET", url, {"Accept": "application/json"}, cap=TOKEN_CAP,
                authorization=credentials.basic_header() if credentials else None,
                origin=self.netloc)
        if response.status in (401, 403):
            raise AuthError(f"the token service of {self.domain} refused access to {repository}"
                            f"{self._credential_hint()}")
        if response.status != 200:
            raise AuthError(f"the token service of {self.domain} answered HTTP {response.status}")
        try:
            data = loads(response.body)
        except InvalidValueError as exc:
            raise AuthError(f"the token service of {self.domain} sent an unreadable answer"
                            f" ({exc})") from None
        token = None
        if isinstance(data, dict):
            token = data.get("token") or data.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"the token service of {self.domain} sent no token")
        if not _TOKEN_RE.fullmatch(token):
            raise AuthError(f"the token service of {self.domain} sent a token that cannot be"
                            " sent in a header (control or non-ASCII characters)")
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if (not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool)
                or not math.isfinite(lifetime) or lifetime <= 0):
            lifetime = DEFAULT_TOKEN_LIFETIME
        lifetime = min(lifetime, MAX_TOKEN_LIFETIME)
        self._tokens.put(self.netloc, repository, token, float(lifetime))
        return f"Bearer {token}"

    def _refresh_token_grant(self, realm: str, query: list[tuple[str, str]],
                             identity_token: str) -> Response:
        """OAuth2 refresh-token grant, as Docker does for identity tokens (``az acr login``).

        The token travels in the form body (never in a URL), to the realm the registry's own
        challenge named; a redirect is not followed with it.
        """
        parts = urlsplit(realm)
        if parts.scheme != "https" and not is_loopback_host(split_host_port(parts.netloc,
                                                                            80)[0]):
            # The transport drops an Authorization header over plain HTTP; a body it would
            # send, so the grant itself refuses.
            raise AuthError(f"the token service of {self.domain} speaks plain HTTP; the"
                            " identity token is not sent over plain HTTP")
        form = [("grant_type", "refresh_token"), *query, ("client_id", CLIENT_ID),
                ("refresh_token", identity_token)]
        return self._transport.request(
            "POST", realm, {"Accept": "application/json",
                            "Content-Type": "application/x-www-form-urlencoded"},
            cap=TOKEN_CAP, body=urlencode(form).encode(), origin=self.netloc)

    def _watch_rate_limit(self, response: Response) -> None:
        remaining = rate_limit_count(response.header("RateLimit-Remaining"))
        if remaining is None:
            return
        limit = rate_limit_count(response.header("RateLimit-Limit"))
        with self._lock:
            self.rate_limit = (remaining, limit)
        if remaining == 0:
            self._notes(rate_limit_note(self.domain))

    # -- for the checks of VIL013-VIL016 -------------------------------------------------------

    def get(self, path: str, repository: str, cap: int) -> Response:
        """GET an API path of ``repository`` with whatever authorization it needs."""
        response = self._authorized("GET", path, repository, cap)
        self._watch_rate_limit(response)
        if response.status == 429:
            raise RateLimitedError(rate_limit_note(self.domain))
        return response

    def get_blob(self, repository: str, digest: str, cap: int) -> bytes:
        """A blob (an image config), checked against its digest."""
        response = self.get(f"/v2/{repository}/blobs/{digest}", repository, cap)
        self._check(response, repository, digest)
        if not verify_digest(response.body, digest):
            raise RegistryError(f"{self.domain} sent a blob for {repository}@{digest} whose"
                                " content does not match the digest")
        return response.body

    @property
    def challenged(self) -> bool:
        """Did the registry ask for authentication (so credentials may have been used)?"""
        with self._lock:
            return self._challenge is not None

    def has_credentials(self) -> bool:
        return self._credentials.get(self.domain) is not None


# Docker's client id in the OAuth2 grant names the client; ours names this tool.
CLIENT_ID = "valohai-image-lint"


class RateLimitedError(RegistryError):
    """HTTP 429: the registry's pull quota is used up; its other images are not tried."""


def rate_limit_note(domain: str) -> str:
    return (f"{domain}: the pull rate limit is used up; images not yet looked up there stay"
            " unchecked until the quota refills (docker login raises it)")


def rate_limit_count(value: Optional[str]) -> Optional[int]:
    """``100;w=21600`` -> 100; None for anything that is not a plain count."""
    if value is None:
        return None
    count = value.split(";", 1)[0].strip()
    if not count.isdigit() or len(count) > 12:
        return None
    return int(count)


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""
