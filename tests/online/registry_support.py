"""Real registries on loopback for the online tests, and the images pushed into them.

Everything is built here, deterministically: layers are tar archives gzip-compressed with
``mtime=0``, so every digest and size is known before the registry is asked.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urljoin, urlsplit

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REGISTRY_BIN = shutil.which("docker-registry")
HTPASSWD_BIN = shutil.which("htpasswd")
USER = "alice"
PASSWORD = "s3cret-Pa55word-never-printed"
# An OAuth2 refresh token, as ``az acr login`` stores it ("identitytoken" in config.json).
IDENTITY_TOKEN = "refresh-t0ken-never-printed"
ISSUER = "test-token-issuer"
SERVICE = "test-registry"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- images --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


def make_layer(seed: str, payload_size: int, media_type: str) -> Blob:
    """A gzip'd tar with one file of incompressible bytes derived from ``seed``."""
    payload = bytearray()
    counter = 0
    while len(payload) < payload_size:
        payload += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(f"data/{seed}.bin")
        info.size = payload_size
        info.mtime = 0
        archive.addfile(info, io.BytesIO(bytes(payload[:payload_size])))
    return Blob(gzip.compress(tar_bytes.getvalue(), mtime=0), media_type)


@dataclass(frozen=True)
class Image:
    """One platform's image: config + layers + the manifest that lists them."""

    config: Blob
    layers: tuple[Blob, ...]
    manifest: Blob

    @property
    def compressed_size(self) -> int:
        return self.config.size + sum(layer.size for layer in self.layers)


def make_image(seed: str, layer_sizes: tuple[int, ...], oci: bool, os_name: str = "linux",
               architecture: str = "amd64") -> Image:
    config_type = OCI_CONFIG if oci else DOCKER_CONFIG_TYPE
    layer_type = OCI_LAYER if oci else DOCKER_LAYER
    layers = tuple(make_layer(f"{seed}-{i}", size, layer_type)
                   for i, size in enumerate(layer_sizes))
    config = Blob(json.dumps({
        "architecture": architecture, "os": os_name,
        "rootfs": {"type": "layers", "diff_ids": [sha256(gzip.decompress(layer.data))
                                                  for layer in layers]},
        "config": {"Cmd": ["/bin/sh"]},
    }, sort_keys=True).encode(), config_type)
    manifest = Blob(json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }, indent=3).encode(), OCI_MANIFEST if oci else DOCKER_MANIFEST)
    return Image(config, layers, manifest)


def make_index(children: list[tuple[Image, dict[str, Any]]], oci: bool,
               extra_annotations: Optional[list[Optional[dict[str, str]]]] = None) -> Blob:
    entries = []
    for i, (image, platform) in enumerate(children):
        entry = image.manifest.descriptor(platform=platform)
        if extra_annotations and extra_annotations[i]:
            entry["annotations"] = extra_annotations[i]
        entries.append(entry)
    media_type = OCI_INDEX if oci else DOCKER_LIST
    body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries},
                      indent=2).encode()
    return Blob(body, media_type)


# -- pushing -------------------------------------------------------------------------------------

def _open(request: urllib.request.Request, context: Optional[ssl.SSLContext] = None) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    return opener.open(request, timeout=10)


def push_blob(base: str, repository: str, blob: Blob) -> None:
    start = urllib.request.Request(f"{base}/v2/{repository}/blobs/uploads/", method="POST",
                                   data=b"")
    with _open(start) as response:
        assert response.status == 202, response.status
        location = urljoin(base, response.headers["Location"])
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(f"{location}{separator}digest={blob.digest}", method="PUT",
                                 data=blob.data,
                                 headers={"Content-Type": "application/octet-stream"})
    with _open(put) as response:
        assert response.status == 201, response.status


def push_manifest(base: str, repository: str, reference: str, blob: Blob) -> None:
    request = urllib.request.Request(f"{base}/v2/{repository}/manifests/{reference}",
                                     method="PUT", data=blob.data,
                                     headers={"Content-Type": blob.media_type})
    with _open(request) as response:
        assert response.status == 201, response.status


def push_image(base: str, repository: str, image: Image, tag: Optional[str]) -> None:
    for blob in (image.config, *image.layers):
        push_blob(base, repository, blob)
    push_manifest(base, repository, tag or image.manifest.digest, image.manifest)


# -- certificates and tokens ---------------------------------------------------------------------

@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes
    private_key: Any


def self_signed(common_name: str, ip: Optional[str] = None) -> KeyPair:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return KeyPair(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.DER),
        key,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(keys: KeyPair, claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(keys.cert_der).decode()]}
    signing_input = (_b64url(json.dumps(header).encode()) + "."
                     + _b64url(json.dumps(claims).encode()))
    signature = keys.private_key.sign(signing_input.encode(), padding.PKCS1v15(),
                                      hashes.SHA256())
    return signing_input + "." + _b64url(signature)


# -- small HTTP servers in the test process ------------------------------------------------------

