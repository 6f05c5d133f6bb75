"""Registry patterns (rules/_patterns.py), in-process, and what they mean for VIL010/VIL012.

The expected answers are written from the documented meaning (README, "Registry patterns"),
not from what the code happens to return.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from valohai_image_lint import cli
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.rules._patterns import (
    any_pattern_matches,
    full_name_candidates,
    glob_matches,
    host_matches,
    pattern_matches,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("pattern", "image", "expected"), [
    # `*` matches any characters, `/` included.
    ("docker.io/myorg/*", "docker.io/myorg/app:1.0", True),
    ("docker.io/myorg/*", "docker.io/myorg/team/app:1.0", True),
    ("docker.io/myorg/*", "docker.io/other/app:1.0", False),
    ("docker.io/myorg/*", "docker.io/myorganisation/app:1.0", False),
    ("*/myorg/*", "ghcr.io/myorg/app:1", True),
    ("docker.io/*/app:*", "docker.io/x/app:2", True),
    ("docker.io/*/app:*", "docker.io/x/app", False),
    # Everything else in a glob is literal, regex metacharacters included.
    ("docker.io/my.org/*", "docker.io/myxorg/app:1", False),
    ("docker.io/my.org/*", "docker.io/my.org/app:1", True),
    ("ghcr.io/a+b/*", "ghcr.io/aab/x", False),
    # A `*` must still match the whole image, not a prefix of it.
    ("ghcr.io/*/x", "ghcr.io/a/x/y", False),
    # The glob may also span a newline-free image in full (DOTALL: `*` is really "anything").
    ("ghcr.io/*", "ghcr.io/org/app\n", True),
    # A pattern without `*`: that repository with any tag or digest, and repositories below.
    ("docker.io/myorg/app", "docker.io/myorg/app:1.0", True),
    ("docker.io/myorg/app", f"docker.io/myorg/app@{DIGEST}", True),
    ("docker.io/myorg/app", f"docker.io/myorg/app:1.0@{DIGEST}", True),
    ("docker.io/myorg/app", "docker.io/myorg/app", True),
    ("docker.io/myorg/app", "docker.io/myorg/app/worker:1", True),
    ("docker.io/myorg/app", "docker.io/myorg/application:1", False),
    ("docker.io/myorg/app", "docker.io/myorg:app", False),
    ("docker.io/myorg/app/", "docker.io/myorg/app:2", True),
    ("docker.io/myorg/app//", "docker.io/myorg/app:2", True),
    # Only trailing slashes are dropped: every other character counts.
    ("docker.io/myorg/appX", "docker.io/myorg/app:2", False),
    ("docker.io/myorg/ap", "docker.io/myorg/app:2", False),
    ("docker.io/myorg", "docker.io/myorg/app:2", True),
    ("docker.io/myorg", "docker.io/myorgx/app:2", False),
    # A registry with a port: its colon is no tag separator.
    ("localhost:5000/team", "localhost:5000/team/app:1", True),
    ("localhost:5000/team/app", "localhost:5000/team/app", True),
    ("localhost:5000/team/app", "localhost:5000/team/app:3", True),
    ("localhost:5000/team/app", "localhost:5001/team/app:3", False),
    # A bare host, or a host glob: everything on that host.
    ("myregistry.azurecr.io", "myregistry.azurecr.io/app:1", True),
    ("myregistry.azurecr.io/", "myregistry.azurecr.io/team/app:1", True),
    ("myregistry.azurecr.io", "other.azurecr.io/app:1", False),
    ("myregistry.azurecr.io", "myregistry.azurecr.io", False),  # a host alone is no image
    ("*.azurecr.io", "myregistry.azurecr.io/app:1", True),
    ("*.azurecr.io", "azurecr.io.evil.com/app:1", False),
    ("localhost:5000", "localhost:5000/app:1", True),
    ("localhost:5000", "localhost:5001/app:1", False),
    # Surrounding spaces are ignored; an empty pattern matches nothing.
    ("  docker.io/myorg/*  ", "docker.io/myorg/app:1", True),
    ("", "docker.io/myorg/app:1", False),
    ("   ", "docker.io/myorg/app:1", False),
])
def test_pattern_matches(pattern: str, image: str, expected: bool) -> None:
    assert pattern_matches(pattern, image) is expected


def test_any_pattern_matches() -> None:
    assert any_pattern_matches(("quay.io/*", "docker.io/myorg/*"), "docker.io/myorg/a:1")
    assert not any_pattern_matches(("quay.io/*", "docker.io/myorg/*"), "ghcr.io/myorg/a:1")
    assert not any_pattern_matches((), "docker.io/myorg/a:1")


@pytest.mark.parametrize(("image", "candidates"), [
    ("python:3", ["docker.io/python:3", "docker.io/library/python:3",
                  "index.docker.io/python:3", "index.docker.io/library/python:3"]),
    ("myorg/app:1", ["docker.io/myorg/app:1", "index.docker.io/myorg/app:1"]),
    (f"myorg/app@{DIGEST}", [f"docker.io/myorg/app@{DIGEST}",
                             f"index.docker.io/myorg/app@{DIGEST}"]),
    ("index.docker.io/myorg/app", ["docker.io/myorg/app", "index.docker.io/myorg/app"]),
    # Docker Hub with a dotted first component keeps docker.io/ in its familiar form.
    ("docker.io/foo.bar/app:1", ["docker.io/foo.bar/app:1", "index.docker.io/foo.bar/app:1"]),
    ("ghcr.io/org/app:1", ["ghcr.io/org/app:1"]),
    (f"quay.io/org/app:2@{DIGEST}", [f"quay.io/org/app:2@{DIGEST}"]),
])
def test_full_name_candidates(image: str, candidates: list[str]) -> None:
    assert full_name_candidates(parse_reference(image)) == candidates


@pytest.mark.parametrize(("glob", "host", "expected"), [
    ("registry.example.com", "registry.example.com", True),
    ("registry.example.com", "Registry.Example.COM", True),
    ("REGISTRY.example.com", "registry.example.com", True),
    ("registry.example.com", "registry.example.com:5000", True),
    ("registry.example.com", "registry.example.com:abc", False),
    ("registry.example.com", "registry.example.com:", False),
    ("registry.example.com", "other.example.com:5000", False),
    ("registry.example.com:5000", "registry.example.com:5000", True),
    ("registry.example.com:5000", "registry.example.com:5001", False),
    ("registry.example.com:5000", "registry.example.com", False),
    ("*.example.com", "a.example.com:443", True),
    ("*.example.com", "example.com", False),
    ("registry", "registry.example.com", False),
])
def test_host_matches(glob: str, host: str, expected: bool) -> None:
    assert host_matches(glob, host) is expected


# --- Through the rules (issue 16, behaviour 3) ----------------------------------------------

def lint(tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: str,
         images: list[str]) -> list[tuple[str, str]]:
    """(image, code) for each finding of VIL010/VIL012."""
    steps = "".join(f"- step: {{name: s{i}, image: '{image}'}}\n"
                    for i, image in enumerate(images))
    (tmp_path / "valohai.yaml").write_text(steps, "utf-8")
    (tmp_path / "settings.toml").write_text(settings, "utf-8")
    capsys.readouterr()
    cli.main(["--format", "json", "--select", "VIL010,VIL012", "--config",
              str(tmp_path / "settings.toml"), str(tmp_path / "valohai.yaml")])
    import json

    return [(d["image"], d["code"]) for d in json.loads(capsys.readouterr().out)]


def test_a_pattern_without_star_allows_that_repository_with_any_tag_or_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = lint(tmp_path, capsys, 'allowed-registries = ["docker.io/myorg/app"]\n', [
        "docker.io/myorg/app:1.0",
        f"myorg/app@{DIGEST}",
        f"myorg/app:2@{DIGEST}",
        "index.docker.io/myorg/app:3",
        "docker.io/myorg/application:1.0",
        "ghcr.io/myorg/app:1.0",
    ])
    assert found == [("docker.io/myorg/application:1.0", "VIL012"),
                     ("ghcr.io/myorg/app:1.0", "VIL012")]


def test_a_private_pattern_without_star_covers_the_repository_for_vil010(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = lint(tmp_path, capsys, 'private-registries = ["docker.io/myorg/app"]\n', [
        "myorg/app:1.0", f"myorg/app@{DIGEST}", "docker.io/myorg/app:1.0", "myorg/other:1",
    ])
    assert found == [("myorg/app:1.0", "VIL010"), (f"myorg/app@{DIGEST}", "VIL010")]


@settings(max_examples=examples(500), deadline=None)
@given(st.text(alphabet="ab*/.:", max_size=8), st.text(alphabet="ab/.:", max_size=10))
def test_glob_matches_as_the_regular_expression_would(pattern: str, text: str) -> None:
    """``*`` is any characters, ``/`` included; everything else is itself."""
    import re

    expected = re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text,
                            re.DOTALL) is not None
    assert glob_matches(pattern, text) is expected


@settings(max_examples=examples(500), deadline=None)
@given(st.text(alphabet="al-*?[]!\\", max_size=8), st.text(alphabet="al-*?[]!\\", max_size=8))
def test_floating_tag_patterns_match_as_fnmatch_does(pattern: str, tag: str) -> None:
    """VIL002 matches floating-tags without compiling a pattern that has only ``*``."""
    from fnmatch import fnmatchcase

    from valohai_image_lint.rules.vil002_floating_tag import is_floating

    assert is_floating(tag, (pattern,)) is fnmatchcase(tag, pattern)
