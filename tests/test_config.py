"""Configuration (DESIGN section 7): where it is found, what is accepted, and how bad
configuration is reported (exit 2, one line naming the key and the file)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from valohai_image_lint import cli
from valohai_image_lint.config import (
    DEFAULT_FLOATING_TAGS,
    DEFAULT_MAX_IMAGE_SIZE,
    DEFAULT_PLATFORM,
    Config,
    ConfigError,
    config_from_table,
    discover_config,
    load_config_file,
    parse_size,
)
from valohai_image_lint.diagnostic import Severity

MIXED = """\
- step:
    name: untagged
    image: python
- step:
    name: floating
    image: python:latest
- step:
    name: invalid
    image: MyOrg/App:1.0
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lint_codes(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = cli.main(["--format", "concise", *argv])
    captured = capsys.readouterr()
    codes = [line.split(": ")[1].split()[0] for line in captured.out.splitlines()]
    return code, codes, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    stray = discover_config().source
    assert stray is None, f"a configuration above the temporary directory would leak in: {stray}"
    return tmp_path


# --- Discovery ----------------------------------------------------------------------------

def test_defaults_without_any_file(project: Path) -> None:
    config = discover_config(project)
    assert config == Config()
    assert config.source is None
    assert config.fail_level is Severity.WARNING
    assert config.floating_tags == DEFAULT_FLOATING_TAGS
    assert config.max_image_size == DEFAULT_MAX_IMAGE_SIZE == 4_000_000_000
    assert config.platform == DEFAULT_PLATFORM == "linux/amd64"
    assert config.online is False


def test_dedicated_file_is_found_upward_from_the_working_directory(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / ".valohai-image-lint.toml", 'ignore = ["VIL001"]\n')
    write(project / "ml" / "deep" / "valohai.yaml", MIXED)
    monkeypatch.chdir(project / "ml" / "deep")
    code, codes, _ = lint_codes(capsys, "valohai.yaml")
    assert (code, codes) == (1, ["VIL002", "VIL004"])
    assert discover_config().source == str(project / ".valohai-image-lint.toml")


def test_pyproject_table_is_found_upward(project: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "pyproject.toml",
          '[project]\nname = "x"\n\n[tool.valohai-image-lint]\nignore = ["VIL002"]\n')
    write(project / "sub" / "valohai.yaml", MIXED)
    monkeypatch.chdir(project / "sub")
    assert lint_codes(capsys, "valohai.yaml")[1] == ["VIL001", "VIL004"]


def test_pyproject_without_our_table_is_passed_over(project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "pyproject.toml", '[tool.valohai-image-lint]\nignore = ["VIL002"]\n')
    # Not even valid TOML: a pyproject.toml that cannot hold our table is not parsed at all.
    write(project / "sub" / "pyproject.toml", "[project\nname = 'broken'\n")
    monkeypatch.chdir(project / "sub")
    config = discover_config()
    assert config.source == str(project / "pyproject.toml")
    assert config.ignore == ("VIL002",)


def test_the_nearest_configuration_wins_and_is_not_merged(project: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / ".valohai-image-lint.toml", 'ignore = ["VIL002"]\nfail-level = "error"\n')
    write(project / "sub" / "pyproject.toml", '[tool.valohai-image-lint]\nignore = ["VIL001"]\n')
    monkeypatch.chdir(project / "sub")
    config = discover_config()
    assert config.ignore == ("VIL001",)
    assert config.fail_level is Severity.WARNING


def test_dedicated_file_wins_over_pyproject_in_the_same_directory(project: Path) -> None:
    write(project / "pyproject.toml", '[tool.valohai-image-lint]\nignore = ["VIL001"]\n')
    write(project / ".valohai-image-lint.toml", 'ignore = ["VIL002"]\n')
    assert discover_config(project).ignore == ("VIL002",)


def test_config_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    write(project / "ci" / "pyproject.toml", '[tool.valohai-image-lint]\nselect = ["VIL004"]\n')
    write(project / "ci" / "strict.toml", 'extend-select = ["VIL003"]\nignore = ["VIL004"]\n')
    assert lint_codes(capsys, "--config", "ci/pyproject.toml", "valohai.yaml")[1] == ["VIL004"]
    assert lint_codes(capsys, "--config", "ci/strict.toml", "valohai.yaml")[1] == [
        "VIL001", "VIL002"]


def test_config_option_pyproject_without_table_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "valohai.yaml", MIXED)
    write(project / "pyproject.toml", '[project]\nname = "x"\n')
    code, codes, err = lint_codes(capsys, "--config", "pyproject.toml", "valohai.yaml")
    assert (code, codes) == (2, [])
    assert err == "error: pyproject.toml: has no [tool.valohai-image-lint] table\n"


