"""Registries that misbehave (a small http.server on loopback) and addresses never contacted."""

from __future__ import annotations

import base64
import io
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Optional

import pytest
from registry_support import (
    PASSWORD,
    USER,
    LoopbackServer,
    Seen,
    basic_auth_entry,
    docker_config,
    make_image,
    respond,
)

from valohai_image_lint.config import Config
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.registry import ImageInfo, LookupRequest, Lookups, lookup_images
from valohai_image_lint.registry.transport import TransportOptions, connect_checked

IMAGE = make_image("misbehaving", (1200,), oci=True)
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SLOW_SECONDS = 2.0


def _serve_manifest(handler: BaseHTTPRequestHandler, with_digest: bool = True) -> None:
    headers = {"Content-Type": IMAGE.manifest.media_type}
    if with_digest:
        headers["Docker-Content-Digest"] = IMAGE.manifest.digest
    respond(handler, 200, IMAGE.manifest.data, headers)


def _handle(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    path = handler.path
    port = handler.server.server_address[1]
    if path == "/v2/":
        respond(handler, 200, b"{}")
    elif path.startswith("/v2/ok/"):
        _serve_manifest(handler)
    elif path.startswith("/v2/missing/"):
        respond(handler, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
    elif path.startswith("/v2/private/"):
        respond(handler, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                {"WWW-Authenticate": 'Basic realm="private"'})
    elif path.startswith("/v2/busy/"):
        # 429 twice, then the answer: bounded retries get there.
        busy = sum(1 for request in seen.requests if request[2].startswith("/v2/busy/"))
        if busy <= 2:
            respond(handler, 429, b"slow down", {"Retry-After": "0"})
        else:
            _serve_manifest(handler)
    elif path.startswith("/v2/overloaded/"):
        respond(handler, 429, b"slow down", {"Retry-After": "0"})
    elif path.startswith("/v2/slow/"):
        time.sleep(SLOW_SECONDS)
        _serve_manifest(handler)
    elif path.startswith("/v2/garbage/"):
        # No Docker-Content-Digest, so the client GETs the body, which is not a manifest.
        respond(handler, 200, b"\x00\xffthis is <html> not a manifest",
                {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    elif path.startswith("/v2/liar/"):
        # Claims a digest that its body does not have.
        if handler.command == "HEAD":
            respond(handler, 200, b"", {"Docker-Content-Digest": "sha256:" + "ab" * 32})
        else:
            respond(handler, 200, IMAGE.manifest.data,
                    {"Content-Type": IMAGE.manifest.media_type})
    elif path.startswith("/v2/huge/"):
        respond(handler, 200, b"{" + b" " * (5 * 1024 * 1024) + b"}",
                {"Content-Type": IMAGE.manifest.media_type})
    elif path.startswith("/v2/nodigest/"):
        _serve_manifest(handler, with_digest=False)
    elif path.startswith("/v2/redirect/"):
        if handler.headers.get("Authorization") != BASIC:
            respond(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="redirect"'})
            return
        # Same server, another host name: credentials must not follow.
        respond(handler, 307, b"", {"Location": f"http://localhost:{port}/v2/ok/img/manifests/1"})
    elif path.startswith("/token?"):
        # The older "token" field (not "access_token"), anonymous, short-lived.
        respond(handler, 200, b'{"token": "opaque-token-123", "expires_in": 30}',
                {"Content-Type": "application/json"})
    elif path.startswith("/v2/bearer/"):
        if handler.headers.get("Authorization") != "Bearer opaque-token-123":
            realm = f"http://127.0.0.1:{port}/token"
            respond(handler, 401, b"", {
                "WWW-Authenticate": f'Bearer realm="{realm}",service="svc",'
                                    'scope="repository:bearer/img:pull"'})
            return
        _serve_manifest(handler)
    elif path.startswith("/v2/nohead/"):
        if handler.command == "HEAD":
            respond(handler, 405, b"")
        else:
            _serve_manifest(handler)
    elif path.startswith("/v2/ratelimit/"):
        headers = {"Content-Type": IMAGE.manifest.media_type,
                   "Docker-Content-Digest": IMAGE.manifest.digest,
                   "RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "0;w=21600"}
        respond(handler, 200, IMAGE.manifest.data, headers)
    else:
        respond(handler, 500, b"unexpected")


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    running = LoopbackServer(_handle)
    yield running
    running.close()


def look_up(images: list[str], tmp_path: Path, options: Optional[TransportOptions] = None,
            **config: Any) -> tuple[Lookups, str]:
    err = io.StringIO()
    requests = [LookupRequest(parse_reference(image), True) for image in images]
    lookups = lookup_images(requests, Config(cache_dir=str(tmp_path / "cache"), **config),
                            offline=False, err=err, options=options, progress=False)
    return lookups, err.getvalue()


def answer(lookups: Lookups, image: str) -> ImageInfo:
    info = lookups.get(parse_reference(image))
    assert info is not None
    return info


def test_well_behaved_baseline(server: LoopbackServer, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/ok/img:1"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).size == IMAGE.compressed_size and err == ""


@pytest.mark.parametrize(("repository", "expected"), [
    ("missing", "not found in the registry"),
    ("private", "access denied by 127.0.0.1"),
    ("overloaded", "the pull rate limit is used up"),
    ("garbage", "the manifest is not JSON"),
    ("liar", "whose content does not match the digest"),
    ("huge", "at most 4194304 are read"),
])
def test_bad_answers_are_notes_and_unknown(server: LoopbackServer, tmp_path: Path,
                                           repository: str, expected: str) -> None:
    ref = f"127.0.0.1:{server.port}/{repository}/img:1"
    lookups, err = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    assert info.size is None
    assert expected in err
    assert err.startswith("note: ")


def test_anonymous_bearer_token_in_the_token_field(server: LoopbackServer,
                                                   tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/bearer/img:1"
    before = len(server.seen.requests)
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).size == IMAGE.compressed_size, err
    seen = server.seen.requests[before:]
    tokens = [r for r in seen if r[2].startswith("/token?")]
    assert len(tokens) == 1 and tokens[0][3] is None  # anonymous: no credentials configured
    assert "service=svc" in tokens[0][2]
    # 401, then HEAD and GET with the token: the token is fetched once and reused.
    assert [r[3] for r in seen if r[2].startswith("/v2/bearer/")] == [
        None, "Bearer opaque-token-123", "Bearer opaque-token-123"]


def test_429_is_retried_a_bounded_number_of_times(server: LoopbackServer, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/busy/img:1"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).size == IMAGE.compressed_size and err == ""
    overloaded = f"127.0.0.1:{server.port}/overloaded/img:1"
    before = len(server.seen.requests)
    look_up([overloaded], tmp_path)
    attempts = [r for r in server.seen.requests[before:] if r[2].startswith("/v2/overloaded/")]
    assert len(attempts) == 3  # the request and two retries, then give up


def test_missing_digest_header_falls_back_to_hashing_the_body(server: LoopbackServer,
                                                              tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/nodigest/img:1"
    lookups, _ = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    assert info.digest == IMAGE.manifest.digest and info.size == IMAGE.compressed_size


def test_registry_without_head_support(server: LoopbackServer, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/nohead/img:1"
    lookups, err = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    assert (info.digest, info.size, err) == (IMAGE.manifest.digest, IMAGE.compressed_size, "")
    assert info.requests == 2  # the refused HEAD, then one GET whose body gives both answers


def test_rate_limit_header_is_noted(server: LoopbackServer, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/ratelimit/img:1"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest == IMAGE.manifest.digest
    assert "pull rate limit is used up" in err


def test_read_timeout(server: LoopbackServer, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{server.port}/slow/img:1"
    started = time.monotonic()
    lookups, err = look_up([ref], tmp_path, TransportOptions(read_timeout=0.3))
    assert time.monotonic() - started < SLOW_SECONDS
    assert answer(lookups, ref).digest is None
    assert "timed out" in err


def test_total_time_budget(server: LoopbackServer, tmp_path: Path) -> None:
    refs = [f"127.0.0.1:{server.port}/slow/img:{i}" for i in range(3)]
    started = time.monotonic()
    lookups, err = look_up(refs, tmp_path, TransportOptions(read_timeout=5, budget=0.4))
    assert time.monotonic() - started < SLOW_SECONDS
    assert all(answer(lookups, ref).digest is None for ref in refs)
    assert "the time budget for registry lookups (0.4 s) is used up" in err


def test_unresponsive_host_times_out(tmp_path: Path) -> None:
    # A listener that never accepts: the connect may hang (full backlog) or the read does.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            started = time.monotonic()
            lookups, err = look_up([f"127.0.0.1:{port}/x/img:1"], tmp_path,
                                   TransportOptions(connect_timeout=0.3, read_timeout=0.3))
            assert time.monotonic() - started < 3
        finally:
            for filler in fillers:
                filler.close()
    assert answer(lookups, f"127.0.0.1:{port}/x/img:1").digest is None
    assert err.startswith("note: ")


def test_unreachable_registry_is_a_note(tmp_path: Path) -> None:
    port = _closed_port()
    refs = [f"127.0.0.1:{port}/a/img:1", f"127.0.0.1:{port}/b/img:2"]
    lookups, err = look_up(refs, tmp_path)
    assert all(answer(lookups, ref).digest is None for ref in refs)
    assert f"cannot connect to 127.0.0.1:{port}" in err
    assert err.count("note:") == 1 and "(2 images)" in err


def test_redirect_to_another_host_drops_credentials(server: LoopbackServer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    netloc = f"127.0.0.1:{server.port}"
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
        "auths": {netloc: basic_auth_entry()}})))
    before = len(server.seen.requests)
    ref = f"{netloc}/redirect/img:1"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest == IMAGE.manifest.digest, err
    seen = server.seen.requests[before:]
    to_registry = [r for r in seen if r[2].startswith("/v2/redirect/")]
    to_other_host = [r for r in seen if r[1] == f"localhost:{server.port}"]
    assert any(r[3] == BASIC for r in to_registry)
    assert to_other_host and all(r[3] is None for r in to_other_host)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- addresses that are never contacted --

@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket.connect attempted during the test (none reaches the network)."""
    attempted: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: Any) -> None:
        attempted.append(address)
        if address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"test tried to reach {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return attempted


@pytest.mark.parametrize("image", [
    "169.254.169.254/latest/meta-data:1",
    "169.254.169.254:80/x:1",
    "[fe80::1]:5000/x:1",
    "[::ffff:a9fe:a9fe]:5000/x:1",
])
def test_link_local_literals_are_refused(image: str, tmp_path: Path,
                                         connects: list[Any]) -> None:
    lookups, err = look_up([image], tmp_path)
    assert answer(lookups, image).digest is None
    assert "link-local" in err
    assert connects == []


def test_names_resolving_to_link_local_are_refused(tmp_path: Path, connects: list[Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "metadata.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::a9fe:a9fe", port, 0, 2))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    image = "metadata.example.test/x/y:1"
    lookups, err = look_up([image], tmp_path, insecure_registries=("metadata.example.test",))
    assert answer(lookups, image).digest is None
    assert "metadata.example.test is a link-local address" in err
    assert connects == []


def test_mixed_answers_connect_only_to_the_checked_address(connects: list[Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def fake_getaddrinfo(host: str, port_: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port_)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    sock = connect_checked("rebinding.example.test", port, 1.0, 1.0)
    sock.close()
    listener.close()
    assert connects == [("127.0.0.1", port)]


def test_plain_http_refused_for_other_hosts(tmp_path: Path, connects: list[Any]) -> None:
    from valohai_image_lint.registry.transport import RefusedError, Transport

    transport = Transport(TransportOptions())
    with pytest.raises(RefusedError, match="plain HTTP refused"):
        transport.request("GET", "http://registry.example.test/v2/", {}, cap=100)
    assert connects == []
