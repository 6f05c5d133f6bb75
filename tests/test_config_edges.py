"""Configuration edges that no other test pinned (issue 16, behaviours 2, 5, 6 and 10), in-process.

Registry-independent: these run without docker-registry (test_registry_units.py has the
registry's own units).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import (
    DEFAULT_CACHE_TTL,
    Config,
    ConfigError,
    config_from_table,
    discover_config,
    load_config_file,
    parse_duration,
    path_matches,
)

MIXED = """\
- step:
    name: untagged
    image: python
- step:
    name: floating
    image: python:latest
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = cli.main(["--format", "concise", *argv])
    captured = capsys.readouterr()
    found = [line.split(": ", 1)[1].split()[0] for line in captured.out.splitlines()]
    return code, found, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert discover_config().source is None, "a configuration above the temporary directory"
    return tmp_path


# --- 2. An empty registry pattern is a configuration error -----------------------------------

@pytest.mark.parametrize("key", ["allowed-registries", "private-registries", "private-hosts",
                                 "insecure-registries"])
@pytest.mark.parametrize("value", ['[""]', '["docker.io/myorg/*", "  "]'])
def test_an_empty_pattern_is_a_configuration_error(
    key: str, value: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "valohai.yaml", MIXED)
    settings = write(project / ".valohai-image-lint.toml", f"{key} = {value}\n")
    code, found, err = run(capsys, "valohai.yaml")
    assert (code, found) == (2, [])
    assert err.startswith(f"error: {settings}: '{key}' must be a list of non-empty patterns")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_empty_pattern_list_is_fine_and_allows_nothing_special(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "valohai.yaml", "- step: {name: a, image: 'quay.io/x/y:1.0'}\n")
    write(project / ".valohai-image-lint.toml", "allowed-registries = []\n")
    # No allow-list configured: VIL012 has nothing to check against.
    assert run(capsys, "valohai.yaml")[:2] == (0, [])
    write(project / ".valohai-image-lint.toml", 'allowed-registries = ["docker.io/*"]\n')
    assert run(capsys, "valohai.yaml")[:2] == (1, ["VIL012"])


def test_pattern_keys_still_want_a_list_of_strings() -> None:
    with pytest.raises(ConfigError, match="'allowed-registries' must be a list of strings"):
        config_from_table({"allowed-registries": "docker.io/*"}, "x.toml", ".")
    config = config_from_table({"allowed-registries": ["docker.io/*"],
                                "private-hosts": ["r.example.com"]}, "x.toml", ".")
    assert config.allowed_registries == ("docker.io/*",)
    assert config.private_hosts == ("r.example.com",)


# --- 5. per-file-ignores from a pyproject.toml, run from a subdirectory -------------------

def test_pyproject_per_file_ignores_apply_from_a_subdirectory(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "legacy" / "valohai.yaml", MIXED)
    write(project / "current" / "valohai.yaml", MIXED)
    write(project / "pyproject.toml", (
        '[project]\nname = "x"\n\n'
        '[tool.valohai-image-lint.per-file-ignores]\n"legacy/*" = ["ALL"]\n'
    ))
    monkeypatch.chdir(project / "legacy")
    config = discover_config()
    assert config.source == str(project / "pyproject.toml")
    assert config.root == str(project)
    assert run(capsys, "valohai.yaml")[:2] == (0, [])
    # The glob is relative to the pyproject's directory, not to where the run started.
    monkeypatch.chdir(project / "current")
    assert run(capsys, "valohai.yaml")[:2] == (1, ["VIL001", "VIL002"])


# --- 6. A per-file-ignores key that is a bare file name matches in any directory -----------

