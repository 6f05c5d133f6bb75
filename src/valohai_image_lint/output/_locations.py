"""What the CI formats share: repository-relative paths and stable fingerprints.

CI systems match a reported path against files in the checkout, so paths are made relative to
the working directory (where CI runs the linter: the repository root) and use forward slashes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from valohai_image_lint.diagnostic import Diagnostic


def relative_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, with ``/`` separators.

    A path outside the working directory stays absolute; a stdin name is returned as given
    (apart from separators), since it names a file the editor or CI knows about.
    """
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            relative = path
        if not relative.startswith(os.pardir):
            path = relative
    path = path.replace(os.sep, "/") if os.sep != "/" else path
    while path.startswith("./"):
        path = path[2:]
    return path


def fingerprints(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """A SHA-256 per diagnostic from what stays put when lines move: path, code, YAML path
    and image. Line numbers are left out so that an edit above a problem does not make CI
    think it is a new one; a repeat of the same four within a report gets a counter, so
    fingerprints are unique and the same from run to run."""
    import hashlib

    seen: dict[str, int] = {}
    result = []
    for diagnostic in diagnostics:
        parts = (relative_path(diagnostic.path), diagnostic.code, diagnostic.yaml_path or "",
                 diagnostic.image if diagnostic.image is not None else "")
        key = "\0".join(parts)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        if occurrence:
            key += f"\0{occurrence}"
        result.append(hashlib.sha256(key.encode("utf-8")).hexdigest())
    return result


PROJECT_URL = "https://github.com/valohai-image-lint/valohai-image-lint"


def rule_url(code: str) -> str:
    """Where a rule's documentation is read online: its module, whose docstring is the text
    that ``valohai-image-lint rule CODE`` prints."""
    from valohai_image_lint.rules import rule_class

    module = rule_class(code).__module__.replace(".", "/")
    return f"{PROJECT_URL}/blob/main/src/{module}.py"
