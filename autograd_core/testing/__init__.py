"""Property-based tests of derivatives, for your own functions and primitives.

- `check_grads(f, args, order=2)`: every derivative of `f` up to `order`
  against finite differences of the order below (`grads`).
- `check_primitive(prim)`: a primitive checked in every interpreter it runs in
  (engine, create_graph, compiled and batched replay, ONNX Runtime), on
  inputs Hypothesis draws from its domain, with a report per interpreter
  (`primitive`).
- `autograd_core.testing.strategies`: Hypothesis strategies for numbers from a
  domain, random expressions over the op table and your primitives, and
  MLP-shaped graphs.

Importing this package needs nothing beyond `autograd_core`; `check_primitive`
and `strategies` need Hypothesis, the `testing` extra
(`pip install 'autograd-core[testing]'`), and import it only when used.
"""

from autograd_core.testing.grads import (
    DerivativeError,
    DerivativeMismatch,
    check_grads,
    derivatives,
)
from autograd_core.testing.primitive import (
    INTERPRETERS,
    InterpreterResult,
    PrimitiveCheckError,
    PrimitiveReport,
    check_primitive,
)

__all__ = [
    "INTERPRETERS",
    "DerivativeError",
    "DerivativeMismatch",
    "InterpreterResult",
    "PrimitiveCheckError",
    "PrimitiveReport",
    "check_grads",
    "check_primitive",
    "derivatives",
]
