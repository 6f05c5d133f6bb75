"""The command line in online mode: VIL020, digest-pinning fixes, offline guarantees."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from registry_support import PASSWORD, basic_auth_entry, docker_config, free_port

from conftest import OnlineEnv
from valohai_image_lint.cli import main


def write_project(tmp_path: Path, yaml_text: str, config: str = "") -> tuple[Path, Path]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    target = project / "valohai.yaml"
    target.write_text(textwrap.dedent(yaml_text))
    settings = project / ".valohai-image-lint.toml"
    settings.write_text(f'cache-dir = "{tmp_path / "cache"}"\n' + textwrap.dedent(config))
    return target, settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any], str]:
    code, out, err = run(capsys, "--format", "json", *argv)
    return code, json.loads(out), err


# -- VIL020 --

def test_oversized_image_from_registry_then_cache_then_configuration(
        online_env: OnlineEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    netloc = online_env.plain.netloc
    target, settings = write_project(tmp_path, f"""\
        - step:
            name: big
            image: {netloc}/test/multi:1.0
        - step:
            name: small
            image: {netloc}/test/oci-single:1.0
        """, 'max-image-size = "5 kB"\n')
    code, found, err = json_run(capsys, "--online", "--config", str(settings), str(target))
    assert [d["code"] for d in found] == ["VIL020"], err
    message = found[0]["message"]
    assert message == (f"image '{netloc}/test/multi:1.0' is 8.6 kB, over max-image-size 5.0 kB"
                       " (size from the registry)")
    assert found[0]["help"] == ("8.6 kB compressed for linux/amd64; every cold worker downloads"
                                " it before the execution starts: use a smaller base image")
    assert found[0]["line"] == 3 and found[0]["severity"] == "warning"
    assert code == 1

    code, found, _ = json_run(capsys, "--online", "--config", str(settings), str(target))
    assert "(size from the cache)" in found[0]["message"]
    code, found, _ = json_run(capsys, "--offline", "--config", str(settings), str(target))
    assert "(size from the cache)" in found[0]["message"]

    # Configured sizes win over everything, and need no lookup.
    settings.write_text(settings.read_text() + textwrap.dedent(f"""\
        [image-sizes]
        "{netloc}/test/multi" = "1 kB"
        "{netloc}/test/oci-single:1.0" = "6 GB"
        """))
    code, found, _ = json_run(capsys, "--config", str(settings), str(target))
    assert [d["line"] for d in found] == [6]
    assert "is 6.0 GB, over max-image-size 5.0 kB (size from image-sizes)" in found[0]["message"]


def test_single_platform_image_says_so(online_env: OnlineEnv, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = write_project(tmp_path, f"""\
        - step:
            name: one
            image: {online_env.plain.netloc}/test/docker-single:1.0
        """, 'max-image-size = 1000\n')
    _, found, _ = json_run(capsys, "--online", "--config", str(settings), str(target))
    assert "8.6 kB compressed (single-platform image)" in found[0]["help"]


def test_unknown_size_is_no_finding_and_verbose_says_why(online_env: OnlineEnv, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    closed = free_port()
    netloc = online_env.plain.netloc
    target, settings = write_project(tmp_path, f"""\
        - step:
            name: gone
            image: 127.0.0.1:{closed}/test/multi:1.0
        - step:
            name: unknown-tag
            image: {netloc}/test/multi:2.0
        """, 'max-image-size = 1\n')
    code, out, err = run(capsys, "--online", "--format", "concise", "--ignore", "VIL013",
                         "--config", str(settings), str(target))
    assert out == "" and code == 0
    assert f"note: cannot connect to 127.0.0.1:{closed}" in err
    assert f"note: {netloc}/test/multi:2.0 not found in the registry" in err
    code, out, err = run(capsys, "--online", "--quiet", "--format", "concise", "--ignore",
                         "VIL013", "--config", str(settings), str(target))
    assert (code, out, err) == (0, "", "")

    code, out, err = run(capsys, "--online", "--verbose", "--format", "concise", "--ignore",
                         "VIL013", "--config", str(settings), str(target))
    assert f"lookup 127.0.0.1:{closed}/test/multi:1.0: unknown: cannot connect" in err
    assert (f"lookup {netloc}/test/multi:2.0: tag missing; did you mean `1.0`?; unknown:"
            f" {netloc}/test/multi:2.0 not found") in err
    # With VIL013 on (the default) the missing tag is a finding, and no longer a note; the
    # unreachable registry stays a note, never a finding.
    code, out, err = run(capsys, "--online", "--format", "concise", "--config", str(settings),
                         str(target))
    assert code == 1 and out.count("\n") == 1 and "VIL013" in out and ":6:" in out
    assert "not found in the registry" not in err and "cannot connect" in err

    code, out, err = run(capsys, "--verbose", "--config", str(settings), str(target))
    assert (f"size of 127.0.0.1:{closed}/test/multi:1.0 unknown: no image-sizes entry, and"
            " online lookups are off (--online)") in err


# -- digest-pinning fixes --

PIN_YAML = """\
    - step:
        name: untagged
        image: {netloc}/test/multi   # comment stays
    - step:
        name: floating
        image: "{netloc}/test/multi:latest"
    - step:
        name: tagged
        image: '{netloc}/test/docker-single:1.0'
    - step:
        name: unknown
        image: {netloc}/test/nothing-here
    """


def test_pinning_fixes_offer_the_digest_pull_records(online_env: OnlineEnv, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    netloc, images = online_env.plain.netloc, online_env.images
    target, settings = write_project(tmp_path, PIN_YAML.format(netloc=netloc))
    _, found, _ = json_run(capsys, "--config", str(settings), str(target))
    assert [(d["code"], d["fix"]) for d in found] == [
        ("VIL001", None), ("VIL002", None), ("VIL001", None)]  # offline: no digest, no fix

    _, found, err = json_run(capsys, "--online", "--extend-select", "VIL003", "--ignore",
                             "VIL013", "--config", str(settings), str(target))
    by_line = {d["line"]: d for d in found}
    index_digest = images.multi_index.digest
    assert by_line[3]["fix"]["applicability"] == "unsafe"
    assert by_line[3]["fix"]["title"] == (f"Pin `{netloc}/test/multi:latest` to the digest it"
                                          f" resolves to now (sha256:{index_digest[7:19]}…)")
    assert by_line[3]["fix"]["edits"][0]["content"] == f"{netloc}/test/multi:latest@{index_digest}"
    assert by_line[6]["fix"]["edits"][0]["content"] == (
        f'"{netloc}/test/multi:latest@{index_digest}"')
    assert by_line[9]["code"] == "VIL003"
    assert by_line[9]["fix"]["edits"][0]["content"] == (
        f"'{netloc}/test/docker-single:1.0@{images.docker_single.manifest.digest}'")
    assert by_line[12]["fix"] is None  # not in the registry: no digest, no fix
    assert "test/nothing-here:latest not found" in err  # a note, with VIL013 off


def test_unsafe_fix_writes_pinned_images(online_env: OnlineEnv, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    netloc, images = online_env.plain.netloc, online_env.images
    target, settings = write_project(tmp_path, PIN_YAML.format(netloc=netloc),
                                     'max-image-size = "5 kB"\n')
    _, remaining, _ = json_run(capsys, "--online", "--fix", "--unsafe-fixes", "--extend-select",
                               "VIL003", "--config", str(settings), str(target))
    # What remains after pinning: the sizes, still known for the now-pinned images.
    assert [(d["code"], d["line"]) for d in remaining] == [
        ("VIL020", 3), ("VIL020", 6), ("VIL020", 9), ("VIL001", 12), ("VIL013", 12)]
    index_digest = images.multi_index.digest
    expected = PIN_YAML.format(netloc=netloc).replace(
        f"{netloc}/test/multi   #", f"{netloc}/test/multi:latest@{index_digest}   #").replace(
        f'"{netloc}/test/multi:latest"', f'"{netloc}/test/multi:latest@{index_digest}"').replace(
        f"'{netloc}/test/docker-single:1.0'",
        f"'{netloc}/test/docker-single:1.0@{images.docker_single.manifest.digest}'")
    assert target.read_text() == textwrap.dedent(expected)
    before = target.read_bytes()
    run(capsys, "--online", "--fix", "--unsafe-fixes", "--extend-select", "VIL003", "--config",
        str(settings), str(target))
    assert target.read_bytes() == before


# -- offline guarantees --

NO_SOCKET_SCRIPT = """
import json, socket, sys
attempts = []
def refuse(self, address):
    attempts.append(repr(address))
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
from valohai_image_lint.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"attempts": attempts, "code": code,
                  "registry_imported": "valohai_image_lint.registry" in sys.modules}),
      file=sys.stderr)
