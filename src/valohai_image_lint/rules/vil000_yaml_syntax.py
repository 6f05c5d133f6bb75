"""VIL000 yaml-syntax: the file is not valid YAML, or not a Valohai configuration.

## What it does
Reports a file that cannot be read as one YAML document whose top level is a list: invalid
YAML, text that is not UTF-8 or holds a NUL byte, several documents in one file, or a top level
that is a mapping or a scalar. The message keeps the parser's context ("while scanning a
simple key that starts at 38:1, could not find expected ':'").

A syntax error is not an opinion: as in ruff, VIL000 is reported whatever `select`,
`ignore`, `per-file-ignores` or `# noqa` say.

## Why is this bad?
Valohai rejects the whole file, so no step, endpoint or pipeline in it can run, and none of
the other rules can look at its images.

## Example
```yaml
- step:
    name: train
    image: python:3.11
   command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.11
    command: python train.py
```

## Options
None.

## Fix
None: the linter cannot know what was meant.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import Rule


class YamlSyntax(Rule):
    code = "VIL000"
    name = "yaml-syntax"
    severity = Severity.ERROR
    summary = "The file is not valid YAML, or not a Valohai config"
    # Reported by the linter itself when reading the file; there is no per-site check.
