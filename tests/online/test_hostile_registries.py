"""Registries that attack (issue 10): each numbered case of the issue against a small hostile
server on loopback. Every run must end within its budget plus 2 s, with a ``note:``, the
documented exit code, no traceback, nothing raw from the server on the terminal, and no
credential where it does not belong."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
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
    RawServer,
    Seen,
    SniffingServer,
    basic_auth_entry,
    docker_config,
    is_tls,
    make_image,
    respond,
    self_signed,
    sha256,
)

from valohai_image_lint.cli import main
from valohai_image_lint.config import Config
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.registry import ImageInfo, LookupRequest, Lookups, lookup_images
from valohai_image_lint.registry.cache import AnswerCache
from valohai_image_lint.registry.transport import TransportOptions

IMAGE = make_image("hostile", (900,), oci=True)
OTHER = make_image("hostile-other", (800,), oci=True)
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
DEEP = b"[" * 100_000 + b"]" * 100_000
# Runs under a hostile server must end within the budget plus this.
GRACE = 2.0


def _manifest_with_sizes(*sizes: int) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": IMAGE.manifest.media_type,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": IMAGE.config.digest, "size": 10},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": IMAGE.layers[0].digest, "size": size} for size in sizes],
    }).encode()


def _index(platforms: list[dict[str, str]]) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": IMAGE.manifest.media_type, "digest": IMAGE.manifest.digest,
                       "size": IMAGE.manifest.size, "platform": platform}
                      for platform in platforms]}).encode()


BODIES = {
    "hugesize": _manifest_with_sizes(10**400),
    "bigsize": _manifest_with_sizes(10**30),
    "negsize": _manifest_with_sizes(-5),
    "escapes": _index([{"os": "li\x1b[2Jnux", "architecture": "arm\x07"}]),
    "platforms": _index([{"os": "linux", "architecture": f"arch{i}"} for i in range(10_000)]),
}


BAD_LOCATIONS = ["https://a b/x", "https://[::1/x", "https://\u00e9t\u00e9.example/x",
                 "ftp://x/y", "https://" + "a" * 300 + "/x"]


def _serve_body(handler: BaseHTTPRequestHandler, body: bytes, media_type: str) -> None:
    respond(handler, 200, body, {"Content-Type": media_type, "Docker-Content-Digest": sha256(body)})


def _hostile(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    path = handler.path
    port = handler.server.server_address[1]
    repository = path.split("/")[2] if path.startswith("/v2/") else ""
    if repository in BODIES:
        body = BODIES[repository]
        media_type = ("application/vnd.oci.image.index.v1+json" if b'"manifests"' in body
                      else IMAGE.manifest.media_type)
        _serve_body(handler, body, media_type)
    elif repository == "baddigest":
        respond(handler, 200, IMAGE.manifest.data if handler.command == "GET" else b"",
                {"Content-Type": IMAGE.manifest.media_type,
                 "Docker-Content-Digest": "sha256:x' # \"pwn"})
    elif repository == "mismatch":
        # The tag names OTHER's digest; asked for that digest, the body is IMAGE's manifest.
        respond(handler, 200, IMAGE.manifest.data if handler.command == "GET" else b"",
                {"Content-Type": IMAGE.manifest.media_type,
                 "Docker-Content-Digest": OTHER.manifest.digest})
    elif repository == "deepmanifest":
        respond(handler, 200, DEEP if handler.command == "GET" else b"",
                {"Content-Type": IMAGE.manifest.media_type})
    elif repository == "escape":
        respond(handler, 200, b"", {"Docker-Content-Digest": "sha256:\x1b]0;pwned\x07"})
    elif repository in ("deeptoken", "crlftoken", "latin1token"):
        if handler.headers.get("Authorization", "").startswith("Bearer "):
            _serve_body(handler, IMAGE.manifest.data, IMAGE.manifest.media_type)
            return
        realm = f"http://127.0.0.1:{port}/service/{repository}"
        respond(handler, 401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
    elif path.startswith("/service/"):
        kind = path.split("/")[2].split("?")[0]
        body = {"deeptoken": DEEP,
                "crlftoken": json.dumps({"token": "abc\r\nX-Injected: 1"}).encode(),
                "latin1token": json.dumps({"token": "t\u00f6k\u00e9n\u20ac"}).encode()}[kind]
        respond(handler, 200, body, {"Content-Type": "application/json"})
    elif repository == "location":
        index = int(path.split("/")[3])
        respond(handler, 302, b"", {"Location": BAD_LOCATIONS[index].encode().decode("latin-1")})
    elif repository == "basic":
        respond(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="basic"'})
    else:
        respond(handler, 404, b"")


@pytest.fixture(scope="module")
def hostile() -> Iterator[LoopbackServer]:
    server = LoopbackServer(_hostile)
    yield server
    server.close()


# -- helpers ---------------------------------------------------------------------------------------

def look_up(images: list[str], tmp_path: Path, options: Optional[TransportOptions] = None,
            want_size: bool = True, **config: Any) -> tuple[Lookups, str, float]:
    err = io.StringIO()
    requests = [LookupRequest(parse_reference(image), want_size) for image in images]
    started = time.monotonic()
    lookups = lookup_images(requests, Config(cache_dir=str(tmp_path / "cache"), **config),
                            offline=False, err=err, options=options, progress=False)
    return lookups, err.getvalue(), time.monotonic() - started


def answer(lookups: Lookups, image: str) -> ImageInfo:
    info = lookups.get(parse_reference(image))
    assert info is not None
    return info


def assert_clean(err: str) -> None:
    """A note, and nothing that reads as a crash or reaches the terminal raw."""
    assert "note: " in err, err
    assert "Traceback" not in err and "unexpectedly" not in err, err
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in err), repr(err)
    assert all(len(line) < 1000 for line in err.splitlines()), max(map(len, err.splitlines()))


def project(tmp_path: Path, image: str) -> tuple[Path, Path]:
    directory = tmp_path / "project"
    directory.mkdir(exist_ok=True)
    target = directory / "valohai.yaml"
    target.write_text(f"- step:\n    name: s\n    image: {image}\n")
    settings = directory / ".valohai-image-lint.toml"
    settings.write_text(f'cache-dir = "{tmp_path / "cache"}"\nmax-image-size = "1 kB"\n')
    return target, settings


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str,
        budget: float = 3.0, read_timeout: float = 15.0) -> tuple[int, str, str, float]:
    """``main`` in this process, with a short total budget for the lookups."""
    # lookup.py imports the transport module only online, when it reads TransportOptions.
    from valohai_image_lint.registry import transport as transport_module

    real = TransportOptions
    monkeypatch.setattr(transport_module, "TransportOptions", lambda **kwargs: real(
        budget=budget, read_timeout=read_timeout, **kwargs))
    started = time.monotonic()
    code = main(list(argv))
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    return code, captured.out, captured.err, elapsed


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every socket.connect attempted; anything but loopback fails the test."""
    attempted: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: Any) -> None:
        attempted.append(address)
        if address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"test tried to reach {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return attempted


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``name`` resolves to 127.0.0.1: a host the linter must treat as a remote one."""
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


# -- 1. credentials reach only the registry and the token service in its own challenge ----------

def test_challenge_from_a_host_reached_by_redirect_gets_no_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def other_host(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        port = handler.server.server_address[1]
        if handler.path.startswith("/token"):
            respond(handler, 200, b'{"token": "t"}', {"Content-Type": "application/json"})
        else:
            respond(handler, 401, b"", {"WWW-Authenticate":
                                        f'Bearer realm="http://localhost:{port}/token"'})

    b_server = LoopbackServer(other_host)

    def registry(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        respond(handler, 307, b"",
                {"Location": f"http://localhost:{b_server.port}{handler.path}"})

    a_server = LoopbackServer(registry)
    try:
        netloc = f"127.0.0.1:{a_server.port}"
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
            "auths": {netloc: basic_auth_entry()}})))
        image = f"{netloc}/team/app:1"
        lookups, err, _ = look_up([image], tmp_path)
        assert answer(lookups, image).digest is None
        assert all(request[3] is None for request in b_server.seen.requests), \
            b_server.seen.requests
        assert not any(r[2].startswith("/token") for r in b_server.seen.requests)
        assert "credentials go only to the registry itself" in err
        assert_clean(err)
    finally:
        a_server.close()
        b_server.close()


# -- 2. one deadline for everything, and Ctrl-C ---------------------------------------------------

def _dribble(connection: socket.socket) -> None:
    """Plain HTTP: one header byte every 0.2 s, for ever. TLS: a quick refusal."""
    if connection.recv(1, socket.MSG_PEEK) == b"\x16":
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    while True:
        connection.sendall(b"X")
        time.sleep(0.2)


@pytest.fixture
def dribbler() -> Iterator[RawServer]:
    server = RawServer(_dribble)
    yield server
    server.close()


def test_a_server_dribbling_its_headers_is_cut_at_the_budget(
        dribbler: RawServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = project(tmp_path, f"127.0.0.1:{dribbler.port}/slow/app:1")
    code, out, err, elapsed = cli(monkeypatch, capsys, "--online", "--config", str(settings),
                                  str(target), budget=2.0, read_timeout=5.0)
    print(f"dribbled headers, budget 2 s: run ended after {elapsed:.2f} s")
    assert elapsed < 2.0 + GRACE, elapsed
    assert code == 0, out
    assert "the time budget for registry lookups (2 s) is used up" in err
    assert_clean(err)


def _dribble_tls(connection: socket.socket) -> None:
    """A ServerHello record that never ends: one byte every 0.2 s."""
    connection.recv(65536)
    connection.sendall(b"\x16\x03\x03\x01\x00\x02")
    while True:
        connection.sendall(b"\x00")
        time.sleep(0.2)


def test_a_server_dribbling_its_tls_handshake_is_cut_at_the_budget(tmp_path: Path) -> None:
    server = RawServer(_dribble_tls)
    try:
        image = f"127.0.0.1:{server.port}/slow/app:1"
        lookups, err, elapsed = look_up([image], tmp_path,
                                        TransportOptions(budget=2.0, read_timeout=5.0))
        connections = server.connections
    finally:
        server.close()
    assert elapsed < 2.0 + GRACE, elapsed
    assert connections == 1  # the handshake was cut, no plain-HTTP request followed
    assert answer(lookups, image).digest is None
    assert "the time budget for registry lookups (2 s) is used up" in err
    assert_clean(err)


def test_ctrl_c_stops_an_online_run_within_a_second(dribbler: RawServer,
                                                    tmp_path: Path) -> None:
    target, settings = project(tmp_path, f"127.0.0.1:{dribbler.port}/slow/app:1")
    process = subprocess.Popen(
        [sys.executable, "-m", "valohai_image_lint", "--online", "--config", str(settings),
         str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while dribbler.connections < 2 and time.monotonic() < deadline:  # probe, then request
            time.sleep(0.05)
        time.sleep(0.5)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, err = process.communicate(timeout=10)
        stopped = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    print(f"Ctrl-C: the run stopped {stopped:.2f} s after SIGINT")
    assert stopped < 1.0, stopped
    assert process.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "error: interrupted"
    assert b"Traceback" not in err


def test_a_stalled_name_lookup_is_cut_at_the_budget(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    connects: list[Any]) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def stalled_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stalled-dns.example.test":
            time.sleep(30)  # a resolver that never answers
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled_getaddrinfo)
    image = "stalled-dns.example.test/team/app:1"
    lookups, err, elapsed = look_up([image], tmp_path, TransportOptions(budget=1.0))
    assert elapsed < 1.0 + GRACE, elapsed
    assert answer(lookups, image).digest is None
    assert "the time budget for registry lookups (1 s) is used up" in err
    assert connects == []
    assert_clean(err)


# -- 3. no downgrade to plain HTTP, no credentials over plain HTTP ---------------------------------

def test_a_tls_registry_cannot_downgrade_to_plain_http(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plain: list[Optional[str]] = []

    def registry(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        port = handler.server.server_address[1]
        if not is_tls(handler):
            plain.append(handler.headers.get("Authorization"))
            respond(handler, 200, IMAGE.manifest.data,
                    {"Content-Type": IMAGE.manifest.media_type,
                     "Docker-Content-Digest": IMAGE.manifest.digest})
        elif handler.headers.get("Authorization") != BASIC:
            respond(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="r"'})
        else:
            respond(handler, 307, b"", {"Location": f"http://127.0.0.1:{port}{handler.path}"})

    keys = self_signed("127.0.0.1", ip="127.0.0.1")
    server = SniffingServer(registry, keys, tmp_path)
    try:
        netloc = f"127.0.0.1:{server.port}"
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
            "auths": {netloc: basic_auth_entry()}})))
        image = f"{netloc}/team/app:1"
        options = TransportOptions(ca_file=str(tmp_path / "sniff-cert.pem"),
                                   insecure_registries=(netloc,))
        lookups, err, _ = look_up([image], tmp_path, options)
        assert any(r[3] == BASIC for r in server.seen.requests)  # TLS: the registry's own
        assert plain == []
        assert answer(lookups, image).digest is None
        assert "spoke TLS earlier in this run; plain HTTP to it refused" in err
        assert_clean(err)
    finally:
        server.close()


def test_credentials_never_travel_over_plain_http_to_a_remote_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: list[Any]) -> None:
    def registry(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        respond(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="r"'})

    server = LoopbackServer(registry)
    try:
        netloc = f"insecure.example.test:{server.port}"
        resolve_to_loopback(monkeypatch, "insecure.example.test")
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
            "auths": {netloc: basic_auth_entry()}})))
        image = f"{netloc}/team/app:1"
        _, err, _ = look_up([image], tmp_path, insecure_registries=(netloc,))
        assert server.seen.requests and all(r[3] is None for r in server.seen.requests)
        assert "its credentials are not sent over plain HTTP" in err
        assert_clean(err)
    finally:
        server.close()


# -- 4. sizes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("repository", ["hugesize", "bigsize", "negsize"])
def test_impossible_sizes_are_bad_answers(hostile: LoopbackServer, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          repository: str) -> None:
    target, settings = project(tmp_path, f"127.0.0.1:{hostile.port}/{repository}/app:1")
    for mode in ("--online", "--offline"):  # and nothing bad was cached for the next run
        code, out, err, _ = cli(monkeypatch, capsys, mode, "--config", str(settings),
                                str(target))
        assert code == 0, out
        assert "VIL020" not in out
    code, out, err, _ = cli(monkeypatch, capsys, "--online", "--config", str(settings),
                            str(target))
    assert "has no valid size (a non-negative integer below 1 PiB)" in err
    assert_clean(err)


def test_a_planted_huge_size_in_the_cache_is_ignored(hostile: LoopbackServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    image = f"127.0.0.1:{hostile.port}/team/app@{IMAGE.manifest.digest}"
    target, settings = project(tmp_path, image)
    cache = AnswerCache(str(tmp_path / "cache"), 60.0, lambda _: None)
    path = cache._path("sizes", f"{IMAGE.manifest.digest} linux/amd64")
    path.parent.mkdir(parents=True)
    path.write_text(f'{{"key": "{IMAGE.manifest.digest} linux/amd64", "size": {10**400},'
                    ' "platform": null, "stored": 1}')
    code, out, err, _ = cli(monkeypatch, capsys, "--offline", "--config", str(settings),
                            str(target))
    assert code == 0 and "VIL020" not in out
    assert "is corrupt; ignored" in err
    assert_clean(err)


# -- 5. digests ----------------------------------------------------------------------------------

def _pin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: Path,
         settings: Path, mode: str = "--online") -> tuple[int, str, str]:
    code, out, err, _ = cli(monkeypatch, capsys, mode, "--fix", "--unsafe-fixes", "--select",
                            "VIL003,VIL020", "--config", str(settings), str(target))
    return code, out, err


def test_an_invalid_digest_header_is_never_pinned(hostile: LoopbackServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = project(tmp_path, f"127.0.0.1:{hostile.port}/baddigest/app:1")
    before = target.read_bytes()
    code, out, err = _pin(monkeypatch, capsys, target, settings)
    assert target.read_bytes() == before
    assert code == 1 and "VIL003" in out
    assert "is not a valid digest" in err
    assert_clean(err)
    assert not list((tmp_path / "cache").rglob("*.json")) or all(
        "pwn" not in p.read_text() for p in (tmp_path / "cache").rglob("*.json"))


def test_a_digest_that_does_not_match_its_content_is_never_pinned(
        hostile: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = project(tmp_path, f"127.0.0.1:{hostile.port}/mismatch/app:1")
    before = target.read_bytes()
    code, out, err = _pin(monkeypatch, capsys, target, settings)
    assert target.read_bytes() == before, target.read_text()
    assert code == 1 and "VIL003" in out
    assert "whose content does not match the digest" in err
    assert_clean(err)
    # Nor is the tag's answer kept for the next run.
    code, out, err = _pin(monkeypatch, capsys, target, settings, "--offline")
    assert target.read_bytes() == before


def test_a_planted_digest_with_a_newline_is_never_pinned(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    name = "127.0.0.1:5999/team/app"
    target, settings = project(tmp_path, f"{name}:1")
    cache = AnswerCache(str(tmp_path / "cache"), 60.0, lambda _: None)
    path = cache._path("tags", f"{name}:1")
    path.parent.mkdir(parents=True)
    digest = IMAGE.manifest.digest + "\n  evil: true"
    path.write_text(json.dumps({"key": f"{name}:1", "digest": digest, "stored": time.time()}))
    before = target.read_bytes()
    code, _, err = _pin(monkeypatch, capsys, target, settings, "--offline")
    assert target.read_bytes() == before
    assert code == 1 and "is corrupt; ignored" in err
    assert_clean(err)


# -- 6. address classes ----------------------------------------------------------------------------

def test_a_redirect_never_leads_from_a_named_host_to_loopback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connects: list[Any]) -> None:
    internal = LoopbackServer(lambda handler, seen: respond(handler, 200, b"secret"))

    def registry(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        respond(handler, 307, b"", {"Location": f"http://127.0.0.1:{internal.port}/admin"})

    server = LoopbackServer(registry)
    try:
        netloc = f"registry.example.test:{server.port}"
        resolve_to_loopback(monkeypatch, "registry.example.test")
        image = f"{netloc}/team/app:1"
        lookups, err, _ = look_up([image], tmp_path, insecure_registries=(netloc,))
        assert server.seen.requests  # the registry the image names is reached ...
        assert internal.seen.requests == []  # ... but not the service it points at
        assert answer(lookups, image).digest is None
        assert "127.0.0.1 is a loopback or private address that the image does not name" in err
        assert_clean(err)
    finally:
        server.close()
        internal.close()


@pytest.mark.parametrize(("image", "kind"), [
    ("0.0.0.0:{port}/x:1", "an unspecified address"),
    ("[::]:{port}/x:1", "an unspecified address"),
    ("[::ffff:0:0]:{port}/x:1", "an unspecified address"),
    ("[fd00:ec2::254]:{port}/x:1", "a cloud metadata address"),
    ("[64:ff9b::a9fe:a9fe]:{port}/x:1", "a link-local address"),
    ("[64:ff9b::]:{port}/x:1", "an unspecified address"),
])
def test_refused_address_classes_are_never_connected(image: str, kind: str, tmp_path: Path,
                                                     connects: list[Any]) -> None:
    # A listener on loopback: on Linux, 0.0.0.0 and :: would reach it.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        image = image.format(port=listener.getsockname()[1])
        lookups, err, elapsed = look_up([image], tmp_path,
                                        TransportOptions(budget=5.0), insecure_registries=(
                                            parse_reference(image).domain,))
    assert connects == []
    assert answer(lookups, image).digest is None
    assert f"is {kind}; such hosts are never contacted" in err
    assert elapsed < 5.0
    assert_clean(err)


# -- 7. credential helpers share the deadline ------------------------------------------------------

def test_stalled_credential_helpers_share_the_budget(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-stall"
    pids = tmp_path / "helper-pids"
    helper.write_text(f"#!/bin/sh\necho $$ >> {pids}\nexec sleep 60\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
        "credsStore": "stall"})))
    servers = [LoopbackServer(lambda handler, seen: respond(
        handler, 401, b"", {"WWW-Authenticate": 'Basic realm="r"'})) for _ in range(6)]
    try:
        images = [f"127.0.0.1:{server.port}/team/app:1" for server in servers]
        lookups, err, elapsed = look_up(images, tmp_path, TransportOptions(budget=2.0))
    finally:
        for server in servers:
            server.close()
    print(f"6 stalled credential helpers, budget 2 s: lookups ended after {elapsed:.2f} s")
    assert elapsed < 2.0 + GRACE, elapsed
    assert all(answer(lookups, image).digest is None for image in images)
    assert "docker-credential-stall did not answer in time" in err
    assert_clean(err)
    started = pids.read_text().split()
    assert len(started) == 6  # one per registry, all at once
    for pid in started:  # every helper was killed and reaped at the deadline
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


# -- 9. nothing raw on the terminal ----------------------------------------------------------------

def test_control_characters_from_a_registry_are_escaped(hostile: LoopbackServer,
                                                        tmp_path: Path) -> None:
    images = [f"127.0.0.1:{hostile.port}/escape/app:1", f"127.0.0.1:{hostile.port}/escapes/app:1"]
    _, err, _ = look_up(images, tmp_path)
    assert "sha256:\\x1b]0;pwned\\x07" in err
    assert "li\\x1b[2Jnux/arm\\x07" in err
    assert_clean(err)


def test_ten_thousand_platforms_make_one_short_note(hostile: LoopbackServer,
                                                    tmp_path: Path) -> None:
    image = f"127.0.0.1:{hostile.port}/platforms/app:1"
    _, err, _ = look_up([image], tmp_path)
    assert "has no linux/amd64 image (platforms: linux/arch0, linux/arch1" in err
    assert "and 9988 more)" in err
    assert_clean(err)


# -- 10. the cache ---------------------------------------------------------------------------------

def test_a_fifo_at_a_cache_entry_does_not_hang(tmp_path: Path) -> None:
    name = "127.0.0.1:5999/team/app"
    target, settings = project(tmp_path, f"{name}:1")
    cache = AnswerCache(str(tmp_path / "cache"), 60.0, lambda _: None)
    path = cache._path("tags", f"{name}:1")
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    run = subprocess.run([sys.executable, "-m", "valohai_image_lint", "--offline", "--select",
                          "VIL003", "--config", str(settings), str(target)],
                         capture_output=True, timeout=20, check=False)
    err = run.stderr.decode()
    assert run.returncode == 1
    assert "is not a regular file; ignored" in err
    assert_clean(err)


def test_the_cache_directory_is_private(hostile: LoopbackServer, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    (root / "v1").mkdir(parents=True, mode=0o755)  # as an older version left it
    root.chmod(0o700)
    (root / "v1").chmod(0o755)
    look_up([f"127.0.0.1:{hostile.port}/bigsize/app:1"], tmp_path)
    directories = [root, *[p for p in root.rglob("*") if p.is_dir()]]
    assert len(directories) >= 3
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in directories)


# -- 12. hostile JSON and tokens are bad answers, not crashes -------------------------------------

@pytest.mark.parametrize(("repository", "expected"), [
    ("deepmanifest", "the manifest is unusable: JSON nested deeper than 32 levels"),
    ("deeptoken", "sent an unreadable answer (JSON nested deeper than 32 levels)"),
    ("crlftoken", "sent a token that cannot be sent in a header"),
    ("latin1token", "sent a token that cannot be sent in a header"),
])
def test_hostile_json_and_tokens_are_bad_answers(hostile: LoopbackServer, tmp_path: Path,
                                                 repository: str, expected: str) -> None:
    image = f"127.0.0.1:{hostile.port}/{repository}/app:1"
    lookups, err, _ = look_up([image], tmp_path)
    assert answer(lookups, image).digest is None
    assert expected in err
    assert_clean(err)


@pytest.mark.parametrize("index", range(len(BAD_LOCATIONS)))
def test_unusable_redirects_are_bad_answers(hostile: LoopbackServer, tmp_path: Path,
                                            index: int) -> None:
    image = f"127.0.0.1:{hostile.port}/location/{index}:1"
    lookups, err, _ = look_up([image], tmp_path)
    assert answer(lookups, image).digest is None
    assert "unusable address" in err or "unsupported URL scheme" in err
    assert_clean(err)


def test_a_deeply_nested_docker_config_is_a_note(hostile: LoopbackServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_bytes(DEEP)
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    image = f"127.0.0.1:{hostile.port}/basic/app:1"
    _, err, _ = look_up([image], tmp_path)
    assert "cannot read Docker credentials (JSON nested deeper than 32 levels)" in err
    assert_clean(err)


def test_a_deeply_nested_cache_entry_is_ignored(tmp_path: Path) -> None:
    name = "127.0.0.1:5999/team/app"
    cache = AnswerCache(str(tmp_path / "cache"), 60.0, lambda _: None)
    path = cache._path("tags", f"{name}:1")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"[" * 5000 + b"]" * 5000)
    err = io.StringIO()
    lookups = lookup_images([LookupRequest(parse_reference(f"{name}:1"), False)],
                            Config(cache_dir=str(tmp_path / "cache")), offline=True, err=err,
                            progress=False)
    assert answer(lookups, f"{name}:1").digest is None
    assert "is corrupt; ignored" in err.getvalue()
    assert_clean(err.getvalue())

