"""VIL004's message and help, exactly, for each kind of reference error.

The rule turns ``parse_reference``'s error into a finding: "invalid image reference: " and the
problem (without the error's own "image reference " prefix), and as help either the advice
that followed the error's last "; write " or, for errors without advice, how Docker reads a
reference. Run in-process through ``lint_source`` with only VIL004 selected.
"""

from __future__ import annotations

import pytest

from valohai_image_lint.config import config_from_table
from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.linter import lint_source
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceFile

GRAMMAR_HELP = (
    "write it as Docker reads it: `[registry/]repository[:tag][@digest]`, the repository in"
    " lowercase"
)


def vil004(image: str) -> list[Diagnostic]:
    text = f"- step: {{name: train, image: '{image}'}}\n"
    config = config_from_table({}, "test", ".")
    return lint_source(SourceFile("valohai.yaml", text), config, select_rules(("VIL004",), (), ()))


@pytest.mark.parametrize(("image", "message", "help_text"), [
    (
        "MyOrg/Train:1.0",
        "invalid image reference: repository name 'MyOrg/Train' must be lowercase (Docker"
        " would read 'MyOrg' as a registry host)",
        GRAMMAR_HELP,
    ),
    (
        "python:-x",
        "invalid image reference: tag '-x' is invalid: it may contain only letters, digits,"
        " '_', '.' and '-', and must not start with '.' or '-'",
        GRAMMAR_HELP,
    ),
    (
        "<<registry/image:tag>>",
        "invalid image reference: contains the template placeholder '<<registry/image:tag>>'",
        "write the real image name",
    ),
    (
        "https://ghcr.io/team/app",
        "invalid image reference: starts with a URL scheme ('https://')",
        "write the registry host and path without it",
    ),
    (
        "${a; write b}",
        "invalid image reference: contains the template placeholder '${a; write b}'",
        "write the real image name",
    ),
    (
        "",
        "invalid image reference: is empty",
        GRAMMAR_HELP,
    ),
], ids=["uppercase", "tag", "placeholder", "url-scheme", "advice-text-in-placeholder", "empty"])
def test_message_and_help(image: str, message: str, help_text: str) -> None:
    (found,) = vil004(image)
    assert (found.code, found.name, found.severity) == (
        "VIL004", "invalid-image-reference", Severity.ERROR
    )
    assert found.message == message
    assert found.help == help_text
    assert found.image == image
    assert found.yaml_path == "[0].step.image"


@pytest.mark.parametrize("image", ["python:3.11", "ghcr.io/team/app@sha256:" + "a" * 64])
def test_a_valid_reference_is_not_reported(image: str) -> None:
    assert vil004(image) == []
