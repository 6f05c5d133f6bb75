"""--fix, --unsafe-fixes, --diff and --show-fixes through the real command line.

Fixture pairs in fixtures/fix (top of the repository): ``x.yaml`` becomes ``x.fixed.yaml`` with
``--fix --unsafe-fixes`` and the configuration ``x.toml`` (or ``default.toml``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from unprivileged import as_unprivileged, shared_directory
from valohai_image_lint import cli
from valohai_image_lint.rules import all_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"
INPUTS = sorted(p for p in FIXTURES.glob("*.yaml") if not p.name.endswith(".fixed.yaml"))


# Fixtures that keep a problem at or above the fail level after fixing (exit 1); every other
# one is clean once fixed (exit 0).
EXIT_AFTER_FIXING = {
    "quoted": 1,  # its invalid image (VIL004) has no fix
    # The anchored image is also a parameter default: its own site keeps VIL010, unfixed.
    "anchor_shared_with_parameter": 1,
}


def config_for(fixture: Path) -> Path:
    own = fixture.with_suffix(".toml")
    return own if own.exists() else FIXTURES / "default.toml"


def expected_for(fixture: Path) -> bytes:
    return fixture.with_name(fixture.stem + ".fixed.yaml").read_bytes()


def run(
    args: list[str], cwd: Path, stdin: Optional[bytes] = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", *args],
        cwd=cwd, input=stdin, capture_output=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def copy_fixture(fixture: Path, tmp_path: Path, name: str = "valohai.yaml") -> Path:
    target = tmp_path / name
    shutil.copyfile(fixture, target)
    return target


@pytest.mark.parametrize("fixture", INPUTS, ids=lambda p: p.stem)
def test_fix_gives_the_fixed_fixture_and_a_second_fix_changes_nothing(
    fixture: Path, tmp_path: Path
) -> None:
    target = copy_fixture(fixture, tmp_path)
    config = str(config_for(fixture))
    first = run(["--fix", "--unsafe-fixes", "--config", config, str(target)], tmp_path)
    assert first.returncode == EXIT_AFTER_FIXING.get(fixture.stem, 0), first.stderr
    assert target.read_bytes() == expected_for(fixture)
    assert b"fixed" in first.stderr

    second = run(["--fix", "--unsafe-fixes", "--config", config, "--format", "json",
                  str(target)], tmp_path)
    assert target.read_bytes() == expected_for(fixture)
    remaining = json.loads(second.stdout)
    assert [d for d in remaining if d["fix"] is not None] == []
    assert second.returncode == first.returncode


@pytest.mark.parametrize("fixture", INPUTS, ids=lambda p: p.stem)
def test_fixed_fixture_is_a_fixed_point(fixture: Path, tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_bytes(expected_for(fixture))
    result = run(["--diff", "--unsafe-fixes", "--config", str(config_for(fixture)),
                  str(target)], tmp_path)
    assert result.stdout == b""
    assert target.read_bytes() == expected_for(fixture)


def test_every_offline_fixable_rule_has_a_fixture_pair(tmp_path: Path) -> None:
    fixable = {code for code, rule in all_rules().items()
               if rule.fix_applicability is not None and not rule.fix_needs_online}
    assert {"VIL010", "VIL021"} <= fixable
    covered: set[str] = set()
    for fixture in INPUTS:
        result = run(["--format", "json", "--config", str(config_for(fixture)),
                      str(fixture)], tmp_path)
        covered |= {d["code"] for d in json.loads(result.stdout) if d["fix"] is not None}
    assert fixable <= covered


# ---------------------------------------------------------------------------------------------
# The JSON edits, applied by a helper that shares no code with the linter, give the --fix result.


def _offsets_of_lines(text: str) -> list[int]:
    """Offsets where each 1-based line starts; CRLF, LF and CR end lines."""
    starts = [0]
    i = 0
    while i < len(text):
        if text[i] == "\r" and text[i + 1 : i + 2] == "\n":
            starts.append(i + 2)
            i += 2
            continue
        if text[i] in "\r\n":
            starts.append(i + 1)
        i += 1
    return starts


def apply_json_edits(data: bytes, diagnostics: list[dict[str, Any]]) -> bytes:
    """Apply the ``fix.edits`` of ``diagnostics`` to ``data`` the way the format describes
    them: 1-based lines and columns in code points of the text after any BOM, exclusive
    ends. Identical edits count once; an edit overlapping one already taken waits."""
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    starts = _offsets_of_lines(text)

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    taken: list[tuple[int, int, str]] = []
    for diagnostic in diagnostics:
        fix = diagnostic["fix"]
        if fix is None:
            continue
        edits = [(offset(e["line"], e["column"]), offset(e["end_line"], e["end_column"]),
                  e["content"]) for e in fix["edits"]]
        fresh = [e for e in edits if e not in taken]
        if any(s < t_end and t_start < end for s, end, _ in fresh for t_start, t_end, _ in taken):
            continue
        taken.extend(fresh)
    for start, end, content in sorted(taken, reverse=True):
        text = text[:start] + content + text[end:]
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


@pytest.mark.parametrize("fixture", INPUTS, ids=lambda p: p.stem)
def test_json_edits_applied_independently_equal_the_fix(fixture: Path, tmp_path: Path) -> None:
    target = copy_fixture(fixture, tmp_path)
    config = str(config_for(fixture))
    # Fixes that overlap apply over several passes: repeat as --fix does.
    for _ in range(10):
        result = run(["--format", "json", "--unsafe-fixes", "--config", config, str(target)],
                     tmp_path)
        diagnostics = json.loads(result.stdout)
        if not any(d["fix"] for d in diagnostics):
            break
        target.write_bytes(apply_json_edits(target.read_bytes(), diagnostics))
    assert target.read_bytes() == expected_for(fixture)


# ---------------------------------------------------------------------------------------------
# Safe and unsafe, exit codes, --show-fixes


def test_unsafe_fixes_need_the_option(tmp_path: Path) -> None:
    fixture = FIXTURES / "crlf_bom.yaml"
    target = copy_fixture(fixture, tmp_path)
    result = run(["--fix", "--config", str(config_for(fixture)), str(target)], tmp_path)
    data = target.read_bytes()
    assert b"docker.io/myorg/app:1" in data  # VIL010, safe: applied
    assert b'"python:3.11"' in data  # VIL021, unsafe: not applied
    assert result.returncode == 0  # VIL021 is info, below the default fail level
    assert b"apply with --fix --unsafe-fixes" in result.stderr
    assert b"VIL021" in result.stdout


def test_exit_code_after_fixing_reflects_what_remains(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text("- step:\n    name: a\n    image: myorg/app:1\n")
    config = str(FIXTURES / "default.toml")
    assert run([str(target), "--config", config], tmp_path).returncode == 1
    assert run(["--fix", str(target), "--config", config], tmp_path).returncode == 0
    target.write_text("- step:\n    name: a\n    image: myorg/app:1\n"
                      "- step:\n    name: b\n    image: python:latest\n")
    result = run(["--fix", str(target), "--config", config], tmp_path)
    assert result.returncode == 1  # VIL002 has no offline fix
    assert b"(1 fixed, 1 remaining)" in result.stderr
    assert b"VIL002" in result.stdout and b"VIL010" not in result.stdout


def test_show_fixes_lists_what_was_applied(tmp_path: Path) -> None:
    target = copy_fixture(FIXTURES / "anchored.yaml", tmp_path)
    result = run(["--fix", "--unsafe-fixes", "--show-fixes", "--config",
                  str(FIXTURES / "default.toml"), str(target)], tmp_path)
    out = result.stdout.decode()
    assert "Fixed 5 problems:" in out
    assert f"- {target}:" in out
    assert "3 \u00d7 VIL010 (private-image-short-name): Write the full name" in out
    assert "2 \u00d7 VIL021 (heavy-variant): Switch to the lighter" in out


def test_full_output_shows_the_fix_title(tmp_path: Path) -> None:
    target = copy_fixture(FIXTURES / "noqa.yaml", tmp_path)
    result = run(["--config", str(FIXTURES / "default.toml"), str(target)], tmp_path)
    assert "= fix: Write the full name `docker.io/myorg/app:1` (safe fix)" in result.stdout.decode()


# ---------------------------------------------------------------------------------------------
# --diff and stdin


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    target = copy_fixture(FIXTURES / "no_final_newline.yaml", tmp_path)
    before = target.read_bytes()
    mtime = target.stat().st_mtime_ns
    result = run(["--diff", "--config", str(FIXTURES / "default.toml"), "valohai.yaml"],
                 tmp_path)
    assert result.returncode == 1
    assert result.stdout.decode() == (
        "--- a/valohai.yaml\n"
        "+++ b/valohai.yaml\n"
        "@@ -1,4 +1,4 @@\n"
        " - step:\n"
        "     name: train\n"
        "     command: python train.py\n"
        "-    image: myorg/app:1\n"
        "\\ No newline at end of file\n"
        "+    image: docker.io/myorg/app:1\n"
        "\\ No newline at end of file\n"
    )
    assert b"Would fix 1 problem in 1 file." in result.stderr
    assert target.read_bytes() == before
    assert target.stat().st_mtime_ns == mtime


def test_diff_without_fixes_is_empty_and_exits_by_what_remains(tmp_path: Path) -> None:
    target = tmp_path / "valohai.yaml"
    target.write_text("- step:\n    name: a\n    image: python:3.11-slim\n")
    result = run(["--diff", str(target)], tmp_path)
    assert (result.stdout, result.returncode) == (b"", 0)
    target.write_text("- step:\n    name: a\n    image: python:latest\n")
    result = run(["--diff", str(target)], tmp_path)
    assert (result.stdout, result.returncode) == (b"", 1)


@pytest.mark.parametrize("name", ["crlf_bom", "vil010_short_names", "no_final_newline",
                                  "unicode"])
def test_git_apply_of_the_diff_gives_the_fix(name: str, tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    fixture = FIXTURES / f"{name}.yaml"
    target = copy_fixture(fixture, tmp_path)
    result = run(["--diff", "--unsafe-fixes", "--config", str(config_for(fixture)),
                  "valohai.yaml"], tmp_path)
    patch = tmp_path / "fix.patch"
    patch.write_bytes(result.stdout)
    applied = subprocess.run([git, "apply", "--whitespace=nowarn", str(patch)], cwd=tmp_path,
                             capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert target.read_bytes() == expected_for(fixture)


def test_fix_on_stdin_prints_the_fixed_text_and_diagnostics_go_to_stderr(tmp_path: Path) -> None:
    fixture = FIXTURES / "crlf_bom.yaml"
    result = run(["--fix", "--unsafe-fixes", "--config", str(config_for(fixture)),
                  "--stdin-filename", "valohai.yaml", "-"], tmp_path, stdin=fixture.read_bytes())
    assert result.stdout == expected_for(fixture)
    assert result.returncode == 0
    assert b"(2 fixed, 0 remaining)" in result.stderr


def test_fix_on_stdin_without_fixes_echoes_the_input(tmp_path: Path) -> None:
    data = b"- step:\n    name: a\n    image: python:latest  # floats\n"
    result = run(["--fix", "-"], tmp_path, stdin=data)
    assert result.stdout == data
    assert b"VIL002" in result.stderr
    assert result.returncode == 1


def test_diff_on_stdin(tmp_path: Path) -> None:
    data = b"- step: {name: a, image: myorg/app:1}\n"
    result = run(["--diff", "--config", str(FIXTURES / "default.toml"),
                  "--stdin-filename", "ci/valohai.yaml", "-"], tmp_path, stdin=data)
    assert result.stdout.decode().splitlines()[:2] == ["--- a/ci/valohai.yaml",
                                                        "+++ b/ci/valohai.yaml"]
    assert "+- step: {name: a, image: docker.io/myorg/app:1}" in result.stdout.decode()


# ---------------------------------------------------------------------------------------------
# Writing: symlinks, permissions, a file that changed meanwhile


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlink_is_kept_and_its_target_fixed(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = copy_fixture(FIXTURES / "vil010_short_names.yaml", real_dir)
    link = tmp_path / "valohai.yaml"
    link.symlink_to(os.path.relpath(target, tmp_path))
    result = run(["--fix", "--config", str(FIXTURES / "default.toml"), "valohai.yaml"],
                 tmp_path)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("real", "valohai.yaml")
    assert target.read_bytes() == expected_for(FIXTURES / "vil010_short_names.yaml")
    assert [p.name for p in real_dir.iterdir()] == ["valohai.yaml"]  # no temporary left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permissions_are_kept(tmp_path: Path) -> None:
    target = copy_fixture(FIXTURES / "quoted.yaml", tmp_path)
    target.chmod(0o640)
    run(["--fix", "--config", str(FIXTURES / "default.toml"), str(target)], tmp_path)
    assert b"'docker.io/myorg/app:1'" in target.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_file_changed_on_disk_after_reading_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from valohai_image_lint import fixes

    target = copy_fixture(FIXTURES / "vil010_short_names.yaml", tmp_path)
    edited_meanwhile = target.read_bytes() + b"# an edit made while the linter ran\n"
    real_fix_source = fixes.fix_source

    def fix_source_while_someone_edits(*args: Any, **kwargs: Any) -> fixes.FixOutcome:
        outcome = real_fix_source(*args, **kwargs)
        target.write_bytes(edited_meanwhile)
        return outcome

    monkeypatch.setattr(fixes, "fix_source", fix_source_while_someone_edits)
    code = cli.main(["--fix", "--config", str(FIXTURES / "default.toml"), str(target)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {target}: changed on disk while it was being fixed; not written" in err
    assert "Traceback" not in err
    assert target.read_bytes() == edited_meanwhile


def test_unwritable_directory_is_a_clear_error() -> None:
    """The directory is read-only for the user running the fix (as root, the fix runs as
    nobody, for whom the mode binds): one clear line, exit 2, the file as it was."""
    directory = shared_directory()
    folder = directory / "ro"
    try:
        folder.mkdir()
        target = copy_fixture(FIXTURES / "vil010_short_names.yaml", folder)
        target.chmod(0o666)
        folder.chmod(0o555)
        result = subprocess.run(
            as_unprivileged([sys.executable, "-m", "valohai_image_lint", "--fix", "--config",
                             str(FIXTURES / "default.toml"), str(target)]),
            cwd=directory, capture_output=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
        assert result.returncode == 2, result.stderr
        assert (f"error: {target}: cannot write a temporary file beside it: Permission denied"
                .encode() in result.stderr)
        assert b"Traceback" not in result.stderr
        assert target.read_bytes() == (FIXTURES / "vil010_short_names.yaml").read_bytes()
    finally:
        folder.chmod(0o755)
        shutil.rmtree(directory)


def test_fix_on_stdin_passes_undecodable_input_through(tmp_path: Path) -> None:
    data = b'- step: {name: a, image: "\xff"}\n'
    result = run(["--fix", "-"], tmp_path, stdin=data)
    assert result.stdout == data
    assert b"VIL000" in result.stderr
    assert result.returncode == 1


def _many_steps(count: int) -> bytes:
    # Repetitive lines are what made difflib's matcher quadratic.
    step = "- step:\n    name: s{i}\n    image: myorg/app:{i}\n    command: python train.py\n"
    return "".join(step.format(i=i) for i in range(count)).encode()


def test_fix_and_diff_of_a_large_file_finish_in_bounded_time(tmp_path: Path) -> None:
    """10 000 fixes in one file: --diff and --fix stay linear (difflib alone took minutes)."""
    git = shutil.which("git")
    original = _many_steps(10_000)
    target = tmp_path / "valohai.yaml"
    target.write_bytes(original)
    config = tmp_path / ".valohai-image-lint.toml"
    config.write_text('private-registries = ["docker.io/myorg/*"]\n')
    diff = subprocess.run([sys.executable, "-m", "valohai_image_lint", "--diff", "valohai.yaml"],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert diff.returncode == 1, diff.stderr
    assert target.read_bytes() == original
    assert diff.stdout.count(b"\n+    image: docker.io/myorg/app:") == 10_000
    fixed = run(["--fix", "valohai.yaml"], tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    expected = original.replace(b"image: myorg/", b"image: docker.io/myorg/")
    assert target.read_bytes() == expected
    if git is not None:
        target.write_bytes(original)
        (tmp_path / "fix.patch").write_bytes(diff.stdout)
        applied = subprocess.run([git, "apply", "fix.patch"], cwd=tmp_path, capture_output=True)
        assert applied.returncode == 0, applied.stderr
        assert target.read_bytes() == expected
