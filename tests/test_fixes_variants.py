"""VIL021 heavy-variant: the built-in table, the `lighter-variants` option, the fix."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from valohai_image_lint.config import Config, ConfigError, config_from_table
from valohai_image_lint.data.lighter_variants import parse_lighter_variants
from valohai_image_lint.linter import lint_source
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.rules import find_rule, select_rules
from valohai_image_lint.rules.vil021_heavy_variant import find_lighter
from valohai_image_lint.source import SourceFile


def lighter(image: str, config: Optional[Config] = None) -> Optional[str]:
    found = find_lighter(parse_reference(image), (config or Config()).lighter_variants)
    return None if found is None else found[0]


@pytest.mark.parametrize(("image", "tag"), [
    ("nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04", "12.1.0-cudnn8-runtime-ubuntu22.04"),
    ("nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "12.4.1-cudnn-runtime-ubuntu22.04"),
    ("nvidia/cuda:11.8.0-devel-ubuntu20.04", "11.8.0-runtime-ubuntu20.04"),
    ("nvidia/cuda:12.2.2-devel-ubi8", "12.2.2-runtime-ubi8"),
    ("nvcr.io/nvidia/cuda:12.1.0-devel-rockylinux9", "12.1.0-runtime-rockylinux9"),
    ("index.docker.io/nvidia/cuda:12.1.0-devel-ubuntu22.04", "12.1.0-runtime-ubuntu22.04"),
    ("pytorch/pytorch:2.2.0-cuda12.1-cudnn8-devel", "2.2.0-cuda12.1-cudnn8-runtime"),
    ("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel", "2.5.1-cuda12.4-cudnn9-runtime"),
    ("python:3", "3-slim"),
    ("python:3.11", "3.11-slim"),
    ("docker.io/library/python:3.11.9", "3.11.9-slim"),
    ("python:3.11-bookworm", "3.11-slim-bookworm"),
    ("python:3.9-bullseye", "3.9-slim-bullseye"),
    ("python:3.7-buster", "3.7-slim-buster"),
    ("python:3.13-trixie", "3.13-slim-trixie"),
    ("tensorflow/tensorflow:2.15.0-gpu-jupyter", "2.15.0-gpu"),
    ("tensorflow/tensorflow:2.15.0-jupyter", "2.15.0"),
    ("tensorflow/tensorflow:latest-gpu-jupyter", "latest-gpu"),
])
def test_documented_lighter_variants(image: str, tag: str) -> None:
    assert lighter(image) == tag


@pytest.mark.parametrize("image", [
    "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04",  # already the runtime
    "nvidia/cuda:12.1.0-base-ubuntu22.04",
    "nvidia/cuda:12.1.0-devel",  # no OS: not a scheme upstream publishes now
    "nvidia/cuda:devel-ubuntu22.04",
    "myorg/cuda:12.1.0-devel-ubuntu22.04",  # another repository
    "pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime",
    "pytorch/pytorch:latest",
    "pytorch/pytorch:2.2.0-devel",
    "python:3.11-slim",
    "python:3.11-slim-bookworm",
    "python:3.11-alpine",
    "python:3.11-windowsservercore",
    "python:3.11-bookworm-extra",
    "python:3.11rc1",
    "python:latest",
    "python",
    "ghcr.io/someone/python:3.11",
    "tensorflow/tensorflow:2.15.0-gpu",
    "tensorflow/tensorflow:2.15.0-rocm-jupyter",
    "tensorflow/serving:2.15.0-jupyter",
])
def test_no_suggestion_outside_the_schemes(image: str) -> None:
    assert lighter(image) is None


def lint(text: str, config: Optional[Config] = None) -> list[tuple[str, Optional[str]]]:
    rules = select_rules(None, (), ())
    diagnostics = lint_source(SourceFile("valohai.yaml", text), config or Config(), rules)
    return [(f"{d.message} | {d.help}", d.fix.edits[0].content if d.fix else None)
            for d in diagnostics if d.code == "VIL021"]


def test_the_written_form_is_kept() -> None:
    text = ("- step: {name: a, image: 'python:3.11'}\n"
            "- step: {name: b, image: \"docker.io/library/python:3.11\"}\n"
            "- step: {name: c, image: index.docker.io/library/python:3.11}\n")
    assert [fix for _, fix in lint(text)] == [
        "'python:3.11-slim'",
        '"docker.io/library/python:3.11-slim"',
        "index.docker.io/library/python:3.11-slim",
    ]


def test_a_digest_is_reported_without_a_fix() -> None:
    digest = "sha256:" + "a" * 64
    found = lint(f"- step: {{name: a, image: python:3.11@{digest}}}\n")
    assert len(found) == 1
    message, fix = found[0]
    assert fix is None
    assert "has a lighter tag '3.11-slim' |" in message
    assert "digest pins the heavy image" in message.split(" | ")[1]


def test_severity_info_and_unsafe() -> None:
    rule = find_rule("heavy-variant")
    assert (rule.code, str(rule.severity), str(rule.fix_applicability)) == \
        ("VIL021", "info", "unsafe")
    assert rule.default_enabled


def test_the_doc_says_when_devel_is_needed() -> None:
    doc = find_rule("VIL021").documentation()
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead",
                    "## Options", "## Fix"):
        assert section in doc
    assert "nvcc" in doc
    assert "compiles CUDA code" in doc and "CUDA/C++ extensions" in doc


# ---------------------------------------------------------------------------------------------
# The lighter-variants option


MYORG = [{"repositories": ["myorg/base"], "tag": r"(?P<v>[0-9.]+)-full",
          "lighter": "{v}-slim", "note": "-full adds the toolchain"}]


def test_configured_variants_extend_the_table() -> None:
    config = config_from_table({"lighter-variants": MYORG}, "pyproject.toml", ".")
    assert config.lighter_variants[0].repositories == ("docker.io/myorg/base",)
    assert lighter("myorg/base:1.2-full", config) == "1.2-slim"
    assert lighter("docker.io/myorg/base:1.2-full", config) == "1.2-slim"
    assert lighter("python:3.11", config) == "3.11-slim"  # built-ins still apply
    found = lint("- step: {name: a, image: myorg/base:1.2-full}\n", config)
    assert found == [("image 'myorg/base:1.2-full' has a lighter tag '1.2-slim'"
                      " | -full adds the toolchain", "myorg/base:1.2-slim")]


def test_a_template_that_makes_an_invalid_tag_offers_nothing() -> None:
    config = config_from_table(
        {"lighter-variants": [{"repositories": "myorg/base", "tag": "(?P<v>.+)-full",
                               "lighter": "-{v}"}]}, "x.toml", ".")
    assert lint("- step: {name: a, image: myorg/base:1-full}\n", config) == []


@pytest.mark.parametrize(("value", "message"), [
    ({"repositories": ["a"]}, "a list of tables such as"),
    (["a"], "entry 1 is not a table"),
    ([{"repositories": ["a"], "tag": "x", "lighter": "y", "extra": 1}],
     "unknown field 'extra'"),
    ([{"tag": "x", "lighter": "y"}], "needs repositories"),
    ([{"repositories": [], "tag": "x", "lighter": "y"}], "needs repositories"),
    ([{"repositories": ["Bad/Name"], "tag": "x", "lighter": "y"}], "must be lowercase"),
    ([{"repositories": ["a:1"], "tag": "x", "lighter": "y"}], "must not have a tag"),
    ([{"repositories": ["a"], "tag": 1, "lighter": "y"}], "needs tag and lighter"),
    ([{"repositories": ["a"], "tag": "(", "lighter": "y"}], "not a valid regular expression"),
    ([{"repositories": ["a"], "tag": "(?P<v>x)", "lighter": "{w}"}], "uses {w}"),
    ([{"repositories": ["a"], "tag": "x", "lighter": "{"}], "not a valid template"),
])
def test_bad_lighter_variants_are_configuration_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_lighter_variants(value)
    with pytest.raises(ConfigError, match=r"x\.toml: 'lighter-variants' must be"):
        config_from_table({"lighter-variants": value}, "x.toml", ".")


def test_bad_lighter_variants_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".valohai-image-lint.toml").write_text(
        '[[lighter-variants]]\nrepositories = ["a"]\ntag = "("\nlighter = "b"\n')
    (tmp_path / "valohai.yaml").write_text("- step: {name: a, image: python:3.11}\n")
    result = subprocess.run([sys.executable, "-m", "valohai_image_lint", "valohai.yaml"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'lighter-variants' must be" in result.stderr
    assert "Traceback" not in result.stderr


def test_configured_variant_fixes_through_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.valohai-image-lint]\n"
        "[[tool.valohai-image-lint.lighter-variants]]\n"
        'repositories = ["registry.example.com/ml/train"]\n'
        "tag = '(?P<v>[0-9.]+)-cuda-devel'\n"
        'lighter = "{v}-cuda-runtime"\n')
    target = tmp_path / "valohai.yaml"
    target.write_text("- step:\n    name: a\n"
                      "    image: registry.example.com/ml/train:4.1-cuda-devel  # ours\n")
    result = subprocess.run([sys.executable, "-m", "valohai_image_lint", "--fix",
                             "--unsafe-fixes", "valohai.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == ("- step:\n    name: a\n    image:"
                                  " registry.example.com/ml/train:4.1-cuda-runtime  # ours\n")


def test_the_rule_knows_which_repositories_the_table_lists() -> None:
    """VIL021 imports its table only for an image of a listed repository."""
    from valohai_image_lint.data.lighter_variants import BUILTIN_VARIANTS
    from valohai_image_lint.rules.vil021_heavy_variant import BUILTIN_REPOSITORIES

    assert {r for v in BUILTIN_VARIANTS for r in v.repositories} == BUILTIN_REPOSITORIES
