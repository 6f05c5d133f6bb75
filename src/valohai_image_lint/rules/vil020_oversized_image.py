"""VIL020 oversized-image: the image's compressed size exceeds `max-image-size`.

## What it does
Reports an image whose compressed size for the configured `platform` (default
`linux/amd64`) is larger than `max-image-size` (default 4 GB). The size is the sum of the
compressed layers and the config blob, which is what a worker downloads; `docker images` shows
the larger unpacked size. The message says where the size came from:

- `configuration`: the `image-sizes` table, which wins over everything else;
- `registry`: looked up now (`--online` or `online = true`);
- `cache`: an earlier online answer (`cache-dir`; also what `--offline` uses).

An image whose size is unknown (offline without a configured size, an unreachable registry,
no image for the platform, or an answer with an impossible size: negative, not an integer, or
1 PiB or more) is never reported; `--verbose` says which image and why.

## Why is this bad?
Every cold Valohai worker pulls the image before the execution starts, and every new machine
pays that again. A 10 GB image adds minutes to each start and to each autoscaled worker.

## Example
```yaml
- step:
    name: train
    image: nvcr.io/nvidia/pytorch:24.01-py3
    command: python train.py
```

With the size known from `image-sizes` (see Options) or looked up online.

## Use instead
```yaml
- step:
    name: train
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime
    command: python train.py
```

## Options
- `max-image-size`: the limit, compressed (`"4 GB"`, `"3.5 GiB"` or bytes; default 4 GB).
- `platform`: which image of a multi-platform index counts (default `linux/amd64`).
- `image-sizes`: known compressed sizes by repository (`"myorg/app"`) or reference
  (`"myorg/app:2.1"`); a reference entry beats a repository entry.
- `online`, `cache-dir`, `cache-ttl`: see the README's "Online mode".

```toml
max-image-size = "4 GB"
image-sizes = { "nvcr.io/nvidia/pytorch" = "9.5 GB" }
```

## Fix
None: making an image smaller is a change to how it is built.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Optional, cast

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.reference import ImageReference, InvalidReferenceError, parse_reference
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown

if TYPE_CHECKING:
    from valohai_image_lint.config import Config
    from valohai_image_lint.registry import Lookups

FROM_CONFIGURATION = "configuration"


class OversizedImage(Rule):
    code = "VIL020"
    name = "oversized-image"
    severity = Severity.WARNING
    summary = "Compressed image size exceeds max-image-size"
    # Sizes come from image-sizes, or from registry answers.
    needs_config = ("image_sizes",)

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        ref = site.reference
        if ref is None:
            return
        config = ctx.config
        size = configured_size(ref, config)
        platform: Optional[str] = config.platform
        source = FROM_CONFIGURATION
        if size is None:
            if ctx.lookups is None:
                return
            info = cast("Lookups", ctx.lookups).get(ref)
            if info is None or info.size is None or info.size_source is None:
                return
            size, platform, source = info.size, info.size_platform, info.size_source
        if size <= config.max_image_size:
            return
        where = f"for {platform}" if platform else "(single-platform image)"
        ctx.report(
            self,
            site,
            f"image {shown(site.image, 40)} is {format_size(size)}, over max-image-size"
            f" {format_size(config.max_image_size)} (size from {_SOURCE_WORDS[source]})",
            help=f"{format_size(size)} compressed {where}; every cold worker downloads it"
            " before the execution starts: use a smaller base image",
        )


_SOURCE_WORDS = {
    FROM_CONFIGURATION: "image-sizes",
    "registry": "the registry",
    "cache": "the cache",
}


def configured_size(ref: ImageReference, config: Config) -> Optional[int]:
    """The size ``image-sizes`` gives: a digest entry beats a tag entry beats a repository one.

    An image without tag and digest means ``latest``; one pinned only by digest matches no tag.
    """
    by_tag: Optional[int] = None
    by_repository: Optional[int] = None
    for entry, size in _parsed_sizes(config.image_sizes):
        if entry.name != ref.name:
            continue
        if entry.digest is not None:
            if entry.digest == ref.digest:
                return size
        elif entry.tag is None:
            by_repository = size
        elif entry.tag == ref.tag or (
            entry.tag == "latest" and ref.tag is None and ref.digest is None
        ):
            by_tag = size
    return by_tag if by_tag is not None else by_repository


@lru_cache(maxsize=8)
def _parsed_sizes(image_sizes: tuple[tuple[str, int], ...]) -> tuple[tuple[ImageReference, int],
                                                                     ...]:
    """The ``image-sizes`` keys parsed once per configuration; unparseable keys never match."""
    parsed = []
    for key, size in image_sizes:
        try:
            parsed.append((parse_reference(key), size))
        except InvalidReferenceError:
            continue
    return tuple(parsed)


def format_size(size: int) -> str:
    """Decimal units, as registries and ``max-image-size = "4 GB"`` use them.

    Integer arithmetic (rounded half up to one decimal), so that no size, however large, can
    overflow a float; beyond 1000 EB the number just grows.
    """
    for unit, factor in (("EB", 10**18), ("PB", 10**15), ("TB", 10**12), ("GB", 10**9),
                         ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            tenths = (size * 10 + factor // 2) // factor
            return f"{tenths // 10}.{tenths % 10} {unit}"
    return f"{size} B"
