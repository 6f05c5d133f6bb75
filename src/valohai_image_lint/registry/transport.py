"""HTTP for registry lookups, with the safety rules built into the connection itself.

- TLS is always verified (system trust store, ``SSL_CERT_FILE``, or an explicit CA file).
- Plain HTTP is used only for loopback hosts and ``insecure-registries``, and only after the
  host failed to speak TLS (as Docker does for insecure registries).
- Every connection resolves the host name, drops link-local addresses (169.254.0.0/16,
  fe80::/10, also IPv4-mapped) and connects to an address it has checked, so a DNS answer
  cannot sneak a metadata service in between the check and the connect.
- The ``Authorization`` header is dropped when a redirect leaves the host it was meant for.
- Bodies are read up to a cap; every request shares one deadline (the total time budget).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import urljoin, urlsplit

USER_AGENT = "valohai-image-lint (+https://github.com/valohai-image-lint/valohai-image-lint)"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Error bodies are only ever shown in part; never read more than this of them.
ERROR_BODY_CAP = 64 * 1024
MAX_429_RETRIES = 2
MAX_RETRY_AFTER = 5.0


class RegistryError(Exception):
    """A lookup failed. The message is safe to print: it never holds credentials."""


class RefusedError(RegistryError):
    """A connection that the safety rules forbid (link-local address, plain HTTP)."""


class UnreachableError(RegistryError):
    """The host could not be reached at all (DNS, refused, timeout, TLS)."""


class UntrustedCertificateError(UnreachableError):
    """The host speaks TLS but its certificate does not verify: never fall back to HTTP."""


class BudgetExceededError(RegistryError):
    """The total time budget for lookups is used up."""


@dataclass(frozen=True)
class TransportOptions:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    # Seconds for all lookups of one run together.
    budget: float = 60.0
    insecure_registries: tuple[str, ...] = ()
    # Extra trust anchors (PEM) on top of the default ones; ``SSL_CERT_FILE`` also works.
    ca_file: Optional[str] = None
    max_redirects: int = 5


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    def header(self, name: str) -> Optional[str]:
        value = self.headers.get(name)
        return None if value is None else str(value)


def _ip(address: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    """The IP of an address literal (zone dropped, IPv4-mapped unwrapped); None if not one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_forbidden_address(address: str) -> bool:
    """Link-local addresses are never contacted (cloud metadata services live there)."""
    ip = _ip(address)
    return ip is None or ip.is_link_local


