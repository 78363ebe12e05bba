"""Numerically careful functions of Values, each one primitive of the op table.

`log1p(x)` = log(1 + x), exact for tiny x; `softplus(x)` = log(1 + e^x)
without overflow or cancellation (its derivative is the sigmoid);
`logsumexp(zs)` = log(sum(e^z)), whose derivative is the softmax; and
`maximum(a, b)`. Being primitives (not formulas with a Python `max()` or
`if`), they run in every interpreter: floats, Values with `create_graph`,
compiled and batched replay, ONNX export.
"""

from __future__ import annotations

from collections.abc import Iterable

from autograd_core.engine import OPS, Value

__all__ = ["log1p", "logsumexp", "maximum", "softplus"]

Number = int | float

_LOG1P, _SOFTPLUS, _MAXIMUM, _LOGSUMEXP = (
    OPS[name] for name in ("log1p", "softplus", "maximum", "logsumexp")
)


def log1p(x: Value | Number) -> Value:
    """log(1 + x) for x > -1, to the last bits for tiny x; d/dx = 1 / (1 + x)."""
    return _LOG1P(x)


def softplus(x: Value | Number) -> Value:
    """log(1 + e^x), finite and accurate for any finite x; d/dx = sigmoid(x)."""
    return _SOFTPLUS(x)


def maximum(a: Value | Number, b: Value | Number) -> Value:
    """The larger of a and b; the gradient goes to the one picked (to b at a tie)."""
    return _MAXIMUM(a, b)


def logsumexp(zs: Iterable[Value | Number]) -> Value:
    """log(sum(e^z)) without overflow or lost digits; d/dz_i = softmax(z)_i."""
    zs = list(zs)
    if not zs:
        raise ValueError("logsumexp needs at least one logit, got none")
    return _LOGSUMEXP(*zs)