@dataclass
class Seen:
    """What a test server received: (method, Host header, path, Authorization or None)."""

    requests: list[tuple[str, str, str, Optional[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, host: str, path: str, authorization: Optional[str]) -> None:
        with self.lock:
            self.requests.append((method, host, path, authorization))


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler is a plain function."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, Seen], None]) -> None:
        seen = self.seen = Seen()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                seen.add(self.command, self.headers.get("Host", ""), self.path,
                         self.headers.get("Authorization"))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    handle(self, seen)

            do_GET = do_HEAD = do_POST = _any  # http.server's naming

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def log_error(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def respond(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"",
            headers: Optional[dict[str, str]] = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def token_handler(keys: KeyPair) -> Callable[[BaseHTTPRequestHandler, Seen], None]:
    """A token service: Basic credentials in, an RS256 JWT for the requested scope out.

    It also speaks the OAuth2 refresh-token grant (what Docker does with identity tokens):
    ``POST`` a form with ``grant_type=refresh_token``, ``refresh_token``, ``service`` and
    ``scope``; the answer carries ``access_token``.
    """
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def handle(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        if handler.command == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            form = parse_qs(handler.rfile.read(length).decode())
            if (handler.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                    or form.get("grant_type") != ["refresh_token"]
                    or form.get("refresh_token") != [IDENTITY_TOKEN]
                    or handler.headers.get("Authorization") is not None):
                respond(handler, 401, b'{"error":"invalid_grant"}',
                        {"Content-Type": "application/json"})
                return
            query = form
        elif handler.headers.get("Authorization") != expected:
            respond(handler, 401, b'{"details":"bad credentials"}',
                    {"Content-Type": "application/json"})
            return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": USER, "aud": query.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": hashlib.sha256(os.urandom(8)).hexdigest(), "access": access}
        body = json.dumps({"access_token": sign_jwt(keys, claims), "expires_in": 300}).encode()
        respond(handler, 200, body, {"Content-Type": "application/json"})

    return handle


# -- the registry process ------------------------------------------------------------------------

class RegistryProcess:
    """``docker-registry serve`` with its own config on 127.0.0.1:<free port>."""

    def __init__(self, workdir: Path, storage: Path, *, htpasswd: Optional[str] = None,
                 tls: Optional[KeyPair] = None, token: Optional[tuple[str, Path]] = None,
                 name: str = "registry") -> None:
        assert REGISTRY_BIN is not None
        self.port = free_port()
        self.tls = tls
        directory = workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:", "  level: error", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", f"    rootdirectory: {storage}",
            "  delete:", "    enabled: true",
            "http:", f"  addr: 127.0.0.1:{self.port}", f"  secret: secret-{name}",
        ]
        if tls is not None:
            (directory / "cert.pem").write_bytes(tls.cert_pem)
            (directory / "key.pem").write_bytes(tls.key_pem)
            lines += ["  tls:", f"    certificate: {directory / 'cert.pem'}",
                      f"    key: {directory / 'key.pem'}"]
        if htpasswd is not None:
            (directory / "htpasswd").write_text(htpasswd)
            lines += ["auth:", "  htpasswd:", "    realm: test-basic",
                      f"    path: {directory / 'htpasswd'}"]
        if token is not None:
            realm, bundle = token
            lines += ["auth:", "  token:", f"    realm: {realm}", f"    service: {SERVICE}",
                      f"    issuer: {ISSUER}", f"    rootcertbundle: {bundle}"]
        config = directory / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        self.log = (directory / "registry.log").open("wb")
        self.process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.netloc}"

    def _wait_ready(self) -> None:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cadata=self.tls.cert_pem.decode())
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self.process.returncode}")
            try:
                with _open(urllib.request.Request(f"{self.base}/v2/"), context):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not become ready")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def bcrypt_htpasswd(user: str, password: str) -> str:
    assert HTPASSWD_BIN is not None
    completed = subprocess.run([HTPASSWD_BIN, "-Bbn", user, password], capture_output=True,
                               check=True, text=True)
    return completed.stdout.strip() + "\n"


def docker_config(directory: Path, entries: dict[str, Any]) -> Path:
    """Write a Docker ``config.json`` into ``directory`` and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(entries))
    return directory


def basic_auth_entry(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- hostile servers -----------------------------------------------------------------------------

class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection to ``handle(socket)`` in a thread:
    for answers no HTTP library would send (one byte a second, half a response, ...)."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        self._closed = threading.Event()
        self._handle = handle
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            self._handle(connection)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def read_request_head(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class SniffingServer(LoopbackServer):
    """A LoopbackServer that speaks TLS or plain HTTP on one port, as the client starts: the
    shape of a registry that redirects its own TLS clients to ``http://`` on the same port."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, Seen], None],
                 keys: KeyPair, workdir: Path) -> None:
        super().__init__(handle)
        (workdir / "sniff-cert.pem").write_bytes(keys.cert_pem)
        (workdir / "sniff-key.pem").write_bytes(keys.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(workdir / "sniff-cert.pem", workdir / "sniff-key.pem")
        server = self.server
        plain_get_request = server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            connection, address = plain_get_request()
            connection.settimeout(5)
            if connection.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS ClientHello
                connection = context.wrap_socket(connection, server_side=True)
            return connection, address

        server.get_request = get_request  # type: ignore[method-assign]


def is_tls(handler: BaseHTTPRequestHandler) -> bool:
    return isinstance(handler.connection, ssl.SSLSocket)
