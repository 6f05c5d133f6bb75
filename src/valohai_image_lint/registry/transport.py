"""HTTP for registry lookups, with the safety rules built into the connection itself.

- TLS is always verified (system trust store, ``SSL_CERT_FILE``, or an explicit CA file).
- Plain HTTP is used only for loopback hosts and ``insecure-registries``, and only after the
  host failed to speak TLS (as Docker does for insecure registries). A host that spoke TLS in
  this run is never contacted without it (no downgrade by redirect).
- Every connection resolves the host name, drops refused addresses (link-local, unspecified,
  cloud metadata, and their IPv4-mapped and NAT64 forms) and connects to an address it has
  checked, so a DNS answer cannot sneak a metadata service in between the check and the
  connect. Loopback and private addresses are reached only for the host the image names, or
  when the image names its registry by such an address: a redirect or token service never
  leads from a named host into this machine or its network.
- The ``Authorization`` header is dropped when a redirect leaves the host it was meant for,
  and is never sent over plain HTTP except to loopback.
- Bodies are read up to a cap. One ``Deadline`` bounds all network work of a run: a watchdog
  shuts every open socket down (and kills credential helpers) when it passes or when the run
  is interrupted, so a server that dribbles a byte a second cannot hold the run.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union
from urllib.parse import urljoin, urlsplit

# A host name or address literal as a URL may hold it (IPv6 without its brackets).
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45}")
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
    """The total time budget for lookups is used up (or the run was interrupted)."""


class Deadline:
    """One deadline for all network work of a run, enforced continuously.

    Sockets and helper processes register an ``abort`` callable while they are in use; a
    watchdog thread calls every one of them when the deadline passes or ``cancel()`` is called
    (Ctrl-C), which ends any blocked read, handshake or helper at once.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.cancelled = False
        self._fired = False
        self._closed = False
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._aborts: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._thread: Optional[threading.Thread] = None

    def remaining(self) -> float:
        if self.cancelled or self._fired:
            return 0.0
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def error(self) -> BudgetExceededError:
        if self.cancelled:
            return BudgetExceededError("registry lookups interrupted")
        return BudgetExceededError(
            f"the time budget for registry lookups ({self.seconds:g} s) is used up")

    def check(self) -> float:
        """The seconds left; ``BudgetExceededError`` when none are."""
        remaining = self.remaining()
        if remaining <= 0.0:
            raise self.error()
        return remaining

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake when the deadline passes or the run is cancelled."""
        self._wake.wait(min(seconds, self.remaining()))

    def watch(self, abort: Callable[[], None]) -> int:
        """Register ``abort``; it runs if the deadline passes while registered."""
        with self._lock:
            self._next += 1
            token = self._next
            self._aborts[token] = abort
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="lookup-deadline",
                                                daemon=True)
                self._thread.start()
            fired = self._fired
        if fired:
            abort()
        return token

    def unwatch(self, token: int) -> None:
        with self._lock:
            self._aborts.pop(token, None)

    def cancel(self) -> None:
        """End all network work now (Ctrl-C)."""
        self.cancelled = True
        self._fire()

    def close(self) -> None:
        """Stop the watchdog (the run is over)."""
        with self._lock:
            self._closed = True
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(max(self.end - time.monotonic(), 0.0))
            if self._closed and not self.cancelled:
                return
            if self.cancelled or time.monotonic() >= self.end:
                self._fire()
                return

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            aborts = list(self._aborts.values())
        self._wake.set()
        for abort in aborts:
            with contextlib.suppress(Exception):
                abort()


def _shutdown(sock: socket.socket) -> Callable[[], None]:
    def abort() -> None:
        # The plain socket's shutdown, also for an SSLSocket: it ends a blocked read in another
        # thread without touching the TLS state that thread is using.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)

    return abort


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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = (ipaddress.ip_address("fd00:ec2::254"),)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def refused_kind(address: str) -> Optional[str]:
    """Why an address is never contacted (``"link-local"``, ...), or None when it may be.

    IPv4-mapped (``::ffff:a.b.c.d``) and NAT64 (``64:ff9b::a.b.c.d``) forms are judged by the
    IPv4 address they carry.
    """
    ip = _ip(address)
    if ip is None:
        return "unreadable"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64:
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _METADATA:
        return "cloud metadata"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_multicast or (isinstance(ip, ipaddress.IPv4Address)
                           and ip == ipaddress.IPv4Address("255.255.255.255")):
        return "broadcast or multicast"
    return None


def is_forbidden_address(address: str) -> bool:
    """Never contacted: link-local (cloud metadata services live there), unspecified, ..."""
    return refused_kind(address) is not None


def is_internal_address(address: str) -> bool:
    """Loopback or private: this machine or its own network."""
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64:
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_loopback or ip.is_private


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


def names_internal_host(host: str) -> bool:
    """A host named as loopback or private by itself (``localhost``, ``10.1.2.3``)."""
    return is_loopback_host(host) or is_internal_address(host.strip("[]"))


def _resolve(host: str, port: int, deadline: Optional[Deadline]) -> list[Any]:
    """``getaddrinfo``, given up on when the deadline passes: a name lookup cannot be
    interrupted, so one for a name (not an address literal) runs in a thread of its own."""
    if deadline is None or _ip(host) is not None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    done = threading.Event()
    outcome: list[Any] = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=resolve, name="lookup-resolve", daemon=True).start()
    watch = deadline.watch(done.set)
    try:
        done.wait(deadline.remaining())
    finally:
        deadline.unwatch(watch)
    if not outcome:
        raise deadline.error()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return list(outcome[0])


def connect_checked(host: str, port: int, connect_timeout: float, read_timeout: float,
                    loopback_only: bool = False, allow_internal: bool = True,
                    deadline: Optional[Deadline] = None) -> socket.socket:
    """Resolve ``host``, drop refused addresses, connect to the first checked one that works.

    ``allow_internal`` False also drops loopback and private addresses (a host the image did
    not name).
    """
    try:
        infos = _resolve(host, port, deadline)
    except socket.gaierror as exc:
        raise UnreachableError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    except (UnicodeError, ValueError):
        raise UnreachableError(f"cannot resolve {host}: not a host name") from None
    allowed = [info for info in infos if not is_forbidden_address(str(info[4][0]))]
    if not allowed:
        kinds = sorted({refused_kind(str(info[4][0])) or "" for info in infos} - {""})
        raise RefusedError(f"{host} is a{'n' if kinds[:1] == ['unspecified'] else ''}"
                           f" {' and '.join(kinds) or 'unusable'} address; such hosts are"
                           " never contacted")
    if not allow_internal:
        allowed = [info for info in allowed if not is_internal_address(str(info[4][0]))]
        if not allowed:
            raise RefusedError(
                f"{host} is a loopback or private address that the image does not name; a"
                " redirect or token service never leads there")
    if loopback_only:
        allowed = [info for info in allowed if _is_loopback_address(str(info[4][0]))]
        if not allowed:
            raise RefusedError(f"{host} does not resolve to a loopback address; plain HTTP refused")
    last_error: Optional[OSError] = None
    for family, kind, proto, _, address in allowed:
        timeout = connect_timeout if deadline is None else min(connect_timeout, deadline.check())
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
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
                 loopback_only: bool, allow_internal: bool, deadline: Deadline) -> None:
        super().__init__(host, port, timeout=read_timeout)
        self.connect_timeout = connect_timeout
        self.loopback_only = loopback_only
        self.allow_internal = allow_internal
        self.deadline = deadline
        self._watch: Optional[int] = None

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.connect_timeout,
                               float(self.timeout or 0) or 15.0, self.loopback_only,
                               self.allow_internal, self.deadline)
        self.sock = sock
        self._guard(sock)

    def _guard(self, sock: socket.socket) -> None:
        """Let the deadline's watchdog end any blocked operation on ``sock``."""
        if self._watch is not None:
            self.deadline.unwatch(self._watch)
        self._watch = self.deadline.watch(_shutdown(sock))

    def close(self) -> None:
        super().close()
        if self._watch is not None:
            self.deadline.unwatch(self._watch)
            self._watch = None


