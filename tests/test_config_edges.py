"""Configuration edges that no other test pinned (issue 16, behaviours 2, 5, 6 and 10), in-process.

Registry-independent: these run without docker-registry (test_registry_units.py has the
registry's own units).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from valohai_image_lint import cli
from valohai_image_lint import config as config_module
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


def test_path_matches_when_no_relative_path_exists(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    """On Windows a file on another drive than the configuration has no relative path: the
    glob is then matched against the path as given, with forward slashes."""
    import os

    def other_drive(path: str, start: str) -> str:
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(os.path, "relpath", other_drive)
    assert path_matches("legacy/*", "legacy/valohai.yaml", str(tmp_path))
    assert not path_matches("legacy/*", "current/valohai.yaml", str(tmp_path))
    assert path_matches("valohai.yaml", "current/valohai.yaml", str(tmp_path))


@pytest.mark.parametrize(("table", "message"), [
    ({"image-sizes": ["python"]},
     "x.toml: 'image-sizes' must be a table of image = size, e.g."
     ' {"python:3.11" = "50 MB"}, not [\'python\']'),
    ({"image-sizes": {"Not An Image": "1 GB"}},
     "x.toml: 'image-sizes' must be a table of image = size whose keys are images ('Not An"
     " Image': image reference contains whitespace (' ' at position 4)), not {'Not An Image':"
     " '1 GB'}"),
    ({"per-file-ignores": {"a/*": "VIL001"}},
     "x.toml: 'per-file-ignores' must be a table of glob = [codes], e.g."
     ' {"legacy/*" = ["VIL002"]}, not {\'a/*\': \'VIL001\'}'),
    ({"platform": "linux"},
     "x.toml: 'platform' must be a platform such as \"linux/amd64\" or \"linux/arm64/v8\","
     " not 'linux'"),
    ({"fail-level": "fatal"},
     "x.toml: 'fail-level' must be one of \"error\", \"warning\", \"info\", not 'fatal'"),
    ({"max-image-size": "big"},
     "x.toml: 'max-image-size' must be a size such as \"4 GB\" or a number of bytes,"
     " not 'big'"),
    ({"max-image-size": True},
     "x.toml: 'max-image-size' must be a size such as \"4 GB\" or a number of bytes,"
     " not True"),
    ({"online": 1}, "x.toml: 'online' must be true or false, not 1"),
    ({"cache-dir": 1}, "x.toml: 'cache-dir' must be a string, not 1"),
    ({"select": [1]}, "x.toml: 'select' must be a list of strings, not [1]"),
    ({"selekt": []}, "x.toml: unknown key 'selekt' (did you mean 'select'?)"),
    ({"zzz": []}, "x.toml: unknown key 'zzz'"),
])
def test_configuration_messages_exactly(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_table(table, "x.toml", ".")
    assert str(caught.value) == message


def test_a_table_that_is_not_a_table() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_table(["select"], "p/pyproject.toml", "p")
    assert str(caught.value) == "p/pyproject.toml: [tool.valohai-image-lint] must be a table"


def test_with_overrides_ignores_what_was_not_given() -> None:
    base = Config(online=True, platform="linux/arm64")
    changed = base.with_overrides(online=None, platform="linux/amd64", select=None)
    assert (changed.online, changed.platform, changed.select) == (True, "linux/amd64", None)
    assert changed.with_overrides(online=False).online is False


def test_pyproject_with_a_quoted_table_name_is_found(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "pyproject.toml", '[tool."valohai-image-lint"]\nonline = true\n')
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    config = discover_config()
    assert (config.source, config.root, config.online) == (
        str(project / "pyproject.toml"), str(project), True)


def test_a_pyproject_that_only_mentions_the_table_is_passed_over(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".valohai-image-lint.toml", 'platform = "linux/arm64"\n')
    write(project / "inner" / "pyproject.toml",
          "# see [tool.valohai-image-lint] in the parent\n[tool.other]\nx = 1\n")
    monkeypatch.chdir(project / "inner")
    config = discover_config()
    assert (config.source, config.platform) == (str(project / ".valohai-image-lint.toml"),
                                                "linux/arm64")
    assert discover_config(project / "inner").source == config.source


def test_an_explicit_configuration_s_root_is_its_directory(project: Path) -> None:
    pyproject = write(project / "conf" / "pyproject.toml",
                      '[tool.valohai-image-lint]\ncache-dir = "c"\n')
    config = load_config_file(pyproject)
    assert (config.source, config.root) == (str(pyproject), str(project / "conf"))
    assert config.cache_dir == str(project / "conf" / "c")
    dedicated = write(project / "other" / "settings.toml", 'cache-dir = "c"\n')
    config = load_config_file(dedicated)
    assert (config.root, config.cache_dir) == (str(project / "other"),
                                               str(project / "other" / "c"))


@pytest.mark.parametrize(("error", "said"), [
    (PermissionError(13, "Permission denied"), "Permission denied"),
    (OSError("the disk is on fire"), "the disk is on fire"),
])
def test_a_configuration_that_cannot_be_read(project: Path, monkeypatch: pytest.MonkeyPatch,
                                             error: OSError, said: str) -> None:
    settings = write(project / "settings.toml", "online = true\n")

    def refuse(*args: object, **kwargs: object) -> object:
        raise error

    # The configuration module opens files with the builtin open (no pathlib at start-up).
    monkeypatch.setattr(config_module, "open", refuse, raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config_file(settings)
    assert str(caught.value) == f"{settings}: cannot read: {said}"


def test_a_pyproject_that_is_not_utf8_is_passed_over_or_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".valohai-image-lint.toml", 'platform = "linux/arm64"\n')
    inner = project / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_bytes(b"# caf\xe9\n[project]\nname = 'x'\n")
    assert discover_config(inner).platform == "linux/arm64"
    # With our table it is read, and its encoding is a clear error.
    (inner / "pyproject.toml").write_bytes(b"# caf\xe9\n[tool.valohai-image-lint]\n")
    with pytest.raises(ConfigError) as caught:
        discover_config(inner)
    assert str(caught.value) == f"{inner / 'pyproject.toml'}: invalid TOML: not UTF-8"


def test_an_unreadable_pyproject_is_passed_over(project: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / ".valohai-image-lint.toml", 'platform = "linux/arm64"\n')
    unreadable = write(project / "inner" / "pyproject.toml", "[tool.valohai-image-lint]\n")
    real_open = open

    def refusing_open(file: str, *args: Any, **kwargs: Any) -> Any:
        if file == str(unreadable):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(config_module, "open", refusing_open, raising=False)
    config = discover_config(project / "inner")
    assert (config.source, config.platform) == (str(project / ".valohai-image-lint.toml"),
                                                "linux/arm64")


def test_a_pyproject_without_any_tool_table_that_mentions_ours(project: Path) -> None:
    write(project / ".valohai-image-lint.toml", 'platform = "linux/arm64"\n')
    write(project / "inner" / "pyproject.toml",
          '# configured in [tool.valohai-image-lint] upstairs\n[project]\nname = "x"\n')
    assert discover_config(project / "inner").platform == "linux/arm64"
