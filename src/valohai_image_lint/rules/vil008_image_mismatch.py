"""VIL008 image-mismatch: a step's image in Python differs from its image in valohai.yaml.

## What it does
Reports a `valohai.prepare(step=..., image=...)` call (valohai-utils) whose literal image
differs from the image of the same-named step in the project's valohai.yaml: the nearest
`valohai.yaml` or `valohai.yml` in the Python file's directory or above (not past the top of
the git work tree). The report is at the Python literal and names the YAML file, line and
image, and which of the two `vh yaml step` would leave in valohai.yaml.

## Why is this bad?
`vh yaml step train.py` merges the Python step into valohai.yaml. It keeps the YAML's image
unless the Python one is set and differs from valohai-utils' default (`python:3.11-slim`), so
a team can commit `python:3.12` in train.py while valohai.yaml still runs `python:latest`:
the code says one image, Valohai runs another.

## Example
```yaml
- step:
    name: train
    image: python:latest
    command: python train.py
```
```python
import valohai

valohai.prepare(step="train", image="python:3.12")
```

## Use instead
```yaml
- step:
    name: train
    image: python:3.12
    command: python train.py
```
```python
import valohai

valohai.prepare(step="train", image="python:3.12")
```
(`vh yaml step train.py` writes the Python image into valohai.yaml; or edit either file.)

## Options
None. Only steps are compared (valohai-utils writes steps only), and only when both images
are literal strings.

## Fix
None: which image is right is your call. The fixes of other rules keep the two in step: run
`--fix` on both files together (or on their directory). A fix that would change only one of a
matching pair (the other file not in the run, or its fix suppressed) is not applied, with a
warning.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext


class ImageMismatch(Rule):
    code = "VIL008"
    name = "image-mismatch"
    severity = Severity.WARNING
    summary = "Step's image in valohai.prepare() differs from valohai.yaml"
    python_only = True

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        step = getattr(site.site, "step", None)
        if site.image is None or step is None:
            return  # a YAML site, or no literal image or step name
        from valohai_image_lint.sites.project import counterpart, vh_keeps
        from valohai_image_lint.sites.python import PythonImageSite

        python_site = site.site
        assert isinstance(python_site, PythonImageSite)
        other = counterpart(ctx.source.path, step)
        if other is None or other.image == site.image:
            return
        kept = vh_keeps(python_site, site.image, other.image)
        which = "this one" if kept == site.image and kept != other.image else "the YAML's"
        ctx.report(self, site,
                   f"image {site.image!r} differs from {other.path}:{other.line}"
                   f" ({other.image!r})",
                   help=f"`vh yaml step` keeps {which}; make both name the image you mean")
