"""VIL001 untagged-image: the image has no tag and no digest.

## What it does
Reports an image written without a tag or digest, such as `python` or `myorg/app`.

## Why is this bad?
Without a tag Docker pulls `latest`, which means "whatever the tag points to today". Last
month's experiment cannot be rerun, and two workers of the same execution can run different
images.

## Example
```yaml
- step:
    name: train
    image: python
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.11.9
    command: python train.py
```

## Options
None.

## Fix
Unsafe, online only: pins the digest that `latest` resolves to now
(`python:latest@sha256:...`). It is unsafe because it freezes whatever `latest` is today,
which may not be what the step was last run with. The digest is the one `docker pull`
records (for a multi-platform image, the index's digest); the name stays as written and so
does the quoting. Apply it with `--online --fix --unsafe-fixes`; without a registry answer
there is no fix.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._pinning import pin_digest_fix


class UntaggedImage(Rule):
    code = "VIL001"
    name = "untagged-image"
    severity = Severity.ERROR
    summary = "Image has no tag and no digest"
    fix_applicability = Applicability.UNSAFE
    fix_needs_online = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        ref = site.reference
        if ref is None or ref.tag is not None or ref.digest is not None:
            return
        ctx.report(
            self,
            site,
            f"image {shown(site.image)} has no tag or digest",
            fix=pin_digest_fix(site, ctx),
            help="it runs whatever `latest` is when the execution starts; pin a version tag"
            " or a digest",
        )
