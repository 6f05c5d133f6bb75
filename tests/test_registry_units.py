"""The registry client's pure parts: challenges, credential keys, platforms, addresses.

No registry needed: these run everywhere (tests/online holds what talks to one).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from valohai_image_lint.config import ConfigError, config_from_table, parse_duration
from valohai_image_lint.registry.auth import (
    CredentialStore,
    parse_www_authenticate,
    registry_key,
)
from valohai_image_lint.registry.client import api_host
from valohai_image_lint.registry.manifests import (
    Manifest,
    ManifestError,
    compressed_size,
    parse_manifest,
    select_platform,
)
from valohai_image_lint.registry.transport import (
    is_forbidden_address,
    is_loopback_host,
    split_host_port,
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the real Docker credentials or write the real cache."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def test_docker_hub_challenge() -> None:
    challenge = parse_www_authenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/python:pull"')
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://auth.docker.io/token",
                                "service": "registry.docker.io",
                                "scope": "repository:library/python:pull"}


def test_challenge_with_commas_escapes_and_bare_tokens() -> None:
    challenge = parse_www_authenticate(
        'bearer realm="https://r.example/t?a=1,b=2", service=svc , error="a \\"quoted\\" word"')
    assert challenge is not None
    assert challenge.params["realm"] == "https://r.example/t?a=1,b=2"
    assert challenge.params["service"] == "svc"
    assert challenge.params["error"] == 'a "quoted" word'
    basic = parse_www_authenticate('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic"
    assert parse_www_authenticate("") is None


@pytest.mark.parametrize(("key", "expected"), [
    ("https://index.docker.io/v1/", "docker.io"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("docker.io", "docker.io"),
    ("https://ghcr.io", "ghcr.io"),
    ("http://LOCALHOST:5000/v2/", "localhost:5000"),
    ("myregistry.azurecr.io", "myregistry.azurecr.io"),
])
def test_credential_keys(key: str, expected: str) -> None:
    assert registry_key(key) == expected


def test_docker_hub_api_host() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert api_host("ghcr.io") == "ghcr.io"


def test_docker_hub_credentials_and_inline_username(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pa:ss").decode()},
        "other.example": {"username": "u", "password": "p"},
        "broken.example": {"auth": "!!!"},
    }}))
    notes: list[str] = []
    store = CredentialStore(notes.append, str(tmp_path))
    hub = store.get("docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hub", "pa:ss")
    assert "pa:ss" not in repr(hub)
    other = store.get("other.example")
    assert other is not None and other.username == "u"
    assert store.get("broken.example") is None
    assert store.get("nothing.example") is None
    assert notes == []


def test_unreadable_docker_config_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    notes: list[str] = []
    assert CredentialStore(notes.append, str(tmp_path)).get("ghcr.io") is None
    assert notes and "not valid JSON" in notes[0]


def test_identity_token_from_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = tmp_path / "docker-credential-tok"
    helper.write_text('#!/bin/sh\necho \'{"Username": "<token>", "Secret": "refresh"}\'\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "tok"}))
    notes: list[str] = []
    found = CredentialStore(notes.append, str(tmp_path)).get("x.azurecr.io")
    assert found is not None and found.identity_token == "refresh" and notes == []
    # Never sent as a password, and never shown.
    assert found.basic_header() is None and "refresh" not in repr(found)


def test_identity_token_from_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"x.azurecr.io": {
        "auth": "MDAwMDAwMDAtMDAwMDo=", "identitytoken": "refresh"}}}))
    found = CredentialStore([].append, str(tmp_path)).get("x.azurecr.io")
    assert found is not None and found.identity_token == "refresh"


def _index(*platforms: dict[str, str], annotations: bool = False) -> Manifest:
    entries = []
    for i, platform in enumerate(platforms):
        entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": f"sha256:{i:064x}", "size": 10, "platform": platform}
        if annotations and platform.get("os") == "unknown":
            entry["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
        entries.append(entry)
    body = json.dumps({"schemaVersion": 2, "manifests": entries}).encode()
    return parse_manifest(body, "application/vnd.oci.image.index.v1+json")


def test_platform_selection() -> None:
    index = _index({"os": "unknown", "architecture": "unknown"},
                   {"os": "linux", "architecture": "arm64"},
                   {"os": "linux", "architecture": "arm", "variant": "v6"},
                   {"os": "linux", "architecture": "arm", "variant": "v7"},
                   {"os": "linux", "architecture": "amd64"}, annotations=True)
    assert index.is_index

    def picked(platform: str) -> object:
        entry = select_platform(index, platform)
        return None if entry is None else entry["digest"][-1]

    assert picked("linux/amd64") == "4"
    assert picked("linux/arm64/v8") == "1"  # arm64 without a variant is v8
    assert picked("linux/arm/v7") == "3"
    assert picked("linux/arm") == "2"  # no variant asked: the first arm
    assert picked("linux/s390x") is None


def test_manifest_validation() -> None:
    with pytest.raises(ManifestError, match="schema 1"):
        parse_manifest(b'{"schemaVersion": 1, "fsLayers": []}', None)
    with pytest.raises(ManifestError, match="not a JSON object"):
        parse_manifest(b"[]", None)
    manifest = parse_manifest(json.dumps({
        "schemaVersion": 2, "config": {"size": 5},
        "layers": [{"size": 7}, {"size": -1}]}).encode(), None)
    with pytest.raises(ManifestError, match="no valid size"):
        compressed_size(manifest)


@pytest.mark.parametrize(("address", "forbidden"), [
    ("169.254.169.254", True), ("169.254.0.1", True), ("fe80::1", True), ("fe80::1%eth0", True),
    ("febf::1", True), ("::ffff:169.254.169.254", True), ("127.0.0.1", False),
    ("10.0.0.1", False), ("::1", False), ("fec0::1", False), ("not-an-address", True),
])
def test_link_local_addresses(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(address) is forbidden


def test_loopback_hosts_and_netlocs() -> None:
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.2")
    assert is_loopback_host("[::1]") and not is_loopback_host("example.com")
    assert split_host_port("[::1]:5000", 443) == ("::1", 5000)
    assert split_host_port("host", 443) == ("host", 443)
    assert split_host_port("host:80", 443) == ("host", 80)


def test_cache_ttl_durations() -> None:
    assert parse_duration("24 h") == 86400
    assert parse_duration("30min") == 1800
    assert parse_duration("2 d") == 172800
    assert parse_duration(90) == 90
    for bad in ("soon", -1, True, "5 weeks"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert config_from_table({"cache-ttl": "1 h"}, "x.toml", ".").cache_ttl == 3600
    with pytest.raises(ConfigError, match="'cache-ttl' must be a duration"):
        config_from_table({"cache-ttl": []}, "x.toml", ".")


def test_image_sizes_keys_must_be_images() -> None:
    config = config_from_table({"image-sizes": {"myorg/app": "1 GB", "python:3.11": 5}},
                               "x.toml", ".")
    assert config.image_sizes == (("myorg/app", 10**9), ("python:3.11", 5))
    with pytest.raises(ConfigError, match="'image-sizes' must be a table of image = size whose"
                                          " keys are images"):
        config_from_table({"image-sizes": {"<<registry/image>>": "1 GB"}}, "x.toml", ".")


def test_configured_size_prefers_the_reference_entry() -> None:
    from valohai_image_lint.reference import parse_reference
    from valohai_image_lint.rules.vil020_oversized_image import configured_size, format_size

    config = config_from_table({"image-sizes": {
        "python": "1 GB", "python:3.11": "2 GB", "docker.io/library/python:latest": "3 GB",
        f"python@sha256:{'a' * 64}": "4 GB"}}, "x.toml", ".")

    def size(image: str) -> object:
        return configured_size(parse_reference(image), config)

    assert size("python:3.11") == 2 * 10**9
    assert size("python:3.11@sha256:" + "b" * 64) == 2 * 10**9  # the tag entry still names it
    assert size("python") == 3 * 10**9 and size("python:latest") == 3 * 10**9
    assert size("python:3.12") == 10**9
    assert size("python@sha256:" + "a" * 64) == 4 * 10**9
    assert size("pypy:3") is None
    assert [format_size(n) for n in (999, 4_000_000_000, 8615, 12_345_678)] == [
        "999 B", "4.0 GB", "8.6 kB", "12.3 MB"]
