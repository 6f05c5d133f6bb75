"""VIL004 invalid-image-reference: the image is not a valid Docker reference.

## What it does
Parses the image exactly as Docker does (the `distribution/reference` grammar) and reports a
string that is not a reference: uppercase letters in the repository, characters Docker does
not allow, a malformed tag or digest, an empty string, or a template placeholder such as
`<<registry/image:tag>>` left in from an example. The message says which part is wrong.

## Why is this bad?
Docker refuses to pull it, so the execution fails before it starts.

## Example
```yaml
- step:
    name: train
    image: MyOrg/Train:1.0
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: myorg/train:1.0
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


class InvalidImageReference(Rule):
    code = "VIL004"
    name = "invalid-image-reference"
    severity = Severity.ERROR
    summary = "Image is not a valid Docker reference"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        if site.reference_error is not None:
            # Some reference errors say what is wrong, then (after the last "; write") what to
            # do; the problem may quote the image, which may hold "; write " itself.
            problem, separator, advice = site.reference_error.rpartition("; write ")
            if separator:
                advice = f"write {advice}"
            else:
                problem, advice = advice, ""
            problem = problem.removeprefix("image reference ")
            ctx.report(self, site, f"invalid image reference: {problem}",
                       help=advice or "write it as Docker reads it:"
                       " `[registry/]repository[:tag][@digest]`, the repository in lowercase")
