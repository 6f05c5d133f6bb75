"""VIL005 missing-image: a step or endpoint has no image, or the image is not a string.

## What it does
Reports a step or endpoint without an `image` key, and any image site (pipeline node
overrides included) whose value is not a string: `image: 3.9` (a number), `image:` (null),
a list or a mapping.

## Why is this bad?
Valohai needs an image to run a step or endpoint. A value such as `3.9` is read by YAML as a
number, which is not what was meant.

## Example
```yaml
- step:
    name: train
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
None.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.yamltree import Mapping, Scalar, Sequence, scalar_type


class MissingImage(Rule):
    code = "VIL005"
    name = "missing-image"
    severity = Severity.ERROR
    summary = "Step or endpoint has no image, or it is not a string"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        node = site.site.node
        if node is None:
            if site.site.required:
                ctx.report(self, site, f"{site.site.owner} has no image",
                           help="Valohai needs an image to run it; add `image:`, e.g."
                           " `image: python:3.12-slim`")
            return
        if isinstance(node, Scalar):
            kind = scalar_type(node)
            if kind == "str":
                return
            if kind == "null":
                # An empty value has no width: point at the key instead.
                target = site.site.image_key if node.start == node.end else None
                ctx.report(self, site, f"image of {site.site.owner} is empty (null)", node=target,
                           help="write the image to run, e.g. `image: python:3.12-slim`")
                return
            else:
                message = (f"image of {site.site.owner} is {_article(kind)} {kind}"
                           f" ({node.value}), not a string")
                ctx.report(self, site, message,
                           help="quote it if it is meant as an image name")
                return
        elif isinstance(node, Sequence):
            message = f"image of {site.site.owner} is a list, not a string"
        elif isinstance(node, Mapping):
            message = f"image of {site.site.owner} is a mapping, not a string"
        else:  # pragma: no cover - aliases are resolved before rules run
            return
        ctx.report(self, site, message, help="an image is one string, e.g. `python:3.12-slim`")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
