"""VIL009 non-literal-image: the `image=` of `valohai.prepare(...)` is not a literal string.

## What it does
Reports an `image=` argument of `valohai.prepare(...)` (valohai-utils) that is not a string
literal: a variable, an f-string, a call, a concatenation with `+`, or a literal of another
type (bytes, a number).

## Why is this bad?
The image cannot be checked: the linter reads it as `vh yaml step` does, with
`ast.literal_eval`, and `vh yaml step` cannot read it either (it stops with an error), so
valohai.yaml is not generated from it.

## Example
```python
import valohai

IMAGE = "python:3.12"
valohai.prepare(step="train", image=IMAGE)
```

## Use instead
```python
import valohai

valohai.prepare(step="train", image="python:3.12")
```

## Options
None.

## Fix
None.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext


class NonLiteralImage(Rule):
    code = "VIL009"
    name = "non-literal-image"
    severity = Severity.INFO
    summary = "Image in valohai.prepare() is not a literal string"
    python_only = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        what = getattr(site.site, "not_literal", None)
        if what is None:
            return
        written = ctx.source.text[site.site.anchor_node.start : site.site.anchor_node.end]
        if len(written) > 40 or "\n" in written:
            written = "image"
        kind = "string" if what.endswith(" literal") else "literal string"
        ctx.report(self, site, f"{written} is {what}, not a {kind}",
                   help="it cannot be checked, and `vh yaml step` cannot read it either;"
                        " write the image as a string literal")
