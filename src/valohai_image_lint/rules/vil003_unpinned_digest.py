"""VIL003 unpinned-digest: a tagged image without a digest (off unless selected).

## What it does
Reports an image that has a tag but no `@sha256:` digest, such as `python:3.11`. Floating
tags (`latest` and the `floating-tags` patterns) are left to VIL002 and untagged images to
VIL001. The rule is off by default; turn it on with `select` or `extend-select`.

## Why is this bad?
Even version tags are re-pushed: `python:3.11` moves with every patch release and base-image
rebuild. Only a digest names exactly one image.

## Example
```yaml
- step:
    name: train
    image: python:3.11
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.11@sha256:0d5e8d2e8aeeaa2e4d2d3a8c9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b
    command: python train.py
```

## Options
None; enable it with `extend-select = ["VIL003"]`.

## Fix
Unsafe, online only: adds the digest the tag resolves to now and keeps the tag
(`python:3.11@sha256:...`), the one `docker pull` records (for a multi-platform image, the
index's digest). Apply it with `--online --fix --unsafe-fixes`. A digest is only pinned when
it is well formed (`sha256:` and 64 lower-case hex digits, or sha384/sha512 at their length);
one whose manifest the same run found not to match it is never pinned, nor kept in the cache.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._pinning import pin_digest_fix
from valohai_image_lint.rules.vil002_floating_tag import is_floating


class UnpinnedDigest(Rule):
    code = "VIL003"
    name = "unpinned-digest"
    severity = Severity.WARNING
    summary = "Tagged image without a digest"
    default_enabled = False
    fix_applicability = Applicability.UNSAFE
    fix_needs_online = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        ref = site.reference
        if ref is None or ref.tag is None or ref.digest is not None:
            return
        if is_floating(ref.tag, ctx.config.floating_tags):
            return
        ctx.report(
            self,
            site,
            f"image {shown(site.image)} is pinned by tag only",
            fix=pin_digest_fix(site, ctx),
            help="tags can be re-pushed; add the digest (`--online --fix --unsafe-fixes`"
            " looks it up)",
        )
