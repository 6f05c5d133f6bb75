"""Will it start? VIL013-VIL016 against real registries on loopback, online and from the cache.

The images are pushed into the session's shared storage under ``check/``, so the plain, the
Basic-auth and the token-auth registries all serve them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from registry_support import (
    IDENTITY_TOKEN,
    PASSWORD,
    Blob,
    Image,
    LoopbackServer,
    Seen,
    basic_auth_entry,
    docker_config,
    make_image,
    make_index,
    push_image,
    push_manifest,
    respond,
)

from conftest import OnlineEnv
from valohai_image_lint.cli import main
from valohai_image_lint.registry import tags as tags_module

NEAR_TAGS = ("2.2.0-cuda12.1-cudnn8-runtime", "2.2.0-cuda12.1-cudnn8-devel",
             "2.1.0-cuda11.8-cudnn8-runtime")
FILLERS = tuple(f"filler-{i:02d}" for i in range(25))
MISSING_DIGEST = "sha256:" + "de" * 32


@dataclass(frozen=True)
class Pushed:
    near: Image
    arm64_only: Image
    no_amd64: Blob
    old_index: Blob
    old_amd64: Image
    shared_arm64: Image
    new_index: Blob
    new_amd64: Image


@pytest.fixture(scope="module")
def pushed(online_env: OnlineEnv) -> Pushed:
    base = online_env.plain.base
    near = make_image("near", (500,), oci=True)
    push_image(base, "check/pytorch", near, None)
    for tag in NEAR_TAGS + FILLERS:
        push_manifest(base, "check/pytorch", tag, near.manifest)

    arm64_only = make_image("arm64-only", (400,), oci=False, architecture="arm64")
    push_image(base, "check/arm64-only", arm64_only, "1.0")

    arm64 = make_image("no-amd64-arm64", (300,), oci=True, architecture="arm64")
    arm = make_image("no-amd64-arm", (300,), oci=True, architecture="arm")
    for child in (arm64, arm):
        push_image(base, "check/no-amd64", child, None)
    no_amd64 = make_index([(arm64, {"os": "linux", "architecture": "arm64"}),
                           (arm, {"os": "linux", "architecture": "arm", "variant": "v7"})],
                          oci=True)
    push_manifest(base, "check/no-amd64", "1.0", no_amd64)

    # A tag re-pushed: the pins written against the old index go stale.
    old_amd64 = make_image("moving-old-amd64", (600,), oci=True)
    shared_arm64 = make_image("moving-arm64", (200,), oci=True, architecture="arm64")
    new_amd64 = make_image("moving-new-amd64", (650,), oci=True)
    for child in (old_amd64, shared_arm64, new_amd64):
        push_image(base, "check/moving", child, None)
    old_index = make_index([(old_amd64, {"os": "linux", "architecture": "amd64"}),
                            (shared_arm64, {"os": "linux", "architecture": "arm64"})], oci=True)
    new_index = make_index([(new_amd64, {"os": "linux", "architecture": "amd64"}),
                            (shared_arm64, {"os": "linux", "architecture": "arm64"})], oci=True)
    push_manifest(base, "check/moving", "1.0", old_index)
    push_manifest(base, "check/moving", "1.0", new_index)
    return Pushed(near, arm64_only, no_amd64, old_index, old_amd64, shared_arm64, new_index,
                  new_amd64)


def write_project(tmp_path: Path, images: list[str], config: str = "") -> tuple[Path, Path]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    target = project / "valohai.yaml"
    target.write_text("".join(f"- step:\n    name: s{i}\n    image: {image}\n"
                              f"    command: run\n" for i, image in enumerate(images)))
    settings = project / ".valohai-image-lint.toml"
    settings.write_text(f'cache-dir = "{tmp_path / "cache"}"\n'
                        'select = ["VIL013", "VIL014", "VIL015", "VIL016"]\n'
                        + textwrap.dedent(config))
    return target, settings


def lint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any], str]:
    code = main(["--format", "json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def by_line(found: list[Any]) -> dict[int, tuple[str, str]]:
    """Line of the image -> (code, message); one finding per line in these projects."""
    result: dict[int, tuple[str, str]] = {}
    for item in found:
        assert item["line"] not in result, found
        result[item["line"]] = (item["code"], item["message"])
    return result


def line_of(index: int) -> int:
    return 3 + 4 * index


# -- VIL013, VIL014, VIL015 on the plain registry ------------------------------------------------

def test_each_problem_is_found_online_then_from_the_cache(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    images = [
        f"{host}/check/pytorch:2.2.0-cuda12.1-cudnn8-runtim",  # 0 tag missing, near tags
        f"{host}/check/nope:1.0",  # 1 repository missing
        f"{host}/check/arm64-only:1.0",  # 2 single manifest for arm64
        f"{host}/check/no-amd64:1.0",  # 3 index without amd64
        f"{host}/check/moving:1.0@{pushed.old_index.digest}",  # 4 stale index pin
        f"{host}/check/moving:1.0@{pushed.old_amd64.manifest.digest}",  # 5 stale amd64 pin
        f"{host}/check/moving:1.0@{pushed.new_index.digest}",  # 6 current index pin
        f"{host}/check/moving:1.0@{pushed.new_amd64.manifest.digest}",  # 7 current amd64 pin
        f"{host}/check/moving:1.0@{MISSING_DIGEST}",  # 8 digest missing
        f"{host}/check/pytorch:{NEAR_TAGS[0]}",  # 9 fine
        f"{host}/test/multi:1.0",  # 10 fine
    ]
    target, settings = write_project(tmp_path, images)
    expected = {
        line_of(0): ("VIL013", "tag '2.2.0-cuda12.1-cudnn8-runtim' of"
                               f" {host}/check/pytorch does not exist"),
        line_of(1): ("VIL013", f"repository {host}/check/nope does not exist"),
        line_of(2): ("VIL014", f"{host}/check/arm64-only:1.0 has no linux/amd64 image"
                               " (only linux/arm64)"),
        line_of(3): ("VIL014", f"{host}/check/no-amd64:1.0 has no linux/amd64 image"
                               " (only linux/arm64, linux/arm/v7)"),
        line_of(4): ("VIL015", f"index digest pinned for {host}/check/moving:1.0 is stale"),
        line_of(5): ("VIL015", f"platform digest pinned for {host}/check/moving:1.0 is stale"),
        line_of(8): ("VIL013", f"digest sha256:{'de' * 6}… of {host}/check/moving does not"
                               " exist"),
    }
    code, found, err = lint(capsys, "--online", "-v", "--config", str(settings), str(target))
    assert by_line(found) == expected, err
    assert code == 1
    # Short messages: at most 80 characters for a name as long as `pytorch/pytorch`.
    assert all(len(item["message"].replace(f"{host}/check/", "pytorch/")) <= 80
               for item in found)
    # The help names the closest tags, closest first, learnt from the tags list; each rule
    # says what to do.
    helps = {item["line"]: item["help"] for item in found}
    assert helps[line_of(0)] == (f"did you mean `{NEAR_TAGS[0]}`? (or `{NEAR_TAGS[2]}`,"
                                 f" `{NEAR_TAGS[1]}`)")
    assert helps[line_of(1)] == "check the repository name, or that the registry lets you see it"
    assert "docker buildx build --platform linux/amd64" in helps[line_of(2)]
    assert helps[line_of(4)] == (f"the tag now points to {pushed.new_index.digest[:19]}…;"
                                 " `--online --fix --unsafe-fixes` pins it")
    # --verbose shows the suggestions too.
    assert (f"tag missing; did you mean `{NEAR_TAGS[0]}`? (or `{NEAR_TAGS[2]}`,"
            f" `{NEAR_TAGS[1]}`)") in err
    # The fixes keep the tag and the kind of digest that was pinned.
    fixes = {item["line"]: item["fix"] for item in found if item["fix"]}
    assert fixes[line_of(4)]["applicability"] == "unsafe"
    assert fixes[line_of(4)]["edits"][0]["content"] == (
        f"{host}/check/moving:1.0@{pushed.new_index.digest}")
    assert fixes[line_of(5)]["edits"][0]["content"] == (
        f"{host}/check/moving:1.0@{pushed.new_amd64.manifest.digest}")
    assert set(fixes) == {line_of(4), line_of(5)}

    # The same findings from the cache, with no network at all.
    code, found_offline, err = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert by_line(found_offline) == expected, err
    # And again online: the answers come from the cache too.
    code, found_again, _ = lint(capsys, "--online", "--config", str(settings), str(target))
    assert by_line(found_again) == expected


def test_arm64_pin_of_a_current_index_is_not_stale_but_wrong_platform(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    image = f"{host}/check/moving:1.0@{pushed.shared_arm64.manifest.digest}"
    target, settings = write_project(tmp_path, [image])
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL014"], err
    # Judged for arm64 workers, the same pin is fine: the arm64 child did not change.
    settings.write_text(settings.read_text() + 'platform = "linux/arm64"\n')
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert found == [], err


def test_pin_whose_tag_is_gone_still_pulls(online_env: OnlineEnv, pushed: Pushed,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    target, settings = write_project(tmp_path, [
        f"{host}/check/moving:9.9@{pushed.new_index.digest}",  # no tag 9.9: the pin pulls
        f"{host}/check/moving:9.9@{MISSING_DIGEST}",  # neither exists
    ])
    for mode in ("--online", "--offline"):
        _, found, err = lint(capsys, mode, "--config", str(settings), str(target))
        assert [(item["line"], item["code"]) for item in found] == [
            (3, "VIL015"), (7, "VIL013")], (mode, err)
        assert found[0]["message"] == f"index digest pinned for {host}/check/moving:9.9 is stale"
        assert found[0]["help"].startswith("the tag no longer exists (the digest still pulls)")
        assert found[0]["fix"] is None
        assert found[1]["message"].startswith("digest sha256:dededededede… of")


def test_fix_pins_the_current_digest(online_env: OnlineEnv, pushed: Pushed, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    target, settings = write_project(
        tmp_path, [f"'{host}/check/moving:1.0@{pushed.old_amd64.manifest.digest}'"])
    code = main(["--online", "--fix", "--unsafe-fixes", "--config", str(settings),
                 str(target)])
    capsys.readouterr()
    assert code == 0
    assert f"image: '{host}/check/moving:1.0@{pushed.new_amd64.manifest.digest}'\n" in (
        target.read_text())


def test_not_found_expires_like_a_tag_answer(online_env: OnlineEnv, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    image = make_image("late", (100,), oci=True)
    target, settings = write_project(tmp_path, [f"{host}/check/late:1.0"])
    _, found, _ = lint(capsys, "--online", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL013"]
    push_image(online_env.plain.base, "check/late", image, "1.0")
    # Within cache-ttl the cached "not found" stands, online and offline.
    for mode in ("--online", "--offline"):
        _, found, _ = lint(capsys, mode, "--config", str(settings), str(target))
        assert [item["code"] for item in found] == ["VIL013"], mode
    settings.write_text(settings.read_text() + 'cache-ttl = "0s"\n')
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert found == [], err


def test_offline_without_cached_answers_finds_nothing_and_says_so(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = write_project(tmp_path, [f"{online_env.plain.netloc}/check/nope:1.0"])
    code, found, err = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert (code, found) == (0, [])
    assert "not in the cache (--offline)" in err


# -- VIL016 and identity tokens on the token-auth and Basic-auth registries ----------------------

def test_needs_credentials_without_credentials(online_env: OnlineEnv, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.token.netloc
    target, settings = write_project(tmp_path, [f"{host}/test/multi:1.0"])
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert by_line(found) == {3: ("VIL016", f"{host}/test/multi refuses anonymous pulls;"
                                            " Valohai has no credentials")}, err
    assert found[0]["help"] == (f"add `{host}/*` with credentials under the organization's"
                                " Registries in Valohai, and to private-registries")
    assert "access denied" not in err  # the finding says it; no second note
    _, found, _ = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL016"]
    # A pattern that covers the image as written: Valohai sends credentials, nothing to say.
    settings.write_text(settings.read_text() + f'private-registries = ["{host}/test/*"]\n')
    _, found, _ = lint(capsys, "--online", "--config", str(settings), str(target))
    assert found == []


@pytest.mark.parametrize("registry", ["basic", "token"])
def test_needs_credentials_with_local_credentials(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path, registry: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    host = getattr(online_env, registry).netloc
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(
        tmp_path / "docker", {"auths": {host: basic_auth_entry()}})))
    target, settings = write_project(tmp_path, [f"{host}/check/moving:1.0",
                                                f"{host}/check/arm64-only:1.0"])
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    message = f"{host}/check/moving pulls only with your credentials; Valohai has none"
    assert (found[0]["code"], found[0]["message"]) == ("VIL016", message), err
    # The checks ran with the credentials: the platform problem is found as well.
    assert [(item["line"], item["code"]) for item in found] == [
        (3, "VIL016"), (7, "VIL014"), (7, "VIL016")]
    assert PASSWORD not in err
    _, found, _ = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL016", "VIL014", "VIL016"]


def _identity_token_config(tmp_path: Path, host: str) -> Path:
    user = base64.b64encode(b"00000000-0000-0000-0000-000000000000:").decode()
    return docker_config(tmp_path / "docker",
                         {"auths": {host: {"auth": user, "identitytoken": IDENTITY_TOKEN}}})


def _helper_config(tmp_path: Path, host: str, secret: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-vil-test"
    helper.write_text(f"#!{sys.executable}\nimport json, sys\nsys.stdin.read()\n"
                      f"print(json.dumps({{'Username': '<token>', 'Secret': {secret!r}}}))\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return docker_config(tmp_path / "docker", {"credHelpers": {host: "vil-test"}})


@pytest.mark.parametrize("source", ["config.json", "helper"])
def test_identity_token_through_the_refresh_token_grant(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path, source: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    host = online_env.token.netloc
    monkeypatch.setenv("PATH", os.environ["PATH"])  # restored after the helper's change
    directory = (_identity_token_config(tmp_path, host) if source == "config.json"
                 else _helper_config(tmp_path, host, IDENTITY_TOKEN))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    target, settings = write_project(tmp_path, [f"{host}/check/no-amd64:1.0"])
    before = len(online_env.token_server.seen.requests)
    _, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL014", "VIL016"], err
    assert "pulls only with your credentials" in found[1]["message"]
    seen = online_env.token_server.seen.requests[before:]
    posts = [r for r in seen if r[0] == "POST"]
    assert posts and all(r[3] is None for r in posts)  # the token is in the body only
    assert not any(IDENTITY_TOKEN in r[2] for r in seen)  # never in a URL
    # Only the anonymous probe asks for a token without the grant.
    assert all(r[3] is None for r in seen)
    assert IDENTITY_TOKEN not in err


def test_refused_identity_token_is_a_note_not_a_finding(
        online_env: OnlineEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = online_env.token.netloc
    monkeypatch.setenv("PATH", os.environ["PATH"])
    monkeypatch.setenv("DOCKER_CONFIG", str(_helper_config(tmp_path, host, "wrong-token")))
    target, settings = write_project(tmp_path, [f"{host}/test/multi:1.0"])
    code, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert (code, found) == (0, [])
    assert "refused access to test/multi" in err and "wrong-token" not in err


# -- Docker Hub's rate limit headers (a small server that counts like Docker Hub) ----------------

def _quota_handler(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    image = make_image("quota", (100,), oci=True)
    if handler.path.startswith("/v2/exhausted/"):
        respond(handler, 429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}',
                {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "0;w=21600",
                 "Retry-After": "0"})
        return
    headers = {"Content-Type": image.manifest.media_type,
               "Docker-Content-Digest": image.manifest.digest,
               "RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "57;w=21600"}
    if "/blobs/" in handler.path:
        respond(handler, 200, image.config.data, headers)
    else:
        respond(handler, 200, image.manifest.data, headers)


@pytest.fixture(scope="module")
def quota_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer(_quota_handler)
    yield server
    server.close()


def test_rate_limit_remaining_with_verbose_and_one_note_when_exhausted(
        quota_server: LoopbackServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    host = f"127.0.0.1:{quota_server.port}"
    target, settings = write_project(tmp_path, [f"{host}/fine/app:1"])
    _, found, err = lint(capsys, "--online", "-v", "--config", str(settings), str(target))
    assert found == []
    assert f"rate limit {host}: 57 of 100 pulls left in the window" in err
    _, _, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert "rate limit" not in err  # only with --verbose

    target, settings = write_project(tmp_path, [f"{host}/exhausted/app{i}:1" for i in range(6)])
    code, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
    assert (code, found) == (0, [])
    notes = [line for line in err.splitlines() if "rate limit" in line]
    assert notes == [f"note: {host}: the pull rate limit is used up; images not yet looked up"
                     " there stay unchecked until the quota refills (docker login raises it)"]


# -- the tags list: pages, bounds and hostile answers (registry 2.8 does not paginate) ------------

def _pager_handler(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    path = handler.path
    if "/manifests/" in path:
        respond(handler, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        return
    last = parse_qs(urlsplit(path).query).get("last", ["p-1"])[0]
    page = int(last[1:]) + 1
    headers = {"Content-Type": "application/json"}
    if path.startswith("/v2/paged/app/tags/list"):
        # Three pages; the near tag is on the last one.
        tags = [["1.0", "1.1"], ["2.0", "2.1"], ["3.0-runtime", "3.0-devel"]][page]
        if page < 2:
            headers["Link"] = f'</v2/paged/app/tags/list?last=p{page}&n=2>; rel="next"'
    elif path.startswith("/v2/endless/app/tags/list"):
        tags = [f"v{page}.{i}" for i in range(3)]
        headers["Link"] = f'</v2/endless/app/tags/list?last=p{page}&n=3>; rel="next"'
    elif path.startswith("/v2/hostile/app/tags/list"):
        tags = ["1.0-runtime\x1b[31m", "-bad", "x" * 200, "1.0-runtimes", ["nested"]]
        headers["Link"] = '<http://169.254.169.254/v2/hostile/app/tags/list?n=1>; rel="next"'
    elif path.startswith("/v2/refused/app/tags/list"):
        respond(handler, 403, b'{"errors":[{"code":"DENIED"}]}', headers)
        return
    elif path.startswith("/v2/deep/app/tags/list"):
        respond(handler, 200, b'{"tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", headers)
        return
    else:
        respond(handler, 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', headers)
        return
    respond(handler, 200, json.dumps({"name": "x", "tags": tags}).encode(), headers)


@pytest.fixture(scope="module")
def pager() -> Iterator[LoopbackServer]:
    server = LoopbackServer(_pager_handler)
    yield server
    server.close()


def test_tags_list_is_paginated_bounded_and_validated(
        pager: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tags_module, "MAX_PAGES", 5)
    host = f"127.0.0.1:{pager.port}"
    target, settings = write_project(tmp_path, [f"{host}/paged/app:3.0-runtme",
                                                f"{host}/endless/app:v9.9",
                                                f"{host}/hostile/app:1.0-runtime",
                                                f"{host}/deep/app:1.0",
                                                f"{host}/refused/app:1.0"])
    _, found, err = lint(capsys, "--online", "-v", "--config", str(settings), str(target))
    assert [(item["code"], item["line"]) for item in found] == [
        ("VIL013", line) for line in (3, 7, 11, 15, 19)], err
    # The manifest's 404 stands when the tags list is refused: a missing tag, no suggestion.
    assert found[4]["message"] == f"tag '1.0' of {host}/refused/app does not exist"
    assert found[4]["help"] == (
        "check the tag (the registry would not list the repository's tags)")
    assert "tag missing; did you mean `3.0-runtime`?;" in err
    requests = [r[2] for r in pager.seen.requests]
    assert sum(1 for r in requests if r.startswith("/v2/paged/app/tags/list")) == 3
    assert sum(1 for r in requests if r.startswith("/v2/endless/app/tags/list")) == 5
    # Only valid tag names are suggested, and the link to another host is not followed.
    assert "did you mean `1.0-runtimes`?\n" not in err
    assert "\x1b" not in err and "-bad" not in err
    assert f"lookup {host}/hostile/app:1.0-runtime: tag missing; did you mean `1.0-runtimes`?" in (
        err)
    # Too deep to parse: the tag is still missing, with no suggestion and no crash.
    assert f"lookup {host}/deep/app:1.0: tag missing;" in err


def test_online_bench_runs_end_to_end() -> None:
    """bench/online.py on 8 images, once: it checks its own findings and request counts."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run([sys.executable, str(root / "bench" / "online.py"), "--images",
                                "8", "--runs", "1"], capture_output=True, text=True,
                               timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")
            for line in completed.stdout.splitlines() if line.startswith("| ")}
    assert rows["cached (`--online` again)"][4] == "0"
    assert rows["`--offline` (the same cache)"][4] == "0"
    assert int(rows["cold (`--online`, empty cache)"][4]) >= 8
    assert "VIL013 x1, VIL014 x1, VIL015 x1" in completed.stdout


