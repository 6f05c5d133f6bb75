"""What rules produce: diagnostics with exact spans and optional fixes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional

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


@dataclass(frozen=True)
class Edit:
    """Replace the text of ``span`` with ``content``."""

    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    applicability: Applicability


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``message`` states the problem in one short sentence naming the image;
    ``help`` (optional) says what to do about it."""

    code: str
    name: str
    severity: Severity
    message: str
    path: str
    span: Span
    yaml_path: Optional[str] = None
    image: Optional[str] = None
    fix: Optional[Fix] = None
    help: Optional[str] = None

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.span.start.offset, self.span.end.offset, self.code,
                self.yaml_path or "")
