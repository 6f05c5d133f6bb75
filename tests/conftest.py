"""Suite-wide settings.

Hypothesis: in CI (``CI`` set, as GitHub Actions and .ci/run do) and under mutmut every
property test is derandomised, so a red run is red again on any machine with the same code;
the failing example is printed with a reproduction blob (``@reproduce_failure``). Elsewhere
tests explore fresh examples each run and remember failures in ``.hypothesis/``.
``HYPOTHESIS_PROFILE=ci`` or ``=dev`` chooses explicitly.

Under mutmut (``MUTANT_UNDER_TEST`` set) the large property tests run a fifth of their
examples (`examples`): a surviving mutant runs every test that reaches its function, and
these few tests were a third of the suite's time. A mutant only they could catch counts as
surviving, so the scores are, if anything, low.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
settings.register_profile("dev", print_blob=True)

MUTATION_RUN = os.environ.get("MUTANT_UNDER_TEST") is not None


def examples(count: int) -> int:
    """``max_examples`` for a large property test: ``count``, a fifth of it under mutmut."""
    return max(20, count // 5) if MUTATION_RUN else count


PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") or MUTATION_RUN else "dev")
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    return (f"hypothesis profile: {PROFILE} (derandomize={settings.default.derandomize};"
            " HYPOTHESIS_PROFILE=ci reproduces CI)")
