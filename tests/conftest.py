"""Shared pytest setup: Hypothesis profiles for the whole suite.

The default profile keeps property tests short on a slow machine and has no
deadline (timing is noisy here). To hunt for bugs with many more examples:

    HYPOTHESIS_PROFILE=thorough python -m pytest tests/
"""

import os

from hypothesis import settings

settings.register_profile("fast", deadline=None, max_examples=60)
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def examples(n: int) -> int:
    """`n` examples under the fast profile, proportionally more under a thorough one.

    For property tests that are slow per example and run fewer than the profile's count.
    """
    return max(1, n * settings.default.max_examples // 60)
