"""Suite-wide settings.

Hypothesis: in CI (``CI`` set, as GitHub Actions and .ci/run do) and under mutmut every
property test is derandomised, so a red run is red again on any machine with the same code;
the failing example is printed with a reproduction blob (``@reproduce_failure``). Elsewhere
tests explore fresh examples each run and remember failures in ``.hypothesis/``.
``HYPOTHESIS_PROFILE=ci`` or ``=dev`` chooses explicitly.

Under mutmut the large property tests run fewer examples (tests/hypothesis_budget.py), and
a failing example is not shrunk: the verdict is the same, and shrinking the failure a mutant
causes in a property test took minutes per mutant.
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

from hypothesis_budget import MUTATION_RUN

settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
settings.register_profile("dev", print_blob=True)
settings.register_profile("mutation", parent=settings.get_profile("ci"),
                          phases=(Phase.explicit, Phase.reuse, Phase.generate))

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") or MUTATION_RUN else "dev")
if MUTATION_RUN and PROFILE == "ci":
    PROFILE = "mutation"
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    return (f"hypothesis profile: {PROFILE} (derandomize={settings.default.derandomize};"
            " HYPOTHESIS_PROFILE=ci reproduces CI)")
