"""VIL002 floating-tag: the image's tag moves over time and no digest pins it.

## What it does
Reports an image whose tag is `latest` or matches one of the `floating-tags` patterns
(default: `latest`, `latest-*`, `nightly`, `edge`) and that has no `@sha256:` digest.

## Why is this bad?
A floating tag is re-pointed whenever upstream publishes. The same commit then runs a
different image from one week to the next, and results cannot be reproduced.

## Example
```yaml
- step:
    name: train
    image: python:latest
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
`floating-tags`: glob patterns of tags that float (default
`["latest", "latest-*", "nightly", "edge"]`).

## Fix
Unsafe, online only: keeps the tag and adds the digest it resolves to now
(`python:latest@sha256:...`), the one `docker pull` records (for a multi-platform image, the
index's digest). Apply it with `--online --fix --unsafe-fixes`; without a registry answer
there is no fix.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown
from valohai_image_lint.rules._patterns import glob_matches
from valohai_image_lint.rules._pinning import pin_digest_fix


def is_floating(tag: str, patterns: tuple[str, ...]) -> bool:
    return any(_tag_matches(tag, pattern) for pattern in patterns)


def _tag_matches(tag: str, pattern: str) -> bool:
    """fnmatch's answer; a pattern with no wildcard but ``*`` (the defaults: ``latest-*``) is
    matched without compiling it."""
    if "?" in pattern or "[" in pattern:
        from fnmatch import fnmatchcase

        return fnmatchcase(tag, pattern)
    return glob_matches(pattern, tag)


class FloatingTag(Rule):
    code = "VIL002"
    name = "floating-tag"
    severity = Severity.ERROR
    summary = "Tag is latest or another floating tag, with no digest"
    fix_applicability = Applicability.UNSAFE
    fix_needs_online = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        ref = site.reference
        if ref is None or ref.tag is None or ref.digest is not None:
            return
        if is_floating(ref.tag, ctx.config.floating_tags):
            ctx.report(
                self,
                site,
                f"image {shown(site.image)} has the floating tag {shown(ref.tag, 30)}",
                fix=pin_digest_fix(site, ctx),
                help="the tag points to a different image whenever upstream publishes; pin a"
                " version tag or add a digest",
            )
