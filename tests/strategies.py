"""The Hypothesis strategies the test files share: the public ones, re-exported.

Everything lives in `autograd_core.testing.strategies` (what users get is what
we test ourselves with); this module keeps the names the test files import
(`graphs`, `Graph`, `Builder`, `finite_values`, ...) where they always were.
See that module's docstring for how graphs are drawn and kept in domain.
"""

from autograd_core.testing.strategies import (
    ANY,
    DOMAINS,
    Builder,
    Graph,
    Step,
    expressions,
    finite_values,
    graphs,
    mlps,
    needs_fitting,
    numbers,
    operands,
)

__all__ = [
    "ANY",
    "DOMAINS",
    "Builder",
    "Graph",
    "Step",
    "expressions",
    "finite_values",
    "graphs",
    "mlps",
    "needs_fitting",
    "numbers",
    "operands",
]