def test_a_bare_file_name_matches_that_file_in_any_directory(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "a" / "valohai.yml", MIXED)
    write(project / "a" / "b" / "valohai.yml", MIXED)
    write(project / "c" / "valohai.yaml", MIXED)
    write(project / ".valohai-image-lint.toml", '[per-file-ignores]\n"valohai.yml" = ["ALL"]\n')
    capsys.readouterr()
    assert cli.main(["--format", "concise", "."]) == 1
    assert {line.split(":")[0] for line in capsys.readouterr().out.splitlines()} == {
        "c/valohai.yaml"}


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("valohai.yml", "a/valohai.yml", True),
    ("valohai.yml", "a/b/valohai.yml", True),
    ("valohai.yml", "a/valohai.yaml", False),
    ("*.yml", "a/valohai.yml", True),
    ("legacy/*", "legacy/x/valohai.yaml", True),
    ("legacy/*", "other/legacy/valohai.yaml", False),
    # A pattern with a "/" is a path from the root, never a file name.
    ("a/valohai.yml", "b/a/valohai.yml", False),
    ("a/valohai.yml", "a/valohai.yml", True),
    # Case matters, on every platform.
    ("VALOHAI.yml", "a/valohai.yml", False),
])
def test_path_matches(pattern: str, path: str, expected: bool, tmp_path: Path) -> None:
    assert path_matches(pattern, str(tmp_path / path), str(tmp_path)) is expected


def test_path_matches_is_relative_to_the_root_not_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    assert path_matches("sub/*", "valohai.yaml", str(project))
    assert not path_matches("valohai.yaml/*", "valohai.yaml", str(project))


# --- 10. parse_duration and cache-ttl --------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    ("24 h", 86400),
    ("24h", 86400),
    ("30 min", 1800),
    ("30min", 1800),
    ("5 m", 300),
    ("2 d", 172800),
    ("2D", 172800),
    ("90 s", 90),
    ("90 sec", 90),
    ("90", 90),          # no unit: seconds, like a bare number
    (" 90 ", 90),
    ("1.5 h", 5400),
    ("0.5 min", 30),
    ("0", 0),
    (0, 0),              # 0: a cached tag answer is never trusted
    (90, 90),
    (86400, 86400),
])
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("bad", ["soon", "", " ", "5 weeks", "h", "-1", "1e3", "1.5.2 h", "1 hs",
                                 -1, True, False, None, 1.5, [], {}])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r'^a duration such as "24 h", "30 min" or a number'
                                         " of seconds$"):
        parse_duration(bad)


def test_cache_ttl_in_the_configuration(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert Config().cache_ttl == DEFAULT_CACHE_TTL == 86400
    assert config_from_table({"cache-ttl": 0}, "x.toml", ".").cache_ttl == 0
    assert config_from_table({"cache-ttl": "90"}, "x.toml", ".").cache_ttl == 90
    assert config_from_table({"cache-ttl": "1 h"}, "x.toml", ".").cache_ttl == 3600
    settings = write(project / "settings.toml", 'cache-ttl = "90"\n')
    assert load_config_file(settings).cache_ttl == 90
    write(project / "valohai.yaml", "- step: {name: a, image: 'python:3.11-slim'}\n")
    for text in ("cache-ttl = 0\n", 'cache-ttl = "0 s"\n', 'cache-ttl = "90"\n'):
        settings.write_text(text, "utf-8")
        assert run(capsys, "--config", str(settings), "valohai.yaml")[:2] == (0, [])
    settings.write_text('cache-ttl = "soon"\n', "utf-8")
    code, _, err = run(capsys, "--config", str(settings), "valohai.yaml")
    assert code == 2
    assert err == (f"error: {settings}: 'cache-ttl' must be a duration such as \"24 h\","
                   " \"30 min\" or a number of seconds, not 'soon'\n")


def test_cache_ttl_zero_means_a_cached_tag_is_never_trusted(tmp_path: Path) -> None:
    from valohai_image_lint.registry.cache import AnswerCache as Cache

    notes: list[str] = []
    digest = "sha256:" + "a" * 64
    Cache(str(tmp_path), 3600.0, notes.append).put_tag("docker.io/library/python", "3", digest)
    assert Cache(str(tmp_path), 3600.0, notes.append).get_tag("docker.io/library/python",
                                                              "3") == digest
    assert Cache(str(tmp_path), 0.0, notes.append).get_tag("docker.io/library/python",
                                                           "3") is None
    assert notes == []