def test_relative_paths_in_the_configuration_are_relative_to_its_directory(
    project: Path
) -> None:
    path = write(project / "conf" / ".valohai-image-lint.toml", 'cache-dir = "cache"\n')
    config = load_config_file(path)
    assert config.cache_dir == str(project / "conf" / "cache")
    assert config.root == str(project / "conf")


# --- Errors: exit 2 with one line naming the key and the file -------------------------------

def config_error(project: Path, capsys: pytest.CaptureFixture[str], text: str,
                 name: str = ".valohai-image-lint.toml") -> str:
    write(project / "valohai.yaml", MIXED)
    path = write(project / name, text)
    code, codes, err = lint_codes(capsys, "valohai.yaml")
    assert (code, codes) == (2, []), err
    assert err.startswith(f"error: {path}: ") or err.startswith(f"error: {path.name}: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("text, expected", [
    ('selct = ["VIL001"]\n', "unknown key 'selct' (did you mean 'select'?)"),
    ('private-registry = ["x/*"]\n',
     "unknown key 'private-registry' (did you mean 'private-registries'?)"),
    ('fail_level = "error"\n', "unknown key 'fail_level' (did you mean 'fail-level'?)"),
    ('colour = "always"\n', "unknown key 'colour'"),
])
def test_unknown_key(text: str, expected: str, project: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in config_error(project, capsys, text)


def test_unknown_key_without_a_close_match_has_no_hint(project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean" not in config_error(project, capsys, "zzzzzz = 1\n")


def test_unknown_key_in_pyproject(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = config_error(project, capsys, '[tool.valohai-image-lint]\nignor = ["VIL001"]\n',
                       name="pyproject.toml")
    assert "pyproject.toml: unknown key 'ignor' (did you mean 'ignore'?)" in err


@pytest.mark.parametrize("text, expected", [
    ('select = "VIL002"\n', "'select' must be a list of strings, not 'VIL002'"),
    ("ignore = [1, 2]\n", "'ignore' must be a list of strings"),
    ('fail-level = "fatal"\n', "'fail-level' must be one of \"error\", \"warning\", \"info\""),
    ('online = "yes"\n', "'online' must be true or false"),
    ("cache-dir = 5\n", "'cache-dir' must be a string"),
    ('max-image-size = "big"\n', "'max-image-size' must be a size such as \"4 GB\""),
    ("max-image-size = -1\n", "'max-image-size' must be a size"),
    ("max-image-size = true\n", "'max-image-size' must be a size"),
    ("max-image-size = 4.5\n", "'max-image-size' must be a size"),
    ('per-file-ignores = ["legacy/*"]\n', "'per-file-ignores' must be a table of glob = [codes]"),
    ('per-file-ignores = {"legacy/*" = "VIL002"}\n', "'per-file-ignores' must be a table"),
    ('image-sizes = ["python"]\n', "'image-sizes' must be a table of image = size"),
    ('image-sizes = {"python" = "huge"}\n', "'image-sizes' must be a size"),
    ('private-registries = "docker.io/myorg/*"\n', "'private-registries' must be a list"),
    ('platform = "linux"\n', "'platform' must be a platform such as \"linux/amd64\""),
    ('platform = 1\n', "'platform' must be a string"),
])
def test_wrong_types(text: str, expected: str, project: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert expected in config_error(project, capsys, text)


def test_invalid_toml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = config_error(project, capsys, 'select = ["VIL001"\nignore = []\n')
    assert "invalid TOML" in err and "line 2" in err


def test_invalid_toml_in_a_pyproject_with_our_table(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    err = config_error(project, capsys, "[tool.valohai-image-lint]\nselect = [\n",
                       name="pyproject.toml")
    assert "invalid TOML" in err


def test_configuration_that_is_not_utf8(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    (project / ".valohai-image-lint.toml").write_bytes(b'select = ["VIL\xff"]\n')
    code, _, err = lint_codes(capsys, "valohai.yaml")
    assert code == 2 and "invalid TOML" in err and err.count("\n") == 1


def test_our_table_must_be_a_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    write(project / "pyproject.toml", '[tool]\nvalohai-image-lint = 3\n')
    code, _, err = lint_codes(capsys, "--config", "pyproject.toml", "valohai.yaml")
    assert code == 2
    assert err == "error: pyproject.toml: [tool.valohai-image-lint] must be a table\n"


@pytest.mark.parametrize("key", ["select", "ignore", "extend-select"])
def test_unknown_rule_in_the_configuration(key: str, project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err = config_error(project, capsys, f'{key} = ["VIL999"]\n')
    assert f"{key!r}: unknown rule selector 'VIL999'" in err


def test_unknown_rule_in_per_file_ignores(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    err = config_error(project, capsys, '[per-file-ignores]\n"legacy/*" = ["VIL02x"]\n')
    assert "per-file-ignores 'legacy/*': unknown rule selector 'VIL02x'" in err


# --- What the keys do ---------------------------------------------------------------------

def test_select_ignore_and_names(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", MIXED)
    write(project / ".valohai-image-lint.toml",
          'select = ["VIL00"]\nignore = ["invalid-image-reference"]\n')
    assert lint_codes(capsys, "valohai.yaml")[1] == ["VIL001", "VIL002"]


def test_fail_level(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", "- step: {name: a, image: team.azurecr.io/app:1.0}\n")
    write(project / ".valohai-image-lint.toml",
          'private-registries = ["docker.io/x/*"]\nfail-level = "error"\n')
    code, codes, _ = lint_codes(capsys, "valohai.yaml")
    assert (code, codes) == (0, ["VIL011"])


def test_per_file_ignores(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in ("legacy/old", "new", "other"):
        write(project / folder / "valohai.yaml", MIXED)
    write(project / ".valohai-image-lint.toml", (
        "[per-file-ignores]\n"
        '"legacy/*" = ["VIL001", "floating-tag"]\n'  # globs match across "/" like fnmatch
        '"new/valohai.yaml" = ["VIL00"]\n'
    ))
    capsys.readouterr()
    cli.main(["--format", "concise", "."])
    lines = capsys.readouterr().out.splitlines()
    by_file: dict[str, list[str]] = {}
    for line in lines:
        path, rest = line.split(":", 1)
        by_file.setdefault(path, []).append(rest.split(": ")[1].split()[0])
    assert by_file == {
        "legacy/old/valohai.yaml": ["VIL004"],
        "other/valohai.yaml": ["VIL001", "VIL002", "VIL004"],
    }


def test_per_file_ignores_are_relative_to_the_configuration(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "legacy" / "valohai.yaml", MIXED)
    write(project / ".valohai-image-lint.toml", '[per-file-ignores]\n"legacy/*" = ["ALL"]\n')
    # Run from inside the folder: the path given is "valohai.yaml", the glob still applies.
    monkeypatch.chdir(project / "legacy")
    code, codes, _ = lint_codes(capsys, "valohai.yaml")
    assert (code, codes) == (0, [])


def test_per_file_ignores_by_file_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "a" / "valohai.yml", MIXED)
    write(project / "b" / "valohai.yaml", MIXED)
    write(project / ".valohai-image-lint.toml", '[per-file-ignores]\n"*.yml" = ["ALL"]\n')
    capsys.readouterr()
    cli.main(["--format", "concise", "."])
    assert {line.split(":")[0] for line in capsys.readouterr().out.splitlines()} == {
        "b/valohai.yaml"}


def test_per_file_ignores_never_hide_a_file_that_is_not_text(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # VIL000 is a syntax error, as in ruff: no per-file-ignores entry silences it.
    (project / "bin").mkdir()
    (project / "bin" / "valohai.yaml").write_bytes(b"\x00\x01\x02")
    write(project / ".valohai-image-lint.toml", '[per-file-ignores]\n"bin/*" = ["ALL"]\n')
    assert lint_codes(capsys, "bin/valohai.yaml")[:2] == (1, ["VIL000"])


def test_floating_tags_and_registries_reach_the_rules(project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "valohai.yaml", (
        "- step: {name: a, image: myorg/app:dev}\n"
        "- step: {name: b, image: quay.io/x/y:1.0}\n"
    ))
    write(project / ".valohai-image-lint.toml", (
        'floating-tags = ["dev"]\n'
        'private-registries = ["docker.io/myorg/*"]\n'
        'allowed-registries = ["docker.io/myorg/*"]\n'
    ))
    assert lint_codes(capsys, "valohai.yaml")[1] == ["VIL002", "VIL010", "VIL012"]


# --- Value parsing ------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("4 GB", 4_000_000_000),
    ("4GB", 4_000_000_000),
    ("4 gb", 4_000_000_000),
    ("3.5GiB", int(3.5 * 2**30)),
    ("3.5 GiB", 3_758_096_384),
    ("500 MB", 500_000_000),
    ("512 MiB", 512 * 2**20),
    ("1 TB", 10**12),
    ("10 kB", 10_000),
    ("1 KiB", 1024),
    ("123", 123),
    ("123 B", 123),
    (" 2 GB ", 2_000_000_000),
    (4_000_000_000, 4_000_000_000),
    (0, 0),
])
def test_max_image_size_parsing(text: object, expected: int) -> None:
    assert parse_size(text) == expected
    assert config_from_table({"max-image-size": text}, "t.toml", ".").max_image_size == expected


@pytest.mark.parametrize("bad", ["4 G", "four GB", "GB", "-1 GB", "1.2.3 GB", "4 GBs", "", -5,
                                 True, 4.0, None, ["4 GB"]])
def test_max_image_size_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)
    with pytest.raises(ConfigError, match="'max-image-size' must be a size"):
        config_from_table({"max-image-size": bad}, "t.toml", ".")


def test_image_sizes_are_parsed() -> None:
    config = config_from_table({"image-sizes": {"python": "1 GB", "myorg/app:2": 5}}, "t", ".")
    assert config.image_sizes == (("python", 10**9), ("myorg/app:2", 5))


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64", "linux/arm64/v8",
                                      "linux/arm/v7", "windows/amd64", "linux/ppc64le"])
def test_platform_accepts(platform: str) -> None:
    assert config_from_table({"platform": platform}, "t.toml", ".").platform == platform


@pytest.mark.parametrize("platform", ["linux", "Linux/AMD64", "linux/amd64/", "/amd64",
                                      "linux/amd64/v8/x", "linux amd64", ""])
def test_platform_rejects(platform: str) -> None:
    with pytest.raises(ConfigError, match="'platform' must be a platform such as"):
        config_from_table({"platform": platform}, "t.toml", ".")


def test_every_documented_key_is_accepted() -> None:
    table = {
        "select": ["ALL"], "ignore": ["VIL003"], "extend-select": [],
        "per-file-ignores": {"legacy/*": ["VIL002"]}, "fail-level": "info",
        "private-registries": ["docker.io/myorg/*"], "private-hosts": ["reg.example.com"],
        "allowed-registries": ["docker.io/library/*"], "floating-tags": ["latest"],
        "max-image-size": "4 GB", "platform": "linux/arm64", "image-sizes": {"python": "1 GB"},
        "online": False, "cache-dir": "cache", "insecure-registries": ["localhost:5000"],
    }
    config = config_from_table(table, "t.toml", "/project")
    assert config.fail_level is Severity.INFO
    assert config.per_file_ignores == (("legacy/*", ("VIL002",)),)
    assert config.insecure_registries == ("localhost:5000",)
    assert config.cache_dir == str(Path("/project/cache"))


def test_config_errors_name_the_file_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_table({"fail-level": 3}, "/x/pyproject.toml", "/x")
    assert str(info.value).startswith("/x/pyproject.toml: 'fail-level' must be")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is only in 3.11+")
def test_toml_is_not_imported_without_a_configuration_file(tmp_path: Path) -> None:
    """Start-up cost: the TOML parser is loaded only when there is a file to read."""
    import subprocess

    code = ("import sys; from valohai_image_lint.config import discover_config; "
            "discover_config(); print('tomllib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