class _CheckedHTTPSConnection(_CheckedHTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int, connect_timeout: float, read_timeout: float,
                 allow_internal: bool, deadline: Deadline, context: ssl.SSLContext) -> None:
        super().__init__(host, port, connect_timeout, read_timeout, False, allow_internal,
                         deadline)
        self.ssl_context = context

    def connect(self) -> None:
        super().connect()
        tls = self.ssl_context.wrap_socket(self.sock, server_hostname=self.host,
                                           do_handshake_on_connect=False)
        self.sock = tls
        self._guard(tls)  # the handshake, too, ends at the deadline
        tls.do_handshake()


@dataclass
class _Stats:
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_PoolKey = tuple[str, str, bool]


class Transport:
    """Sends requests under the safety rules; shared by the lookup threads."""

    def __init__(self, options: TransportOptions, deadline: Optional[Deadline] = None) -> None:
        self.options = options
        self._owns_deadline = deadline is None
        self.deadline = deadline if deadline is not None else Deadline(options.budget)
        # Loading the trust store costs ~15 ms, so it happens on the first HTTPS connection.
        self._context: Optional[ssl.SSLContext] = None
        self._context_lock = threading.Lock()
        self._local = threading.local()
        # Every thread's pool, so that close() can reach connections of finished workers.
        self._pools: list[dict[_PoolKey, _CheckedHTTPConnection]] = []
        self._stats = _Stats()
        self._schemes: dict[str, str] = {}
        self._schemes_lock = threading.Lock()
        self._probe_locks: dict[str, threading.Lock] = {}
        # Hosts (host:port) that spoke TLS in this run: never contacted without it again.
        self._tls_netlocs: set[str] = set()

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
                        if scheme == "https":
                            self._tls_netlocs.add(netloc.lower())
        return f"{scheme}://{netloc}"

    def _probe_scheme(self, netloc: str) -> str:
        """Does a loopback or insecure-registries host speak TLS? (Docker tries TLS first too.)

        A TLS handshake with a context that trusts nothing: a certificate error proves the host
        speaks TLS (and then only verified TLS is used); anything else means plain HTTP.
        """
        if not self.plain_http_allowed(netloc):
            return "https"
        remaining = self.deadline.check()
        host, port = split_host_port(netloc, 443)
        try:
            sock = connect_checked(host, port, min(self.options.connect_timeout, remaining),
                                   min(self.options.read_timeout, remaining),
                                   deadline=self.deadline)
        except UnreachableError:
            return "http"  # nothing on the HTTPS port; the plain-HTTP request will tell
        probe_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        watch: Optional[int] = None
        try:
            with probe_context.wrap_socket(sock, server_hostname=host,
                                           do_handshake_on_connect=False) as tls:
                watch = self.deadline.watch(_shutdown(tls))
                tls.do_handshake()
        except ssl.SSLCertVerificationError:
            return "https"
        except OSError:  # ssl.SSLError included: the host answered in plain HTTP
            self.deadline.check()  # ... unless the watchdog cut the handshake short
            return "http"
        finally:
            if watch is not None:
                self.deadline.unwatch(watch)
            sock.close()
        return "https"  # pragma: no cover - a context without trust anchors verifies nothing

    def request(self, method: str, url: str, headers: dict[str, str], *, cap: int,
                authorization: Optional[str] = None, origin: Optional[str] = None,
                body: Optional[bytes] = None) -> Response:
        """One request, following redirects (none for a request with a ``body``, the token
        POST: a redirect would resend it).

        ``authorization`` goes to the first URL's host only, and over plain HTTP only to
        loopback. ``origin`` is the registry the request is made for (default: the URL's
        host); loopback and private addresses of other hosts are reached only when the origin
        itself is named by such an address.
        """
        auth_netloc = urlsplit(url).netloc.lower()
        origin_host, _ = split_host_port((origin or auth_netloc).lower(), 443)
        origin_internal = names_internal_host(origin_host)
        current = url
        for _ in range(self.options.max_redirects + 1):
            try:
                parts = urlsplit(current)
                host, _ = split_host_port(parts.netloc, 443)
                if not _HOST_RE.fullmatch(host):
                    raise ValueError(host)
            except ValueError:
                verb = "named" if current == url else "redirected to"
                raise RegistryError(f"{printable_netloc(origin or auth_netloc)} {verb} an"
                                    " unusable address") from None
            allow_internal = origin_internal or host.lower() == origin_host
            plain_to_remote = parts.scheme != "https" and not is_loopback_host(host)
            send_auth = authorization if (parts.netloc.lower() == auth_netloc
                                          and not plain_to_remote) else None
            response = self._send_with_retries(method, current, headers, cap, send_auth,
                                               allow_internal, body)
            location = response.header("Location")
            if response.status in REDIRECT_STATUSES and location and body is None:
                try:
                    current = urljoin(current, location)
                except ValueError:
                    raise RegistryError(f"{printable_netloc(parts.netloc)} redirected to an"
                                        " unusable address") from None
                if response.status == 303 and method != "HEAD":
                    method = "GET"
                continue
            return response
        raise RegistryError(f"too many redirects from {urlsplit(url).netloc}")

    def _send_with_retries(self, method: str, url: str, headers: dict[str, str], cap: int,
                           authorization: Optional[str], allow_internal: bool,
                           body: Optional[bytes] = None) -> Response:
        attempt = 0
        while True:
            response = self._send(method, url, headers, cap, authorization, allow_internal,
                                  body)
            if response.status != 429 or attempt >= MAX_429_RETRIES:
                return response
            attempt += 1
            wait = _retry_after(response.header("Retry-After"), attempt)
            if wait >= self.deadline.remaining():
                return response
            self.deadline.sleep(wait)

    def _send(self, method: str, url: str, headers: dict[str, str], cap: int,
              authorization: Optional[str], allow_internal: bool,
              body: Optional[bytes] = None) -> Response:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        if parts.scheme not in ("https", "http"):
            raise RefusedError(f"unsupported URL scheme {parts.scheme!r}")
        if parts.scheme == "http" and not self.plain_http_allowed(parts.netloc):
            raise RefusedError(
                f"{parts.netloc} is not loopback and not in insecure-registries;"
                " plain HTTP refused")
        if parts.scheme == "http" and netloc in self._tls_netlocs:
            raise RefusedError(f"{parts.netloc} spoke TLS earlier in this run; plain HTTP to it"
                               " refused")
        remaining = self.deadline.check()
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        request_headers = {"User-Agent": USER_AGENT, **headers}
        if authorization is not None:
            request_headers["Authorization"] = authorization
        key = (parts.scheme, netloc, allow_internal)
        for reuse in (True, False):
            try:
                connection, reused = self._connection(key, remaining, reuse)
            except Exception as exc:  # http.client refuses a host it cannot put in a request
                raise _transport_error(exc, parts.netloc) from None
            with self._stats.lock:
                self._stats.requests += 1
            self._local.requests = getattr(self._local, "requests", 0) + 1
            try:
                connection.request(method, path, body=body, headers=request_headers)
                raw = connection.getresponse()
                # Read even a HEAD's (empty) body: it frees the connection for the next request.
                content = raw.read() if method == "HEAD" else _read_capped(raw, cap,
                                                                           parts.netloc)
            except Exception as exc:
                self._drop(key)
                if self.deadline.expired:
                    raise self.deadline.error() from None
                if reused and isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError,
                                               ConnectionResetError)):
                    continue  # a kept-alive connection the server had closed; try a fresh one
                raise _transport_error(exc, parts.netloc) from None
            if raw.will_close:
                self._drop(key)
            if parts.scheme == "https":
                with self._schemes_lock:
                    self._tls_netlocs.add(netloc)
            return Response(raw.status, raw.headers, content, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, key: _PoolKey, remaining: float,
                    reuse: bool) -> tuple[_CheckedHTTPConnection, bool]:
        pool: Optional[dict[_PoolKey, _CheckedHTTPConnection]] = getattr(
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
        scheme, netloc, allow_internal = key
        connect_timeout = min(self.options.connect_timeout, remaining)
        connection: _CheckedHTTPConnection
        if scheme == "https":
            host, port = split_host_port(netloc, 443)
            connection = _CheckedHTTPSConnection(host, port, connect_timeout, read_timeout,
                                                 allow_internal, self.deadline,
                                                 self.tls_context())
        else:
            host, port = split_host_port(netloc, 80)
            loopback_only = is_loopback_host(host) and not self._listed_insecure(netloc)
            connection = _CheckedHTTPConnection(host, port, connect_timeout, read_timeout,
                                                loopback_only, allow_internal, self.deadline)
        pool[key] = connection
        return connection, False

    def _listed_insecure(self, netloc: str) -> bool:
        host, _ = split_host_port(netloc, 80)
        insecure = {entry.lower() for entry in self.options.insecure_registries}
        return netloc.lower() in insecure or host.lower() in insecure

    def _drop(self, key: _PoolKey) -> None:
        pool: dict[_PoolKey, _CheckedHTTPConnection] = getattr(self._local, "pool", {})
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
        if self._owns_deadline:
            self.deadline.close()


def printable_netloc(netloc: str) -> str:
    from valohai_image_lint.registry.validate import printable

    return printable(netloc, 100)


def _transport_error(exc: Exception, netloc: str) -> Exception:
    """What a failed request says, as a ``RegistryError`` when the failure is understood."""
    where = printable_netloc(netloc)
    if isinstance(exc, RegistryError):
        return exc
    if isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
        return UnreachableError(f"{where} closed the connection: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return UntrustedCertificateError(
            f"TLS certificate of {where} not trusted: {exc.verify_message}"
            " (add its CA with SSL_CERT_FILE)")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return UnreachableError(f"{where} timed out")
    if isinstance(exc, http.client.HTTPException):
        return RegistryError(f"{where} sent a malformed HTTP response ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return UnreachableError(f"{where}: {exc.strerror or type(exc).__name__}")
    if isinstance(exc, ValueError):  # UnicodeError too: a URL or header that cannot be sent
        return RegistryError(f"{where}: the request could not be sent ({type(exc).__name__})")
    return exc


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
