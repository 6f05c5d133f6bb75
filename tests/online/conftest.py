"""Session fixtures: real ``docker-registry`` processes on loopback, sharing one storage.

Images are pushed once into a plain registry; the Basic-auth, token-auth and TLS registries
serve the same storage directory, so every registry holds every image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from registry_support import (
    HTPASSWD_BIN,
    PASSWORD,
    REGISTRY_BIN,
    USER,
    Blob,
    Image,
    KeyPair,
    LoopbackServer,
    RegistryProcess,
    bcrypt_htpasswd,
    make_image,
    make_index,
    push_image,
    push_manifest,
    self_signed,
    token_handler,
)

try:
    import cryptography  # noqa: F401

    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the test extra installs it
    HAVE_CRYPTOGRAPHY = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [name for name, present in (("docker-registry", REGISTRY_BIN),
                                          ("htpasswd (apache2-utils)", HTPASSWD_BIN),
                                          ("cryptography", HAVE_CRYPTOGRAPHY)) if not present]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"online tests need {', '.join(missing)}"
                            " (apt-get install -y docker-registry apache2-utils)")
    here = Path(__file__).parent
    for item in items:
        # Only what uses the real registries; the loopback servers written in Python run
        # everywhere.
        if here in Path(str(item.fspath)).parents and "online_env" in getattr(
                item, "fixturenames", ()):
            item.add_marker(skip)


@dataclass(frozen=True)
class Catalogue:
    """What was pushed: repositories, tags and the images (so digests and sizes are known)."""

    docker_single: Image
    oci_single: Image
    multi_amd64: Image
    multi_arm64: Image
    attestation: Image
    multi_index: Blob
    list_amd64: Image
    list_arm: Image
    docker_list: Blob


@dataclass(frozen=True)
class OnlineEnv:
    plain: RegistryProcess
    basic: RegistryProcess
    token: RegistryProcess
    tls: RegistryProcess
    token_server: LoopbackServer
    tls_keys: KeyPair
    images: Catalogue
    storage: Path
    workdir: Path


def _catalogue() -> Catalogue:
    multi_amd64 = make_image("multi-amd64", (6000, 2000), oci=True)
    multi_arm64 = make_image("multi-arm64", (1000,), oci=True, architecture="arm64")
    attestation = make_image("attestation", (700,), oci=True, os_name="unknown",
                             architecture="unknown")
    multi_index = make_index(
        [(multi_amd64, {"os": "linux", "architecture": "amd64"}),
         (multi_arm64, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
         (attestation, {"os": "unknown", "architecture": "unknown"})],
        oci=True,
        extra_annotations=[None, None, {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": multi_amd64.manifest.digest}])
    list_amd64 = make_image("list-amd64", (2500,), oci=False)
    list_arm = make_image("list-arm", (1500,), oci=False, architecture="arm")
    docker_list = make_index(
        [(list_arm, {"os": "linux", "architecture": "arm", "variant": "v7"}),
         (list_amd64, {"os": "linux", "architecture": "amd64"})], oci=False)
    return Catalogue(
        docker_single=make_image("docker-single", (3000, 5000), oci=False),
        oci_single=make_image("oci-single", (4000,), oci=True),
        multi_amd64=multi_amd64, multi_arm64=multi_arm64, attestation=attestation,
        multi_index=multi_index, list_amd64=list_amd64, list_arm=list_arm,
        docker_list=docker_list)


def push_catalogue(base: str, images: Catalogue) -> None:
    push_image(base, "test/docker-single", images.docker_single, "1.0")
    push_image(base, "test/oci-single", images.oci_single, "1.0")
    for child in (images.multi_amd64, images.multi_arm64, images.attestation):
        push_image(base, "test/multi", child, None)
    for tag in ("1.0", "latest"):
        push_manifest(base, "test/multi", tag, images.multi_index)
    for child in (images.list_amd64, images.list_arm):
        push_image(base, "test/multi-docker", child, None)
    push_manifest(base, "test/multi-docker", "2.0", images.docker_list)


@pytest.fixture(scope="session")
def online_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnlineEnv]:
    workdir = tmp_path_factory.mktemp("registries")
    storage = workdir / "storage"
    images = _catalogue()
    started: list[RegistryProcess] = []
    token_keys = self_signed("test token signer")
    (workdir / "token-bundle.pem").write_bytes(token_keys.cert_pem)
    token_server = LoopbackServer(token_handler(token_keys))
    try:
        plain = RegistryProcess(workdir, storage, name="plain")
        started.append(plain)
        push_catalogue(plain.base, images)
        basic = RegistryProcess(workdir, storage, htpasswd=bcrypt_htpasswd(USER, PASSWORD),
                                name="basic")
        started.append(basic)
        token = RegistryProcess(
            workdir, storage, name="token",
            token=(f"http://127.0.0.1:{token_server.port}/token", workdir / "token-bundle.pem"))
        started.append(token)
        tls_keys = self_signed("127.0.0.1", ip="127.0.0.1")
        tls = RegistryProcess(workdir, storage, tls=tls_keys, name="tls")
        started.append(tls)
        (workdir / "ca.pem").write_bytes(tls_keys.cert_pem)
        yield OnlineEnv(plain, basic, token, tls, token_server, tls_keys, images, storage,
                        workdir)
    finally:
        for process in started:
            process.stop()
        token_server.close()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the real Docker credentials or write the real cache."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
