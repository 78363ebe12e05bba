"""Shared pytest setup: Hypothesis profiles and the test markers for the whole suite.

The default profile keeps property tests short on a slow machine and has no
deadline (timing is noisy here). To hunt for bugs with many more examples:

    HYPOTHESIS_PROFILE=thorough python -m pytest tests/

Markers are applied here, by test module (plus a few single end-to-end tests,
and for the browser, by fixture),
so that test files need not repeat them: `slow` for subprocess-heavy and
end-to-end tests, `notebooks` for the notebook runs, `browser` for the tests
that drive Chromium. The contributors' fast loop is `pytest -m "not slow"`;
the whole suite (`bash scripts/test.sh`, CI) runs everything.
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("fast", deadline=None, max_examples=60)
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# Modules whose tests start processes (the CLI, the kernel, pip, mkdocs) or drive a browser.
SLOW_MODULES = frozenset(
    {
        "test_nn_cli",
        "test_faults_cli",
        "test_cli_usability",
        "test_notebooks",
        "test_packaging",
        "test_docs",
    }
)
# Single end-to-end tests in otherwise quick modules: a whole training run or a CLI process.
SLOW_TESTS = frozenset(
    {
        "test_micrograd_demo_reaches_100_percent_on_two_moons",
        "test_train_html_writes_a_page_with_curves_boundaries_and_a_step_slider",
        "test_second_and_third_derivatives_equal_sympy",
    }
)
SLOW_PREFIXES = ("test_cli_",)  # tests that run `python -m nn` end to end
NOTEBOOK_MODULES = frozenset({"test_notebooks"})
BROWSER_FIXTURES = frozenset({"driver"})  # tests/test_explore.py's headless Chromium


def examples(n: int) -> int:
    """`n` examples under the fast profile, proportionally more under a thorough one.

    For property tests that are slow per example and run fewer than the profile's count.
    """
    return max(1, n * settings.default.max_examples // 60)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test `slow`, `notebooks` or `browser` by its module or fixtures."""
    for item in items:
        module = item.path.stem
        name = getattr(item, "originalname", item.name)
        if module in SLOW_MODULES or name in SLOW_TESTS or name.startswith(SLOW_PREFIXES):
            item.add_marker(pytest.mark.slow)
        if module in NOTEBOOK_MODULES:
            item.add_marker(pytest.mark.notebooks)
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
