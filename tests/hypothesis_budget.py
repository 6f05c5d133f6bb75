"""How many examples the large property tests run.

Under mutmut (``MUTANT_UNDER_TEST`` set) the large property tests run a fifth of their
examples: a surviving mutant runs every test that reaches its function, and these few tests
were a third of the suite's time. A mutant only the extra examples could catch counts as
surviving, so the scores are, if anything, low. (A module of its own: ``from conftest
import`` would pick whichever of the suite's two conftest modules was imported last.)
"""

from __future__ import annotations

import os

MUTATION_RUN = os.environ.get("MUTANT_UNDER_TEST") is not None


def examples(count: int) -> int:
    """``max_examples`` for a large property test: ``count``, a fifth of it under mutmut."""
    return max(20, count // 5) if MUTATION_RUN else count
