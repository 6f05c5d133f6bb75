"""VIL015 stale-digest: the tag now resolves to another digest than the one pinned.

## What it does
Online (`--online`, or the cache with `--offline`): for an image written as
`repo:tag@sha256:...`, looks the tag up again and reports the pin when the tag has moved. The
kind of digest pinned is kept: an index digest (what `docker pull` records for a
multi-platform image) is compared with the tag's index digest; a pinned platform-specific
digest is compared with the same platform's child of the tag's index. A pinned digest that
does not exist in the repository at all is VIL013. A pin whose tag no longer exists (the
digest still pulls) is reported here too, without a fix.

## Why is this bad?
The tag says one version, the digest runs another. Readers, Renovate and `docker pull tag` see
the new image; Valohai runs the old one. Either the pin was meant (then drop or fix the tag)
or it missed an update (often a security fix).

## Example
```yaml
- step:
    name: train
    image: python:3.11-slim@sha256:2b7d37f0a5e2bc3a17ac3c0bfba5ae4e7b1c7ad1f0a6c4c5b3a2e1f0d9c8b7a6
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.11-slim@sha256:9e1d3c0a2b4f6d8e0a1c3e5f7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d
    command: python train.py
```

## Options
- `platform`: which child a platform pin is compared with when its own config does not say.
- `online`, `cache-dir`, `cache-ttl`: the tag's answer is cached like any tag answer.

## Fix
Unsafe, online: pins the digest the tag resolves to now, of the same kind, and keeps the tag.
Apply it with `--online --fix --unsafe-fixes` once you know the new image is the one you want.
"""

from __future__ import annotations

import re

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.rules._checks import short_digest, verdict

HELP = "the tag now points to {digest}; `--online --fix --unsafe-fixes` pins it"
HELP_TAG_GONE = ("the tag no longer exists (the digest still pulls); write a tag that exists,"
                 " or the digest alone")
# What was pinned: an index's digest, one platform's child of an index, or a single manifest.
_KINDS = {"index": "index digest", "platform": "platform digest"}
_DIGEST_RE = re.compile(r"sha(?:256:[a-f0-9]{64}|384:[a-f0-9]{96}|512:[a-f0-9]{128})", re.ASCII)


def advice(current: str) -> str:
    return HELP.format(digest=short_digest(current) + "…")


class StaleDigest(Rule):
    code = "VIL015"
    name = "stale-digest"
    needs_online = True
    severity = Severity.WARNING
    summary = "The pinned digest is no longer the one its tag resolves to"
    fix_applicability = Applicability.UNSAFE
    fix_needs_online = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        found = verdict(site, ctx)
        ref = site.reference
        if (found is None or found.stale is not True or ref is None or ref.tag is None
                or site.image is None):
            return
        kind = _KINDS.get(found.pinned_kind or "", "digest")
        fix = None
        current = found.current
        if current is not None and _DIGEST_RE.fullmatch(current) and "@" in site.image:
            written = site.image[: site.image.rindex("@")]
            fix = ctx.replace_image(site, f"{written}@{current}",
                                    f"Pin the digest `{ref.tag}` resolves to now"
                                    f" ({short_digest(current)}…)", Applicability.UNSAFE)
        if found.tag_gone:
            help_text = HELP_TAG_GONE
        elif fix is not None and current is not None:
            help_text = advice(current)
        else:
            help_text = "the tag has moved; pin the digest it resolves to now, or drop the tag"
        ctx.report(self, site, f"{kind} pinned for {ref.familiar_name}:{ref.tag} is stale",
                   fix=fix, help=help_text)
