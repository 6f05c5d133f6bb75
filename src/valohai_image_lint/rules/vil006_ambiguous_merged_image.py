"""VIL006 ambiguous-merged-image: the image a step gets depends on the PyYAML version.

## What it does
Reports an image site whose image comes through `<<` merge keys from several sources that
name different images, so that PyYAML 6.0.4 reads another image there than PyYAML 6.0.3 and
the YAML merge spec do. The diagnostic points at the merge key and names both images; the
other rules judge the spec's answer (the first source that has the key).

## Why is this bad?
In `<<: [*a, *b]` the YAML merge spec, and PyYAML up to 6.0.3, give the keys of the first
mapping precedence. PyYAML 6.0.4 regressed this (yaml/pyyaml#953): for keys of two or more
characters the last mapping wins. Valohai reads `valohai.yaml` with PyYAML, so which image a
step runs depends on a library version that the file cannot choose.

## Example
```yaml
- defaults:
    gpu: &gpu {image: 'pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime'}
    cpu: &cpu {image: 'python:3.11-slim'}
- step:
    name: train
    <<: [*gpu, *cpu]
    command: python train.py
```

## Use instead
Name the image in the step itself (its own keys win over every merge), or merge only one
source that has an image:
```yaml
- defaults:
    gpu: &gpu {image: 'pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime'}
    cpu: &cpu {image: 'python:3.11-slim'}
- step:
    name: train
    <<: [*gpu, *cpu]
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
    command: python train.py
```

## Options
None.

## Fix
None: only the author knows which image was meant.
"""

from __future__ import annotations

from typing import Optional

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.yamltree import AnyNode, Scalar

# The advice that goes with the message (the Diagnostic's ``help``).
HELP = (
    "write the image in the step itself, or merge only one source that names one;"
    " PyYAML <= 6.0.3 takes the first source, 6.0.4 the last (yaml/pyyaml#953)"
)

_SHOWN = 22


def shown(node: Optional[AnyNode]) -> str:
    """An image value for a one-line message: the string, shortened, or what it is."""
    if node is None:
        return "no image"
    if isinstance(node, Scalar):
        value = node.value
        return value if len(value) <= _SHOWN else f"{value[: _SHOWN - 3]}..."
    return "a list" if node.__class__.__name__ == "Sequence" else "a mapping"


class AmbiguousMergedImage(Rule):
    code = "VIL006"
    name = "ambiguous-merged-image"
    severity = Severity.WARNING
    summary = "Merge sources give different images: the image depends on the PyYAML version"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        image_site = site.site
        if not image_site.version_dependent:
            return
        message = (
            f"{image_site.owner} runs {shown(image_site.node)},"
            f" or {shown(image_site.other_image)} on PyYAML 6.0.4"
        )
        ctx.report(self, site, message, node=image_site.merge_key, help=HELP)