def _is_loopback_address(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def is_loopback_host(host: str) -> bool:
    """A host that names this machine: ``localhost`` or a loopback IP literal."""
    bare = host.strip("[]").lower()
    return bare == "localhost" or bare.endswith(".localhost") or _is_loopback_address(bare)


def split_host_port(netloc: str, default_port: int) -> tuple[str, int]:
    """``host[:port]`` (IPv6 in brackets) -> (host without brackets, port)."""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[1:end], netloc[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") and rest[1:] else default_port
        return host, port
    host, sep, port_text = netloc.rpartition(":")
    if sep and port_text.isdigit():
        return host, int(port_text)
    return netloc, default_port


def connect_checked(host: str, port: int, connect_timeout: float, read_timeout: float,
                    loopback_only: bool = False) -> socket.socket:
    """Resolve ``host``, drop forbidden addresses, connect to the first checked one that works."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnreachableError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    allowed = [info for info in infos if not is_forbidden_address(str(info[4][0]))]
    if not allowed:
        raise RefusedError(f"{host} is a link-local address; link-local hosts are never contacted")
    if loopback_only:
        allowed = [info for info in allowed if _is_loopback_address(str(info[4][0]))]
        if not allowed:
            raise RefusedError(f"{host} does not resolve to a loopback address; plain HTTP refused")
    last_error: Optional[OSError] = None
    for family, kind, proto, _, address in allowed:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        sock.settimeout(read_timeout)
        return sock
    reason = "timed out" if isinstance(last_error, socket.timeout) else (
        getattr(last_error, "strerror", None) or str(last_error))
    raise UnreachableError(f"cannot connect to {host}:{port}: {reason}")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, connect_timeout: float, read_timeout: float,
                 loopback_only: bool) -> None:
        super().__init__(host, port, timeout=read_timeout)
        self.connect_timeout = connect_timeout
        self.loopback_only = loopback_only

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self.connect_timeout,
                                    float(self.timeout or 0) or 15.0, self.loopback_only)


class _CheckedHTTPSConnection(_CheckedHTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int, connect_timeout: float, read_timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, connect_timeout, read_timeout, loopback_only=False)
        self.ssl_context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.ssl_context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass
class _Stats:
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Transport:
    """Sends requests under the safety rules; shared by the lookup threads."""

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self.deadline = time.monotonic() + options.budget
        # Loading the trust store costs ~15 ms, so it happens on the first HTTPS connection.
        self._context: Optional[ssl.SSLContext] = None
        self._context_lock = threading.Lock()
        self._local = threading.local()
        # Every thread's pool, so that close() can reach connections of finished workers.
        self._pools: list[dict[tuple[str, str], _CheckedHTTPConnection]] = []
        self._stats = _Stats()
        self._schemes: dict[str, str] = {}
        self._schemes_lock = threading.Lock()
        self._probe_locks: dict[str, threading.Lock] = {}

    def tls_context(self) -> ssl.SSLContext:
        with self._context_lock:
            if self._context is None:
                context = ssl.create_default_context()
                if self.options.ca_file:
                    context.load_verify_locations(cafile=self.options.ca_file)
                self._context = context
            return self._context

    @property
    def request_count(self) -> int:
        return self._stats.requests

    def thread_request_count(self) -> int:
        """Requests sent by the calling thread (a lookup runs in one thread)."""
        return int(getattr(self._local, "requests", 0))

    def plain_http_allowed(self, netloc: str) -> bool:
        host, _ = split_host_port(netloc, 80)
        insecure = {entry.lower() for entry in self.options.insecure_registries}
        return is_loopback_host(host) or netloc.lower() in insecure or host.lower() in insecure

    def base_url(self, netloc: str) -> str:
        """``https://netloc``, or ``http://netloc`` for a plain-HTTP host that lacks TLS."""
        with self._schemes_lock:
            scheme = self._schemes.get(netloc)
            probe_lock = self._probe_locks.setdefault(netloc, threading.Lock())
        if scheme is None:
            # One probe per host, however many threads ask at once.
            with probe_lock:
                with self._schemes_lock:
                    scheme = self._schemes.get(netloc)
                if scheme is None:
                    scheme = self._probe_scheme(netloc)
                    with self._schemes_lock:
                        self._schemes[netloc] = scheme
        return f"{scheme}://{netloc}"

    def _probe_scheme(self, netloc: str) -> str:
        """Does a loopback or insecure-registries host speak TLS? (Docker tries TLS first too.)

        A TLS handshake with a context that trusts nothing: a certificate error proves the host
        speaks TLS (and then only verified TLS is used); anything else means plain HTTP.
        """
        if not self.plain_http_allowed(netloc):
            return "https"
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BudgetExceededError("the time budget for registry lookups is used up")
        host, port = split_host_port(netloc, 443)
        try:
            sock = connect_checked(host, port, min(self.options.connect_timeout, remaining),
                                   min(self.options.read_timeout, remaining))
        except UnreachableError:
            return "http"  # nothing on the HTTPS port; the plain-HTTP request will tell
        probe_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            with probe_context.wrap_socket(sock, server_hostname=host):
                pass
        except ssl.SSLCertVerificationError:
            return "https"
        except OSError:  # ssl.SSLError included: the host answered in plain HTTP
            return "http"
        finally:
            sock.close()
        return "https"  # pragma: no cover - a context without trust anchors verifies nothing

    def request(self, method: str, url: str, headers: dict[str, str], *, cap: int,
                authorization: Optional[str] = None, body: Optional[bytes] = None) -> Response:
        """One request, following redirects; ``authorization`` goes to the first host only.

        A request with a ``body`` (the token POST) follows no redirect: it would resend the body.
        """
        auth_netloc = urlsplit(url).netloc.lower()
        current = url
        for _ in range(self.options.max_redirects + 1):
            parts = urlsplit(current)
            send_auth = authorization if parts.netloc.lower() == auth_netloc else None
            response = self._send_with_retries(method, current, headers, cap, send_auth, body)
            location = response.header("Location")
            if response.status in REDIRECT_STATUSES and location and body is None:
                current = urljoin(current, location)
                if response.status == 303 and method != "HEAD":
                    method = "GET"
                continue
            return response
        raise RegistryError(f"too many redirects from {urlsplit(url).netloc}")

    def _send_with_retries(self, method: str, url: str, headers: dict[str, str], cap: int,
                           authorization: Optional[str], body: Optional[bytes] = None
                           ) -> Response:
        attempt = 0
        while True:
            response = self._send(method, url, headers, cap, authorization, body)
            if response.status != 429 or attempt >= MAX_429_RETRIES:
                return response
            attempt += 1
            wait = _retry_after(response.header("Retry-After"), attempt)
            if time.monotonic() + wait >= self.deadline:
                return response
            time.sleep(wait)

    def _send(self, method: str, url: str, headers: dict[str, str], cap: int,
              authorization: Optional[str], body: Optional[bytes] = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise RefusedError(f"unsupported URL scheme {parts.scheme!r}")
        if parts.scheme == "http" and not self.plain_http_allowed(parts.netloc):
            raise RefusedError(
                f"{parts.netloc} is not loopback and not in insecure-registries;"
                " plain HTTP refused")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BudgetExceededError("the time budget for registry lookups is used up")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        request_headers = {"User-Agent": USER_AGENT, **headers}
        if authorization is not None:
            request_headers["Authorization"] = authorization
        key = (parts.scheme, parts.netloc.lower())
        for reuse in (True, False):
            connection, reused = self._connection(key, remaining, reuse)
            with self._stats.lock:
                self._stats.requests += 1
            self._local.requests = getattr(self._local, "requests", 0) + 1
            try:
                connection.request(method, path, body=body, headers=request_headers)
                raw = connection.getresponse()
                # Read even a HEAD's (empty) body: it frees the connection for the next request.
                content = raw.read() if method == "HEAD" else _read_capped(raw, cap,
                                                                           parts.netloc)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(key)
                if reused:
                    continue  # a kept-alive connection the server had closed; try a fresh one
                raise UnreachableError(f"{parts.netloc} closed the connection: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                self._drop(key)
                raise UntrustedCertificateError(
                    f"TLS certificate of {parts.netloc} not trusted: {exc.verify_message}"
                    " (add its CA with SSL_CERT_FILE)") from None
            except (socket.timeout, TimeoutError):
                self._drop(key)
                raise UnreachableError(f"{parts.netloc} timed out") from None
            except RegistryError:
                self._drop(key)
                raise
            except http.client.HTTPException as exc:
                self._drop(key)
                raise RegistryError(f"{parts.netloc} sent a malformed HTTP response"
                                    f" ({type(exc).__name__})") from None
            except OSError as exc:
                self._drop(key)
                raise UnreachableError(
                    f"{parts.netloc}: {exc.strerror or type(exc).__name__}") from None
            if raw.will_close:
                self._drop(key)
            return Response(raw.status, raw.headers, content, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, key: tuple[str, str], remaining: float,
                    reuse: bool) -> tuple[_CheckedHTTPConnection, bool]:
        pool: Optional[dict[tuple[str, str], _CheckedHTTPConnection]] = getattr(
            self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
            with self._stats.lock:
                self._pools.append(pool)
        existing = pool.get(key)
        read_timeout = min(self.options.read_timeout, remaining)
        if existing is not None and reuse:
            existing.timeout = read_timeout
            if existing.sock is not None:
                existing.sock.settimeout(read_timeout)
            return existing, True
        if existing is not None:
            existing.close()
        scheme, netloc = key
        connect_timeout = min(self.options.connect_timeout, remaining)
        connection: _CheckedHTTPConnection
        if scheme == "https":
            host, port = split_host_port(netloc, 443)
            connection = _CheckedHTTPSConnection(host, port, connect_timeout, read_timeout,
                                                 self.tls_context())
        else:
            host, port = split_host_port(netloc, 80)
            loopback_only = is_loopback_host(host) and not self._listed_insecure(netloc)
            connection = _CheckedHTTPConnection(host, port, connect_timeout, read_timeout,
                                                loopback_only)
        pool[key] = connection
        return connection, False

    def _listed_insecure(self, netloc: str) -> bool:
        host, _ = split_host_port(netloc, 80)
        insecure = {entry.lower() for entry in self.options.insecure_registries}
        return netloc.lower() in insecure or host.lower() in insecure

    def _drop(self, key: tuple[str, str]) -> None:
        pool: dict[tuple[str, str], _CheckedHTTPConnection] = getattr(self._local, "pool", {})
        connection = pool.pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        with self._stats.lock:
            pools = list(self._pools)
        for pool in pools:
            for connection in list(pool.values()):
                connection.close()
            pool.clear()


def _read_capped(raw: http.client.HTTPResponse, cap: int, netloc: str) -> bytes:
    length = raw.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise RegistryError(
            f"response from {netloc} is {int(length)} bytes; at most {cap} are read")
    body = raw.read(cap + 1)
    if len(body) > cap:
        raise RegistryError(f"response from {netloc} is larger than {cap} bytes; not read")
    return body


def _retry_after(value: Optional[str], attempt: int) -> float:
    if value is not None:
        try:
            seconds: float = max(0.0, min(float(value.strip()), MAX_RETRY_AFTER))
            return seconds
        except ValueError:
            pass
    return min(0.5 * 2.0 ** (attempt - 1), MAX_RETRY_AFTER)
