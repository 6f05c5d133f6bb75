"""VIL021 heavy-variant: a documented lighter variant of the image exists.

## What it does
Reports an image that has a lighter variant which upstream publishes under its documented
naming scheme, and offers to switch to it:

- `nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04` -> `nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04`
- `pytorch/pytorch:2.2.0-cuda12.1-cudnn8-devel` -> `pytorch/pytorch:2.2.0-cuda12.1-cudnn8-runtime`
- `python:3.11` -> `python:3.11-slim`; `python:3.11-bookworm` -> `python:3.11-slim-bookworm`
- `tensorflow/tensorflow:2.15.0-gpu-jupyter` -> `tensorflow/tensorflow:2.15.0-gpu`

Only tags that follow the upstream scheme are suggested; anything else is left alone.

## Why is this bad?
Every cold Valohai worker pulls the image before the execution starts. A `-devel` CUDA image
is several gigabytes larger than its `-runtime` twin, the full `python` image carries a
compiler toolchain the `-slim` one leaves out, and a `-jupyter` image adds a notebook server
an execution never starts. The difference is paid in start-up time on every new machine.

When the heavy variant really is needed: `-devel` is right when the step compiles CUDA code
while it runs, with `nvcc` or the CUDA headers: building custom CUDA/C++ extensions
(`torch.utils.cpp_extension`, `pip install` of packages such as `flash-attn`, `apex` or
`mmcv` that build from source), Triton kernels that need the toolkit, or anything that links
against static CUDA libraries. The full `python` image is right when `pip install` has to
build packages that ship no wheel for the platform. Then keep the heavy image and silence
the finding with `# noqa: VIL021` on the image line, or better, build those parts once into
your own image.

## Example
```yaml
- step:
    name: train
    image: pytorch/pytorch:2.2.0-cuda12.1-cudnn8-devel
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
`lighter-variants`: more variants, checked before the built-in ones, for example your own
images:

```toml
[[tool.valohai-image-lint.lighter-variants]]
repositories = ["myorg/base"]             # image names, without tag
tag = '(?P<version>[0-9.]+)-full'         # regular expression for the whole tag
lighter = "{version}-slim"                # the lighter tag, from the named groups
note = "-full adds the build toolchain"   # optional, shown in the message
```

## Fix
Unsafe: rewrites the tag to the lighter variant, keeping the name as written (short or full)
and its quoting. Unsafe because the lighter image lacks tools (compilers, the CUDA toolkit,
Jupyter) that the step might use. An image pinned by digest is reported without a fix: the
digest names the heavy image, and only a registry lookup could give the lighter one's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from valohai_image_lint.diagnostic import Applicability, Severity
from valohai_image_lint.reference import ImageReference, InvalidReferenceError, parse_reference
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext, shown

if TYPE_CHECKING:
    from valohai_image_lint.data.lighter_variants import LighterVariant

# The repositories the built-in table lists (tests/test_fixes_variants.py checks this against
# it): the table is imported only for an image of one of them, or with configured variants.
BUILTIN_REPOSITORIES = frozenset({
    "docker.io/library/python", "docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda",
    "docker.io/pytorch/pytorch", "docker.io/tensorflow/tensorflow",
})


def find_lighter(
    ref: ImageReference, extra: tuple[LighterVariant, ...] = ()
) -> Optional[tuple[str, LighterVariant]]:
    """The lighter tag of ``ref`` and the variant entry that gave it, or None."""
    if ref.tag is None:
        return None
    name = ref.name
    if not extra and name not in BUILTIN_REPOSITORIES:
        return None
    from valohai_image_lint.data.lighter_variants import BUILTIN_VARIANTS

    for variant in (*extra, *BUILTIN_VARIANTS):
        if name not in variant.repositories:
            continue
        lighter = variant.lighter_tag(ref.tag)
        if lighter is not None and lighter != ref.tag:
            return lighter, variant
    return None


class HeavyVariant(Rule):
    code = "VIL021"
    name = "heavy-variant"
    severity = Severity.INFO
    summary = "A documented lighter variant of the image exists"
    fix_applicability = Applicability.UNSAFE

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        ref = site.reference
        image = site.image
        if ref is None or image is None or ref.tag is None:
            return
        found = find_lighter(ref, ctx.config.lighter_variants)
        if found is None:
            return
        lighter_tag, variant = found
        written_name = image.split("@", 1)[0][: -len(ref.tag) - 1]
        lighter = f"{written_name}:{lighter_tag}"
        try:
            parse_reference(lighter)
        except InvalidReferenceError:
            return  # a configured template made a tag Docker would reject
        message = f"image {shown(image)} has a lighter tag {shown(lighter_tag, 40)}"
        note = f"{variant.note}" if variant.note else ""
        if ref.digest is not None:
            pinned = "the digest pins the heavy image, so switching needs the lighter one's digest"
            ctx.report(self, site, message, help=f"{note}; {pinned}" if note else pinned)
            return
        fix = ctx.replace_image(site, lighter, f"Switch to the lighter `{lighter}`",
                                Applicability.UNSAFE)
        ctx.report(self, site, message, fix=fix, help=note or None)
