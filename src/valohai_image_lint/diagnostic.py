"""What rules produce: diagnostics with exact spans and optional fixes."""

from __future__ import annotations

import enum
from typing import Optional

from valohai_image_lint._record import FrozenRecord, set_field
from valohai_image_lint.source import Span


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def __str__(self) -> str:
        return self.value


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Applicability(enum.Enum):
    """How safe a fix is: ``safe`` applies with ``--fix``; ``unsafe`` also needs
    ``--unsafe-fixes``."""

    UNSAFE = "unsafe"
    SAFE = "safe"

    def __str__(self) -> str:
        return self.value


class Edit(FrozenRecord):
    """Replace the text of ``span`` with ``content``."""

    __slots__ = ("span", "content")
    span: Span
    content: str

    def __init__(self, span: Span, content: str) -> None:
        set_field(self, "span", span)
        set_field(self, "content", content)


class Fix(FrozenRecord):
    __slots__ = ("title", "edits", "applicability")
    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability

    def __init__(self, title: str, edits: tuple[Edit, ...],
                 applicability: Applicability) -> None:
        set_field(self, "title", title)
        set_field(self, "edits", edits)
        set_field(self, "applicability", applicability)


class Diagnostic(FrozenRecord):
    """One finding. ``message`` states the problem in one short sentence naming the image;
    ``help`` (optional) says what to do about it."""

    __slots__ = ("code", "name", "severity", "message", "path", "span", "yaml_path", "image",
                 "fix", "help")
    code: str
    name: str
    severity: Severity
    message: str
    path: str
    span: Span
    yaml_path: Optional[str]
    image: Optional[str]
    fix: Optional[Fix]
    help: Optional[str]

    def __init__(self, code: str, name: str, severity: Severity, message: str, path: str,
                 span: Span, yaml_path: Optional[str] = None, image: Optional[str] = None,
                 fix: Optional[Fix] = None, help: Optional[str] = None) -> None:
        set_field(self, "code", code)
        set_field(self, "name", name)
        set_field(self, "severity", severity)
        set_field(self, "message", message)
        set_field(self, "path", path)
        set_field(self, "span", span)
        set_field(self, "yaml_path", yaml_path)
        set_field(self, "image", image)
        set_field(self, "fix", fix)
        set_field(self, "help", help)

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.span.start.offset, self.span.end.offset, self.code,
                self.yaml_path or "")
