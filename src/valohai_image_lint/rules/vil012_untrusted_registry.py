"""VIL012 untrusted-registry: the image comes from a registry outside the allowed list.

## What it does
Only when `allowed-registries` is configured: reports an image whose full name matches none
of the allowed host or host/path globs (`docker.io/library/*`, `ghcr.io/myorg/*`,
`myregistry.azurecr.io`). Short names are normalised first, so `python:3.11` is checked as
`docker.io/library/python:3.11`.

## Why is this bad?
Platform teams keep executions on vetted registries for supply-chain and licence reasons;
an image from anywhere else runs unreviewed code with the project's data and credentials.

## Example
```yaml
- step:
    name: train
    image: randomuser/train:1.0
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: ghcr.io/myorg/train:1.0
    command: python train.py
```

## Options
```toml
allowed-registries = ["docker.io/library/*", "ghcr.io/myorg/*"]
```

## Fix
None.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._patterns import any_pattern_matches, full_name_candidates


class UntrustedRegistry(Rule):
    code = "VIL012"
    name = "untrusted-registry"
    severity = Severity.ERROR
    summary = "Image is from a registry outside allowed-registries"
    needs_config = ("allowed_registries",)

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        allowed = ctx.config.allowed_registries
        ref = site.reference
        if not allowed or ref is None or site.image is None:
            return
        if any(any_pattern_matches(allowed, c) for c in full_name_candidates(ref)):
            return
        # The full name when the written one hides it (`python` is docker.io/library/python).
        full = "" if site.image.startswith(ref.name) else f" ({shown(ref.name, 40)[1:-1]})"
        ctx.report(
            self,
            site,
            f"image {shown(site.image, 40)}{full} is not from an allowed registry",
            help="no `allowed-registries` pattern matches it; use an image from an allowed"
            " registry, or add a pattern for this one",
        )
