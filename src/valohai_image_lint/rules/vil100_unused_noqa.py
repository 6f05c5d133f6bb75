"""VIL100 unused-noqa: a `# noqa` that silences nothing (off unless selected).

## What it does
Reports a `# noqa` directive on an image's line that silences no finding, and the codes in a
`# noqa: CODE, ...` that silence nothing or name no rule (`# noqa: VIL99`), like ruff's
RUF100. Codes of rules that the run does not enable are left alone: they may silence
something in another run. The rule is off by default; turn it on with `extend-select`.

Directives are read exactly as ruff reads them: `# noqa` silences every rule on its line,
`# noqa: VIL002, floating-tag` the rules named (codes or names, separated by commas or
spaces; text after them is a comment). Nothing else that merely starts with `# noqa` counts:
`# noqa-ish`, `# noqa:` without a code. An unknown code gets a warning on stderr even when
VIL100 is off.

## Why is this bad?
A `# noqa` left behind after the image was fixed silences the next real problem on its line
without anyone noticing; a misspelled code silences nothing while looking as if it did.

## Example
```yaml
- step:
    name: train
    image: python:3.12-slim  # noqa: VIL002
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.12-slim
    command: python train.py
```

## Options
None; enable it with `extend-select = ["VIL100"]`.

## Fix
Safe: removes the codes that silence nothing, or the whole directive when none is left (a
comment after it is kept).
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import Rule


class UnusedNoqa(Rule):
    code = "VIL100"
    name = "unused-noqa"
    severity = Severity.WARNING
    summary = "A # noqa that silences nothing or names an unknown code"
    default_enabled = False
    fix_applicability = Applicability.SAFE
    # Reported by the linter after suppressions (valohai_image_lint.noqa); no per-site check.
