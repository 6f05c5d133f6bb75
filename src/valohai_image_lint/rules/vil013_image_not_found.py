"""VIL013 image-not-found: the registry says the repository, tag or digest does not exist.

## What it does
Online (`--online`, or the cache with `--offline`): asks the image's registry for the tag (or
the pinned digest) and reports it when the registry answers that it does not exist
(`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, 404). When the tag is missing but the repository exists,
the repository's tags are listed (paginated, at most 10 000) and the closest ones are
suggested in the help: "did you mean `2.2.0-cuda12.1-cudnn8-runtime`?". `--verbose` also
shows them on the image's lookup line.

Docker Hub answers "unauthorized", not "not found", for a repository that does not exist or
is private; that is VIL016 needs-credentials.

## Why is this bad?
Valohai finds out only when a worker, often a GPU machine, has started and tries to pull: the
execution fails after queueing, and the machine time is paid for.

## Example
```yaml
- step:
    name: train
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtim
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
    command: python train.py
```

## Options
- `online`, `cache-dir`, `cache-ttl`: a "not found" answer is cached and expires like a
  tag answer (`cache-ttl`).

## Fix
None: the suggestion may be wrong, so it is only advice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.rules._checks import short_digest, verdict

if TYPE_CHECKING:
    from valohai_image_lint.registry import Verdict

# The registry package's MISSING_* values; not imported, so an offline run never loads it.
MISSING_REPOSITORY = "repository"
MISSING_TAG = "tag"

HELP_REPOSITORY = "check the repository name, or that the registry lets you see it"
HELP_DIGEST = "pin a digest the repository has (`--online --fix` on the tag pins one)"
HELP_TAG = "check the tag; the registry has no tag close to it"
HELP_TAG_UNLISTED = "check the tag (the registry would not list the repository's tags)"


def advice(found: Verdict) -> str:
    """What to do, for the diagnostic's ``help``: the closest tags when there are some."""
    if found.missing == MISSING_REPOSITORY:
        return HELP_REPOSITORY
    if found.missing != MISSING_TAG:
        return HELP_DIGEST
    if not found.suggestions:
        return HELP_TAG if found.tags_listed else HELP_TAG_UNLISTED
    from valohai_image_lint.registry import did_you_mean

    return did_you_mean(found.suggestions)


class ImageNotFound(Rule):
    code = "VIL013"
    name = "image-not-found"
    needs_online = True
    severity = Severity.ERROR
    summary = "The registry has no such repository, tag or digest"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        found = verdict(site, ctx)
        ref = site.reference
        if found is None or found.missing is None or ref is None:
            return
        name = ref.familiar_name
        if found.missing == MISSING_REPOSITORY:
            message = f"repository {name} does not exist"
        elif found.missing == MISSING_TAG:
            message = f"tag {ref.tag or 'latest'!r} of {name} does not exist"
        else:
            message = f"digest {short_digest(ref.digest or '')}… of {name} does not exist"
        ctx.report(self, site, message, help=advice(found))
