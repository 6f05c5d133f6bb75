"""Lookups against real ``docker-registry`` processes: manifests, auth, TLS, cache."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Optional

import pytest
from registry_support import (
    PASSWORD,
    RegistryProcess,
    basic_auth_entry,
    docker_config,
)

from conftest import OnlineEnv
from valohai_image_lint.config import Config
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.registry import ImageInfo, LookupRequest, Lookups, lookup_images
from valohai_image_lint.registry.transport import TransportOptions


def look_up(images: list[str], tmp_path: Path, *, want_size: bool = True, offline: bool = False,
            platform: str = "linux/amd64", options: Optional[TransportOptions] = None,
            verbose: bool = False, cache_ttl: int = 86400,
            cache: Optional[Path] = None, progress: bool = False) -> tuple[Lookups, str]:
    config = Config(cache_dir=str(cache or tmp_path / "cache"), platform=platform,
                    cache_ttl=cache_ttl)
    err = io.StringIO()
    requests = [LookupRequest(parse_reference(image), want_size) for image in images]
    lookups = lookup_images(requests, config, offline=offline, verbose=verbose, err=err,
                            options=options, progress=progress)
    return lookups, err.getvalue()


def answer(lookups: Lookups, image: str) -> ImageInfo:
    info = lookups.get(parse_reference(image))
    assert info is not None
    return info


# -- manifests --

def test_docker_and_oci_single_platform_manifests(online_env: OnlineEnv, tmp_path: Path) -> None:
    reg, images = online_env.plain, online_env.images
    docker_ref = f"{reg.netloc}/test/docker-single:1.0"
    oci_ref = f"{reg.netloc}/test/oci-single:1.0"
    lookups, err = look_up([docker_ref, oci_ref], tmp_path)
    docker = answer(lookups, docker_ref)
    assert docker.digest == images.docker_single.manifest.digest
    assert docker.size == images.docker_single.compressed_size
    assert docker.size_platform is None  # a single-platform image
    assert docker.size_source == docker.digest_source == "registry"
    oci = answer(lookups, oci_ref)
    assert oci.digest == images.oci_single.manifest.digest
    assert oci.size == images.oci_single.compressed_size
    assert err == ""


def test_oci_index_picks_platform_and_skips_attestation(online_env: OnlineEnv,
                                                       tmp_path: Path) -> None:
    reg, images = online_env.plain, online_env.images
    ref = f"{reg.netloc}/test/multi:1.0"
    lookups, _ = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    # The digest docker pull records is the index's, the size the platform's.
    assert info.digest == images.multi_index.digest
    assert info.size == images.multi_amd64.compressed_size
    assert info.size_platform == "linux/amd64"
    # HEAD (tag -> digest), GET the index, GET the amd64 manifest.
    assert info.requests == 3

    arm, _ = look_up([ref], tmp_path, platform="linux/arm64", cache=tmp_path / "c2")
    assert answer(arm, ref).size == images.multi_arm64.compressed_size
    arm_v8, _ = look_up([ref], tmp_path, platform="linux/arm64/v8", cache=tmp_path / "c3")
    assert answer(arm_v8, ref).size == images.multi_arm64.compressed_size


def test_platform_missing_from_index_is_unknown_not_a_guess(online_env: OnlineEnv,
                                                           tmp_path: Path) -> None:
    ref = f"{online_env.plain.netloc}/test/multi:1.0"
    lookups, err = look_up([ref], tmp_path, platform="windows/amd64")
    info = answer(lookups, ref)
    assert info.size is None
    assert info.digest == online_env.images.multi_index.digest
    # The attestation entry (unknown/unknown) is not offered as a platform.
    assert "has no windows/amd64 image (platforms: linux/amd64, linux/arm64/v8)" in err


def test_docker_manifest_list(online_env: OnlineEnv, tmp_path: Path) -> None:
    reg, images = online_env.plain, online_env.images
    ref = f"{reg.netloc}/test/multi-docker:2.0"
    lookups, _ = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest == images.docker_list.digest
    assert answer(lookups, ref).size == images.list_amd64.compressed_size
    arm, _ = look_up([ref], tmp_path, platform="linux/arm/v7", cache=tmp_path / "arm")
    assert answer(arm, ref).size == images.list_arm.compressed_size


def test_digest_reference_needs_no_tag_lookup(online_env: OnlineEnv, tmp_path: Path) -> None:
    reg, images = online_env.plain, online_env.images
    ref = f"{reg.netloc}/test/multi:1.0@{images.multi_index.digest}"
    lookups, _ = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    assert info.digest == images.multi_index.digest and info.digest_source is None
    assert info.size == images.multi_amd64.compressed_size


def test_digest_only_lookup_is_one_head(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.plain.netloc}/test/oci-single:1.0"
    lookups, _ = look_up([ref], tmp_path, want_size=False)
    info = answer(lookups, ref)
    assert info.digest == online_env.images.oci_single.manifest.digest and info.size is None
    assert info.requests == 1  # one HEAD


def test_untagged_means_latest_and_duplicates_are_looked_up_once(online_env: OnlineEnv,
                                                                tmp_path: Path) -> None:
    netloc = online_env.plain.netloc
    refs = [f"{netloc}/test/multi", f"{netloc}/test/multi:latest", f"{netloc}/test/multi"]
    lookups, _ = look_up(refs, tmp_path)
    assert len(lookups) == 1
    assert answer(lookups, refs[0]).digest == online_env.images.multi_index.digest


def test_missing_tag_is_a_note_not_an_answer(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.plain.netloc}/test/multi:no-such-tag"
    lookups, err = look_up([ref], tmp_path)
    info = answer(lookups, ref)
    assert info.digest is None and info.size is None
    assert f"note: {ref} not found in the registry" in err


# -- authentication --

def test_basic_auth_from_docker_config(online_env: OnlineEnv, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    reg = online_env.basic
    ref = f"{reg.netloc}/test/docker-single:1.0"
    anonymous, err = look_up([ref], tmp_path)
    assert answer(anonymous, ref).digest is None
    assert "access denied" in err and "no credentials" in err

    # auths keys may be URLs; the path and scheme are ignored.
    config_dir = docker_config(tmp_path / "docker", {
        "auths": {f"http://{reg.netloc}/v2/": basic_auth_entry()}})
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    lookups, err = look_up([ref], tmp_path, verbose=True, cache=tmp_path / "c2")
    info = answer(lookups, ref)
    assert info.digest == online_env.images.docker_single.manifest.digest
    assert info.size == online_env.images.docker_single.compressed_size
    assert PASSWORD not in err and basic_auth_entry()["auth"] not in err


def test_wrong_basic_credentials_are_reported_without_the_secret(
        online_env: OnlineEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = online_env.basic
    ref = f"{reg.netloc}/test/docker-single:1.0"
    config_dir = docker_config(tmp_path / "docker", {
        "auths": {reg.netloc: basic_auth_entry(password="wrong-secret-xyz")}})
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    lookups, err = look_up([ref], tmp_path, verbose=True)
    assert answer(lookups, ref).digest is None
    assert "refused or lack access" in err
    assert "wrong-secret-xyz" not in err


def test_bearer_token_flow_with_token_cache(online_env: OnlineEnv, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reg, images, server = online_env.token, online_env.images, online_env.token_server
    config_dir = docker_config(tmp_path / "docker", {"auths": {reg.netloc: basic_auth_entry()}})
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    ref = f"{reg.netloc}/test/multi:1.0"
    before = len(server.seen.requests)
    lookups, err = look_up([ref], tmp_path, verbose=True)
    info = answer(lookups, ref)
    assert info.digest == images.multi_index.digest
    assert info.size == images.multi_amd64.compressed_size
    token_requests = server.seen.requests[before:]
    # One token for the repository, reused for the HEAD and both GETs (cached until expiry).
    assert len(token_requests) == 1
    method, _, path, authorization = token_requests[0]
    assert method == "GET" and "scope=repository%3Atest%2Fmulti%3Apull" in path
    assert "service=test-registry" in path
    assert authorization is not None and authorization.startswith("Basic ")
    assert PASSWORD not in err and "Bearer" not in err


def test_bearer_token_refused_without_credentials(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.token.netloc}/test/multi:1.0"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest is None
    assert "token service" in err and "refused access" in err


def test_credential_helper_missing_means_anonymous_with_a_note(
        online_env: OnlineEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    basic_ref = f"{online_env.basic.netloc}/test/oci-single:1.0"
    for key, value in (("credHelpers", {online_env.basic.netloc: "definitely-not-installed"}),
                       ("credsStore", "definitely-not-installed")):
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / key, {key: value})))
        lookups, err = look_up([basic_ref], tmp_path)
        assert answer(lookups, basic_ref).digest is None
        assert ("credential helper docker-credential-definitely-not-installed"
                f" (for {online_env.basic.netloc}) is not installed; looking up anonymously"
                ) in err
        assert "access denied" in err


def test_credential_helper_program_is_used(online_env: OnlineEnv, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reg = online_env.basic
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-testhelper"
    log = tmp_path / "helper-input"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 1\ncat > "{log}"\n'
        f"echo '{json.dumps({'ServerURL': reg.netloc, 'Username': 'alice', 'Secret': PASSWORD})}'"
        "\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
        "credHelpers": {reg.netloc: "testhelper"},
        "auths": {reg.netloc: basic_auth_entry(password="not-this-one")}})))
    ref = f"{reg.netloc}/test/oci-single:1.0"
    lookups, err = look_up([ref], tmp_path, verbose=True)
    assert answer(lookups, ref).size == online_env.images.oci_single.compressed_size
    assert log.read_text() == reg.netloc
    assert PASSWORD not in err


# -- TLS --

def test_tls_with_ca_file(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.tls.netloc}/test/oci-single:1.0"
    options = TransportOptions(ca_file=str(online_env.workdir / "ca.pem"))
    lookups, err = look_up([ref], tmp_path, options=options)
    assert answer(lookups, ref).size == online_env.images.oci_single.compressed_size
    assert err == ""


def test_tls_with_ssl_cert_file(online_env: OnlineEnv, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(online_env.workdir / "ca.pem"))
    ref = f"{online_env.tls.netloc}/test/oci-single:1.0"
    lookups, _ = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest == online_env.images.oci_single.manifest.digest


def test_untrusted_certificate_is_never_downgraded(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.tls.netloc}/test/oci-single:1.0"
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).digest is None
    assert "TLS certificate of" in err and "not trusted" in err


# -- cache --

def test_cache_answers_with_the_registry_stopped(online_env: OnlineEnv, tmp_path: Path) -> None:
    registry = RegistryProcess(tmp_path, online_env.storage, name="short-lived")
    images = online_env.images
    ref = f"{registry.netloc}/test/multi:1.0"
    try:
        first, _ = look_up([ref], tmp_path)
    finally:
        registry.stop()
    assert answer(first, ref).size_source == "registry"

    again, err = look_up([ref], tmp_path)
    info = answer(again, ref)
    assert (info.digest, info.size) == (images.multi_index.digest,
                                        images.multi_amd64.compressed_size)
    assert info.digest_source == info.size_source == "cache"
    assert info.requests == 0 and err == ""

    offline, _ = look_up([ref], tmp_path, offline=True)
    assert answer(offline, ref).size == images.multi_amd64.compressed_size

    # The tag answer expired: the registry would be asked, but it is gone. Unknown, with a note.
    expired, err = look_up([ref], tmp_path, cache_ttl=0)
    assert answer(expired, ref).digest is None
    assert f"cannot connect to {registry.netloc}" in err
    # Offline, an expired tag is unknown too; the digest's size still never expires.
    expired_offline, _ = look_up([ref], tmp_path, cache_ttl=0, offline=True)
    assert answer(expired_offline, ref).digest is None
    by_digest = f"{registry.netloc}/test/multi@{images.multi_index.digest}"
    digest_offline, _ = look_up([by_digest], tmp_path, cache_ttl=0, offline=True)
    assert answer(digest_offline, by_digest).size == images.multi_amd64.compressed_size


def test_corrupt_cache_is_ignored_with_a_note(online_env: OnlineEnv, tmp_path: Path) -> None:
    ref = f"{online_env.plain.netloc}/test/oci-single:1.0"
    look_up([ref], tmp_path)
    entries = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == 2  # one tag answer, one size answer
    for entry in entries:
        entry.write_bytes(b"{not json")
    lookups, err = look_up([ref], tmp_path)
    assert answer(lookups, ref).size == online_env.images.oci_single.compressed_size
    assert err.count("is corrupt; ignored") == 2
    # Rewritten atomically: the next run reads it without a note and without the registry.
    lookups, err = look_up([ref], tmp_path, offline=True)
    assert answer(lookups, ref).size_source == "cache" and err == ""


def test_offline_without_cache_is_unknown(tmp_path: Path) -> None:
    lookups, err = look_up(["127.0.0.1:9/test/x:1"], tmp_path, offline=True)
    assert answer(lookups, "127.0.0.1:9/test/x:1").digest is None
    assert err == ("note: 1 image is not in the cache (--offline), so its digest and size are"
                   " unknown; an --online run fills the cache\n")
    _, err = look_up(["127.0.0.1:9/test/x:1"], tmp_path, offline=True, verbose=True)
    assert "lookup 127.0.0.1:9/test/x:1: unknown: 127.0.0.1:9/test/x:1: not in the cache" in err


def test_many_references_are_looked_up_concurrently(online_env: OnlineEnv,
                                                    tmp_path: Path) -> None:
    netloc = online_env.plain.netloc
    refs = [f"{netloc}/test/oci-single:1.0", f"{netloc}/test/docker-single:1.0",
            f"{netloc}/test/multi:1.0", f"{netloc}/test/multi-docker:2.0",
            f"{netloc}/test/multi:latest", f"{netloc}/test/nope:1"]
    lookups, err = look_up(refs, tmp_path, progress=True)
    assert len(lookups) == 6
    assert sum(1 for info in lookups.answers.values() if info.size is not None) == 5
    assert "not found in the registry" in err
