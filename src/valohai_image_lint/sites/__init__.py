"""Sources of image sites. Every source yields ``ImageSite``\\ s, so rules never know whether a
site was written in a valohai.yaml or in Python.

- the YAML model (``valohai_image_lint.model``): steps, endpoints and pipeline overrides;
- ``sites.python``: the ``image=`` literal of ``valohai.prepare(...)`` calls (valohai-utils);
  ``sites.project`` pairs each with the same-named step of its project's valohai.yaml.
"""

from __future__ import annotations

from valohai_image_lint.model import ImageSite

__all__ = ["ImageSite"]
