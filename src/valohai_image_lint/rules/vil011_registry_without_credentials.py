"""VIL011 registry-without-credentials: a private-only registry that no pattern covers.

## What it does
Only when `private-registries` is configured: reports an image on a registry that always
needs credentials (`*.azurecr.io`, `*.dkr.ecr.<region>.amazonaws.com`, and the hosts listed
in `private-hosts`) when none of the configured patterns covers it.

## Why is this bad?
Valohai pulls it without credentials and the execution fails with an authorization error,
after a worker has been started and paid for.

## Example
```yaml
- step:
    name: train
    image: otherteam.azurecr.io/train:1.0
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: myteam.azurecr.io/train:1.0
    command: python train.py
```

## Options
```toml
private-registries = ["myteam.azurecr.io/*"]
private-hosts = ["registry.internal.example.com"]
```

## Fix
None: add the registry to the organization's settings and to `private-registries`.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._patterns import (
    any_pattern_matches,
    full_name_candidates,
    host_matches,
)

CREDENTIALED_HOSTS = ("*.azurecr.io", "*.dkr.ecr.*.amazonaws.com")


class RegistryWithoutCredentials(Rule):
    code = "VIL011"
    name = "registry-without-credentials"
    severity = Severity.WARNING
    summary = "Image on a registry that needs credentials, covered by no pattern"
    needs_config = ("private_registries",)

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        patterns = ctx.config.private_registries
        ref = site.reference
        if not patterns or ref is None or site.image is None:
            return
        host = ref.domain
        hosts = CREDENTIALED_HOSTS + ctx.config.private_hosts
        if not any(host_matches(glob, host) for glob in hosts):
            return
        if any_pattern_matches(patterns, site.image) or any(
            any_pattern_matches(patterns, c) for c in full_name_candidates(ref)
        ):
            return
        ctx.report(
            self,
            site,
            f"image {shown(site.image)} is on {shown(host, 30)}, which needs credentials",
            help="no `private-registries` pattern covers it, so Valohai pulls it without"
            " credentials; add a pattern that matches it",
        )
