"""What VIL013-VIL016 read: the checks' verdict for a site's reference (online or cached)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, cast

if TYPE_CHECKING:
    from valohai_image_lint.registry import Lookups, Verdict
    from valohai_image_lint.rules import CheckedSite, RuleContext


def verdict(site: CheckedSite, ctx: RuleContext) -> Optional[Verdict]:
    if ctx.lookups is None or site.reference is None:
        return None
    info = cast("Lookups", ctx.lookups).answers.get(_key(site))
    return info.verdict if info is not None else None


def _key(site: CheckedSite) -> str:
    from valohai_image_lint.registry import lookup_key

    assert site.reference is not None
    return lookup_key(site.reference)


def short_digest(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"