# -- hostile values from a registry and from the cache --------------------------------------------

_DEEP_CONFIG = b'{"os": "linux", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
_DEEP_MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + hashlib.sha256(_DEEP_CONFIG).hexdigest(),
               "size": len(_DEEP_CONFIG)},
    "layers": []}).encode()
_ESCAPING_INDEX = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:" + "1" * 64,
         "platform": {"os": "linux\x1b[2J", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:" + "2" * 64,
         "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()


def _hostile_handler(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    path = handler.path
    if path.startswith("/v2/escaping/app/manifests/"):
        body, kind = _ESCAPING_INDEX, "application/vnd.oci.image.index.v1+json"
    elif path.startswith("/v2/deep/app/manifests/"):
        body, kind = _DEEP_MANIFEST, "application/vnd.oci.image.manifest.v1+json"
    elif path.startswith("/v2/deep/app/blobs/"):
        respond(handler, 200, _DEEP_CONFIG, {"Content-Type": "application/octet-stream"})
        return
    elif path.startswith("/v2/baddigest/app/manifests/"):
        respond(handler, 200, b"", {"Docker-Content-Digest": "sha256:\x1b[31mevil"})
        return
    else:
        respond(handler, 404, b"{}")
        return
    respond(handler, 200, body, {"Content-Type": kind,
                                 "Docker-Content-Digest": "sha256:"
                                 + hashlib.sha256(body).hexdigest()})


@pytest.fixture(scope="module")
def hostile() -> Iterator[LoopbackServer]:
    server = LoopbackServer(_hostile_handler)
    yield server
    server.close()


def test_hostile_registry_values_are_validated(hostile: LoopbackServer, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    host = f"127.0.0.1:{hostile.port}"
    target, settings = write_project(tmp_path, [f"{host}/escaping/app:1.0",
                                                f"{host}/deep/app:1.0",
                                                f"{host}/baddigest/app:1.0"])
    code, found, err = lint(capsys, "--online", "-v", "--config", str(settings), str(target))
    # The entry whose OS holds an escape sequence is not a platform; the other one is listed.
    assert [(item["code"], item["message"]) for item in found] == [
        ("VIL014", f"{host}/escaping/app:1.0 has no linux/amd64 image (only linux/arm64)")]
    assert "the image config is JSON nested deeper than 32 levels" in err
    assert "Docker-Content-Digest for baddigest/app:1.0 is not a valid digest" in err
    assert "\x1b" not in err and "\x1b" not in json.dumps(found, ensure_ascii=False)
    assert code == 1


def test_corrupt_cache_entries_of_the_checks_are_ignored(
        online_env: OnlineEnv, pushed: Pushed, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    host = online_env.plain.netloc
    target, settings = write_project(tmp_path, [f"{host}/check/no-amd64:1.0",
                                                f"{host}/check/nope:1.0"])
    _, found, _ = lint(capsys, "--online", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL014", "VIL013"]
    damaged = 0
    for kind, change in (("platforms", {"found": "no", "platforms": ["linux/\x1b[2J"]}),
                         ("missing", {"what": "everything", "suggestions": [["x"]]})):
        for path in (tmp_path / "cache" / "v1" / kind).glob("*.json"):
            data = json.loads(path.read_text())
            path.write_text(json.dumps({**data, **change}))
            damaged += 1
    assert damaged == 2
    code, found, err = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert (code, found) == (0, []), err
    assert "not in the cache (--offline)" in err
    assert err.count("is corrupt; ignored") == 2
    # Online, the damaged answers are asked again and rewritten.
    _, found, _ = lint(capsys, "--online", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL014", "VIL013"]
    _, found, _ = lint(capsys, "--offline", "--config", str(settings), str(target))
    assert [item["code"] for item in found] == ["VIL014", "VIL013"]


def _plain_realm_handler(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    respond(handler, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
        "WWW-Authenticate": 'Bearer realm="http://token.example.invalid/oauth2/token",'
                            'service="svc"'})


def test_identity_token_never_goes_over_plain_http(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = LoopbackServer(_plain_realm_handler)
    try:
        host = f"127.0.0.1:{server.port}"
        monkeypatch.setenv("DOCKER_CONFIG", str(_identity_token_config(tmp_path, host)))
        target, settings = write_project(tmp_path, [f"{host}/private/app:1.0"])
        code, found, err = lint(capsys, "--online", "--config", str(settings), str(target))
        assert (code, found) == (0, [])  # refused credentials are a note, not a finding
        assert "the identity token is not sent over plain HTTP" in err
    finally:
        server.close()


# -- the language server asks the same questions ----------------------------------------------

def test_language_server_reports_the_checks(online_env: OnlineEnv, pushed: Pushed,
                                            tmp_path: Path) -> None:
    pytest.importorskip("pygls")
    import asyncio

    from lsprotocol import types as lsp

    from test_server import Session, with_server

    host = online_env.plain.netloc
    text = (f"- step:\n    name: train\n    image: {host}/check/pytorch:2.2.0-cuda12.1-cudnn8-"
            f"runtim\n    command: run\n- step:\n    name: arm\n    image:"
            f" {host}/check/arm64-only:1.0\n    command: run\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".valohai-image-lint.toml").write_text(
        f'online = true\ncache-dir = "{tmp_path / "cache"}"\n', "utf-8")
    path = project / "valohai.yaml"
    path.write_text(text, "utf-8")

    async def body(session: Session, result: lsp.InitializeResult) -> set[str]:
        session.open(path.as_uri(), text)
        # The first diagnostics come before the registry answers; the lookups' lint follows.
        codes: set[str] = set()
        while not {"VIL013", "VIL014"} <= codes:
            params = await asyncio.wait_for(session.published.get(), 30)
            codes = {str(d.code) for d in params.diagnostics}
        return codes

    assert {"VIL013", "VIL014"} <= asyncio.run(with_server(project, body))
