"""`check_grads`: every order of derivative of a function against finite differences.

The first derivatives are checked against central differences of the function;
each higher order against central differences of the order below, computed by
`backward(create_graph=True)` (as JAX's `check_grads` and PyTorch's
`gradgradcheck` do). So order 2 catches a rule whose first derivative is right
as a number but is built, under `create_graph`, from something whose own
derivative is wrong: `gradcheck` cannot see that.

Finite differences are only meaningful where the function is smooth. Points
near a kink (relu or abs at 0, `m.where` switching branches) or a domain edge
(log or sqrt near 0, a pole) are the caller's responsibility: the step
`eps * max(1, |x|)` must not cross them, so keep every input at least a few
steps away, e.g. draw inputs from an interval that excludes the kink, or
shift a point that lands within 1e-3 of it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_core.engine import Value, enable_grad, topological_order
from autograd_core.errors import describe, type_name

__all__ = ["DerivativeError", "DerivativeMismatch", "check_grads", "derivatives"]


@dataclass(frozen=True)
class DerivativeMismatch:
    """One derivative whose analytic and numeric values disagree.

    `index` names the inputs it differentiates by, in order: `(0, 1)` is
    d/dx1 of df/dx0.
    """

    order: int
    index: tuple[int, ...]
    point: tuple[float, ...]
    analytic: float
    numeric: float
    tolerance: float

    @property
    def name(self) -> str:
        """`df/dx0`, `d2f/dx0dx1`, ...: the derivative in the usual notation."""
        k = len(self.index)
        return f"d{k if k > 1 else ''}f/" + "".join(f"dx{i}" for i in self.index)

    def __str__(self) -> str:
        diff = abs(self.analytic - self.numeric)
        return (
            f"{self.name} (order {self.order}, input {self.index[-1]}): "
            f"analytic {self.analytic!r}, numeric {self.numeric!r}, "
            f"|difference| {diff:.3g} > tolerance {self.tolerance:.3g}"
        )


class DerivativeError(AssertionError):
    """A derivative disagrees with finite differences; `.mismatches` says which and by how much."""

    def __init__(self, message: str, order: int, mismatches: list[DerivativeMismatch]) -> None:
        super().__init__(message)
        self.order = order
        self.mismatches = mismatches


# ---------------------------------------------------------------------------
# Derivatives of every order, by nested backward(create_graph=True).


def _result(f: Callable[..., Any], inputs: list[Value]) -> Any:
    out = f(*inputs)
    if out.__class__ is Value or (isinstance(out, numbers.Real) and not isinstance(out, bool)):
        return out
    raise TypeError(f"check_grads: f must return a scalar Value (or a number), got {describe(out)}")


def _number(x: Any) -> float:
    return x.data if x.__class__ is Value else float(x)


def derivatives(
    f: Callable[..., Any], point: Sequence[float], order: int
) -> dict[tuple[int, ...], float]:
    """Every derivative of `f` of the given order at `point`, by nested `create_graph`.

    Returns `{index: float}` with one entry per index tuple of length `order`
    (`(i, j)` is d/dx_j of df/dx_i); order 0 is `{(): f(point)}`. Each level
    runs `backward()` once per derivative of the level below, with
    `create_graph=True` except at the last level (so order 1 is exactly what
    a plain `backward()` gives), on fresh input Values: nothing the caller
    holds is touched.
    """
    with enable_grad():
        xs = [Value(x) for x in point]
        out = _result(f, xs)
        # Values f captured (weights) are in this graph: their grads are put back.
        nodes = topological_order(out) if out.__class__ is Value and order else []
        saved = [node.grad for node in nodes]
        try:
            level: dict[tuple[int, ...], Any] = {(): out}
            for depth in range(order):
                below, level = level, {}
                for index, node in below.items():
                    if node.__class__ is not Value:  # a number: all its derivatives are 0
                        level.update({index + (j,): 0.0 for j in range(len(xs))})
                        continue
                    for x in xs:
                        x.grad = 0.0
                    node.backward(create_graph=depth < order - 1)
                    level.update({index + (j,): x.grad for j, x in enumerate(xs)})
            return {index: _number(v) for index, v in level.items()}
        finally:
            for node, g in zip(nodes, saved):
                node.grad = g


# ---------------------------------------------------------------------------
# The check.


def _check_point(args: Any) -> list[float]:
    if isinstance(args, (Value, numbers.Real)):
        args = [args]
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise TypeError(f"check_grads: args must be a list of numbers, got {type_name(args)}")
    if not args:
        raise ValueError("check_grads: args is empty: give one number per input of f")
    point = []
    for i, a in enumerate(args):
        if a.__class__ is Value:
            a = a.data
        if isinstance(a, bool) or not isinstance(a, numbers.Real):
            raise TypeError(f"check_grads: args[{i}] must be a real number, got {describe(a)}")
        if not math.isfinite(a):
            raise ValueError(
                f"check_grads: args[{i}] is {a!r}: finite differences need finite points"
            )
        point.append(float(a))
    return point


def _check_positive(name: str, x: Any, allow_zero: bool) -> float:
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)
    if not ok or not (x >= 0 if allow_zero else x > 0):
        what = "a number >= 0" if allow_zero else "a positive finite number"
        raise ValueError(f"check_grads: {name} must be {what}, got {x!r}")
    return float(x)


def _shifted(point: list[float], j: int, eps: float) -> tuple[list[float], list[float], float]:
    """The points with input j moved by +-eps * max(1, |x_j|), and the step between them."""
    x = point[j]
    h = eps * max(1.0, abs(x))
    hi, lo = list(point), list(point)
    hi[j], lo[j] = x + h, x - h
    if not (math.isfinite(hi[j]) and math.isfinite(lo[j])) or hi[j] == lo[j]:
        raise ValueError(
            f"check_grads: eps={eps!r} cannot move input {j} = {x!r} (x + h and x - h are "
            "equal or not finite): choose another eps"
        )
    return hi, lo, hi[j] - lo[j]


def _at(
    f: Callable[..., Any], point: list[float], order: int, moved: int, eps: float
) -> dict[tuple[int, ...], float]:
    try:
        return derivatives(f, point, order)
    except (ArithmeticError, ValueError) as e:
        raise ValueError(
            f"check_grads: f failed with input {moved} moved to {point[moved]!r} "
            f"(eps={eps!r}) for the finite differences: {e}. Check a point further from the "
            "domain edge, or use a smaller eps."
        ) from e


def check_grads(
    f: Callable[..., Any],
    args: Any,
    order: int = 2,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    orders: Sequence[int] | None = None,
) -> None:
    """Check every derivative of `f` at `args` up to `order` against finite differences.

    `f(*values)` returns a scalar Value; `args` are numbers, one per input.
    Order 1 compares `backward()`'s gradient with central differences of `f`;
    order k > 1 compares the derivatives `backward(create_graph=True)` gives
    at order k with central differences of those it gives at order k - 1.
    Each input moves by +-eps * max(1, |x|). A derivative passes when
    `|analytic - numeric| <= atol + rtol * |numeric|` (PyTorch's gradcheck
    tolerances by default). `orders` checks only those orders (e.g. `[2]`).

    Raises `DerivativeError` (an AssertionError) at the first order that
    fails, naming each failing derivative and its input, the analytic and
    numeric values and the tolerance. Points must be where `f` is smooth:
    inputs near a kink or a domain edge are the caller's responsibility
    (see the module docstring for how to pick them).
    """
    if not callable(f):
        raise TypeError(f"check_grads: f must be a function of Values, got {type_name(f)}")
    point = _check_point(args)
    if isinstance(order, bool) or not isinstance(order, int):
        raise TypeError(
            f"check_grads: order must be an int >= 1, got {type_name(order)}: {order!r}"
        )
    if order < 1:
        raise ValueError(f"check_grads: order must be an int >= 1, got {order!r}")
    eps = _check_positive("eps", eps, allow_zero=False)
    atol = _check_positive("atol", atol, allow_zero=True)
    rtol = _check_positive("rtol", rtol, allow_zero=True)
    wanted = range(1, order + 1) if orders is None else sorted(set(orders))
    for k in wanted:
        if k not in range(1, order + 1):
            raise ValueError(f"check_grads: orders must lie in 1..{order}, got {k!r}")
        _check_order(f, point, k, eps, atol, rtol)


def _check_order(
    f: Callable[..., Any], point: list[float], k: int, eps: float, atol: float, rtol: float
) -> None:
    analytic = derivatives(f, point, k)
    numeric: dict[tuple[int, ...], float] = {}
    for j in range(len(point)):
        hi, lo, step = _shifted(point, j, eps)
        upper, lower = _at(f, hi, k - 1, j, eps), _at(f, lo, k - 1, j, eps)
        for index in upper:
            numeric[index + (j,)] = (upper[index] - lower[index]) / step
    bad = []
    for index, a in analytic.items():
        n = numeric[index]
        tol = atol + rtol * abs(n)
        if not (a == n or abs(a - n) <= tol):  # NaN never passes
            bad.append(DerivativeMismatch(k, index, tuple(point), a, n, tol))
    if not bad:
        return
    where = ", ".join(f"x{i}={x!r}" for i, x in enumerate(point))
    source = (
        "central differences of f"
        if k == 1
        else f"central differences of the order-{k - 1} derivatives that backward() gives"
    )
    lines = "\n".join(f"  {m}" for m in bad)
    raise DerivativeError(
        f"check_grads: {len(bad)} derivative(s) of order {k} disagree with finite differences "
        f"at ({where}):\n{lines}\n"
        f"numeric: {source}, step eps * max(1, |x|) with eps={eps!r}; "
        f"tolerance atol + rtol * |numeric| with atol={atol!r}, rtol={rtol!r}. "
        "If f is not smooth here (a kink such as relu or abs at 0, a domain edge), "
        "check another point.",
        k,
        bad,
    )