"""


def _no_socket_run(tmp_path: Path, *argv: str) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", NO_SOCKET_SCRIPT, *argv],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path,
                               check=False)
    result: dict[str, Any] = json.loads(completed.stderr.strip().splitlines()[-1])
    return result


def test_offline_opens_no_socket(online_env: OnlineEnv, tmp_path: Path) -> None:
    target, settings = write_project(tmp_path, PIN_YAML.format(netloc=online_env.plain.netloc),
                                     'max-image-size = "1 kB"\n')
    default = _no_socket_run(tmp_path, "--extend-select", "VIL003", "--config", str(settings),
                             str(target))
    assert default == {"attempts": [], "code": 1, "registry_imported": False}
    offline = _no_socket_run(tmp_path, "--offline", "--config", str(settings), str(target))
    assert offline["attempts"] == [] and offline["registry_imported"] is True
    # The same harness does see a connection when one is made: the check above can fail.
    online = _no_socket_run(tmp_path, "--online", "--config", str(settings), str(target))
    assert online["attempts"] and online["registry_imported"] is True


def test_online_from_configuration_and_offline_overrides_it(
        online_env: OnlineEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = write_project(tmp_path, PIN_YAML.format(netloc=online_env.plain.netloc),
                                     "online = true\n")
    _, found, _ = json_run(capsys, "--config", str(settings), str(target))
    assert found[0]["fix"] is not None
    result = _no_socket_run(tmp_path, "--offline", "--config", str(settings), str(target))
    assert result["attempts"] == []


def test_verbose_never_prints_secrets(online_env: OnlineEnv, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for registry in (online_env.basic, online_env.token):
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "docker", {
            "auths": {registry.netloc: basic_auth_entry()}})))
        target, settings = write_project(tmp_path, f"""\
            - step:
                name: private
                image: {registry.netloc}/test/multi:latest
            """, 'max-image-size = "1 kB"\n')
        _, out, err = run(capsys, "--online", "--verbose", "--config", str(settings),
                          str(target))
        assert "over max-image-size" in out, err
        assert f"lookup {registry.netloc}/test/multi:latest: digest sha256:" in err
        assert "(from registry)" in err
        assert PASSWORD not in out + err
        assert basic_auth_entry()["auth"] not in out + err
        assert "Bearer" not in out + err and "eyJ" not in out + err  # no JWT either


def test_cache_ttl_is_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target, settings = write_project(tmp_path, "- step: {name: a, image: 'python:3.11'}\n",
                                     'cache-ttl = "soon"\n')
    code, _, err = run(capsys, "--config", str(settings), str(target))
    assert code == 2
    assert "'cache-ttl' must be a duration such as \"24 h\"" in err
    settings.write_text('cache-ttl = "90 min"\n')
    code, _, _ = run(capsys, "--config", str(settings), str(target))
    assert code == 0


def test_unsafe_fix_pins_a_python_image(online_env: OnlineEnv, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """valohai.prepare(image=...) in Python: looked up and pinned like a YAML image, its
    quotes and prefix kept."""
    netloc, images = online_env.plain.netloc, online_env.images
    _, settings = write_project(tmp_path, "[]\n")
    train = settings.parent / "train.py"
    text = (f"import valohai\nvalohai.prepare(step='t', image=r'{netloc}/test/docker-single:1.0')"
            "\n")
    train.write_text(text)
    _, found, _ = json_run(capsys, "--online", "--extend-select", "VIL003", "--config",
                              str(settings), str(train))
    (pin,) = [d for d in found if d["code"] == "VIL003"]
    digest = images.docker_single.manifest.digest
    assert pin["fix"]["edits"][0]["content"] == f"r'{netloc}/test/docker-single:1.0@{digest}'"
    run(capsys, "--online", "--fix", "--unsafe-fixes", "--extend-select", "VIL003", "--config",
        str(settings), str(train))
    assert train.read_text() == text.replace(":1.0'", f":1.0@{digest}'")
