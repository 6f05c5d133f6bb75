"""VIL007 shadowed-definition: a part of the file that Valohai ignores.

## What it does
Reports a definition that Valohai reads past, pointing at the ignored part and saying what
wins instead:

- a second kind key in one item: valohai-yaml reads an item as the first of `step`, `task`,
  `endpoint`, `pipeline`, `blueprint`, `deployment` that it holds and ignores the rest;
- a step, endpoint, pipeline (or blueprint), task or deployment defined again later under
  the same name: the later one replaces it;
- a duplicate key among those the linter reads (the item's kind keys, `name`, `image`,
  `nodes`, `override`): YAML keeps the last one.

The images of ignored parts are not checked by the other rules: Valohai never runs them.

## Why is this bad?
The file says one thing and Valohai does another. An image fixed in an ignored copy of a step
changes nothing, and a review of the file shows a step that does not run.

## Example
```yaml
- step:
    name: train
    image: python:3.10
- endpoint:
    name: serve
    image: python:3.11
  step:
    name: train-gpu
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
- step:
    name: train
    image: python:3.12
```

## Use instead
One kind per item, one definition per name:
```yaml
- step:
    name: train
    image: python:3.12
- endpoint:
    name: serve
    image: python:3.11
- step:
    name: train-gpu
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
```

## Options
None.

## Fix
None: only the author knows which definition was meant.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.model import ValohaiConfig
from valohai_image_lint.rules import Rule, RuleContext

# The advice that goes with each kind of message (the Diagnostic's ``help``).
HELP = {
    "kind": "give it an item of its own; Valohai reads only an item's first kind key"
    " (step, task, endpoint, pipeline, blueprint, deployment)",
    "duplicate": "remove one of the two keys; YAML keeps the last",
    "redefined": "rename one of the two, or remove the earlier: Valohai keeps the last of a name",
}


class ShadowedDefinition(Rule):
    code = "VIL007"
    name = "shadowed-definition"
    severity = Severity.WARNING
    summary = "A definition Valohai ignores: second kind key, duplicate key or name"

    def check_config(self, config: ValohaiConfig, ctx: RuleContext) -> None:
        for ignored in config.ignored:
            ctx.report_at(
                self, ignored.node, ignored.message, ignored.yaml_path, help=HELP[ignored.reason]
            )
