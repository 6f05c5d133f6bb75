"""VIL010 private-image-short-name: a private image written so that no credentials match.

## What it does
With `private-registries` configured, reports an image that matches one of the patterns only
after Docker's normalisation: `myorg/app:1` is `docker.io/myorg/app:1` to Docker, but the
pattern `docker.io/myorg/*` does not match the text `myorg/app:1`. `index.docker.io/...`
is caught the same way.

## Why is this bad?
Valohai attaches registry credentials by matching the image as written against the
organization's registry patterns. A short name matches none, so the execution pulls
anonymously and fails on a private image.

## Example
```yaml
- step:
    name: train
    image: myorg/app:1.0
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: docker.io/myorg/app:1.0
    command: python train.py
```

## Options
```toml
private-registries = ["docker.io/myorg/*"]
```

## Fix
Safe: rewrites the image to the shortest full name that matches the pattern
(`myorg/app:1.0` -> `docker.io/myorg/app:1.0`); a pattern that spells `library/` keeps it.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._patterns import any_pattern_matches, full_name_candidates


class PrivateImageShortName(Rule):
    code = "VIL010"
    name = "private-image-short-name"
    severity = Severity.ERROR
    summary = "Private image matches a registry pattern only after normalisation"
    fix_applicability = Applicability.SAFE
    needs_config = ("private_registries",)

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        patterns = ctx.config.private_registries
        ref = site.reference
        if not patterns or ref is None or site.image is None:
            return
        if any_pattern_matches(patterns, site.image):
            return
        for candidate in full_name_candidates(ref):
            if any_pattern_matches(patterns, candidate):
                fix = ctx.replace_image(
                    site, candidate, f"Write the full name `{candidate}`", Applicability.SAFE
                )
                ctx.report(
                    self,
                    site,
                    f"image {shown(site.image, 30)} matches `private-registries` only as"
                    f" {shown(candidate, 40)}",
                    fix=fix,
                    help="Valohai attaches credentials only when the name as written matches"
                    " the pattern; write the full name",
                )
                return
