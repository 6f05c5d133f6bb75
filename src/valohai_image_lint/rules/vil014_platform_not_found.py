"""VIL014 platform-not-found: the image has no manifest for the configured platform.

## What it does
Online (`--online`, or the cache with `--offline`): reports an image that has nothing to run on
`platform` (default `linux/amd64`): a multi-platform index without that entry, or a single
manifest whose config names another OS or architecture (an image built on an arm64 laptop).
The message lists the platforms it does have. A pinned digest is judged by what it points to.

## Why is this bad?
The worker pulls the index and finds no image for itself ("no matching manifest"), or runs an
arm64 binary on amd64 ("exec format error"), after the machine has started.

## Example
```yaml
- step:
    name: train
    image: myorg/train:1.0-arm64
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
- `platform`: the workers' platform, `os/arch[/variant]` (default `linux/amd64`).
- `online`, `cache-dir`: what a digest holds is cached for good.

## Fix
None: build the image for the platform (`docker buildx build --platform linux/amd64`).
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.rules._checks import verdict

HELP = "build it for {platform} (docker buildx build --platform {platform}) or set `platform`"
MAX_LISTED = 3


def advice(platform: str) -> str:
    return HELP.format(platform=platform)


class PlatformNotFound(Rule):
    code = "VIL014"
    name = "platform-not-found"
    needs_online = True
    severity = Severity.ERROR
    summary = "The image has no manifest for the configured platform"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        found = verdict(site, ctx)
        ref = site.reference
        if found is None or found.platform_found is not False or ref is None:
            return
        offered = list(found.platforms[:MAX_LISTED])
        if len(found.platforms) > MAX_LISTED:
            offered.append("…")
        has = f" (only {', '.join(offered)})" if offered else ""
        ctx.report(self, site, f"{ref.familiar} has no {ctx.config.platform} image{has}",
                   help=advice(ctx.config.platform))
