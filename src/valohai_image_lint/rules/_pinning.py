"""Digest pinning for VIL001, VIL002 and VIL003: the unsafe fix, from online answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, cast

from valohai_image_lint.diagnostic import Applicability, Fix

if TYPE_CHECKING:
    from valohai_image_lint.registry import Lookups
    from valohai_image_lint.rules import CheckedSite, RuleContext


def pin_digest_fix(site: CheckedSite, ctx: RuleContext) -> Optional[Fix]:
    """Append the digest the tag resolves to now, keeping the tag (``latest`` for none).

    The name stays as written (a short name stays short) and so does the quoting. The digest
    is the one ``docker pull`` records: for a multi-platform image, the index's digest.
    """
    ref = site.reference
    if ctx.lookups is None or ref is None or ref.digest is not None or site.image is None:
        return None
    info = cast("Lookups", ctx.lookups).get(ref)
    if info is None or info.digest is None:
        return None
    tagged = site.image + ("" if ref.tag is not None else ":latest")
    algorithm, _, encoded = info.digest.partition(":")
    title = f"Pin `{tagged}` to the digest it resolves to now ({algorithm}:{encoded[:12]}…)"
    return ctx.replace_image(site, f"{tagged}@{info.digest}", title, Applicability.UNSAFE)
