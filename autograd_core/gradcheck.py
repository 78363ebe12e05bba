"""Checking `backward()` against finite differences.

Every derivative lives in one rule in the engine; this module is how we know
the rules (and anyone's new primitive) are right: it compares the gradients
`backward()` computes with central differences, `(f(x+h) - f(x-h)) / 2h`,
one input at a time. The tolerances default to PyTorch's `gradcheck`.

Central differences are only meaningful where `f` is smooth: keep inputs off
kinks (relu and abs at 0) and away from domain edges (log and sqrt near 0).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_core.engine import Value, gradients, is_grad_enabled, no_grad
from autograd_core.errors import describe, is_number, type_name

__all__ = ["GradcheckError", "Mismatch", "gradcheck", "numerical_gradient"]


@dataclass(frozen=True)
class Mismatch:
    """One input whose analytic and numeric gradients disagree."""

    index: int
    label: str
    analytic: float
    numeric: float

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = abs(self.numeric)
        return self.abs_error / scale if scale > 0 else math.inf

    def __str__(self) -> str:
        name = f"input {self.index}" + (f" ({self.label!r})" if self.label else "")
        return (
            f"{name}: analytic {self.analytic!r}, numeric {self.numeric!r}, "
            f"abs error {self.abs_error:.3g}, rel error {self.rel_error:.3g}"
        )


class GradcheckError(AssertionError):
    """backward() disagrees with finite differences; `.mismatches` lists where."""

    def __init__(self, message: str, mismatches: list[Mismatch]) -> None:
        super().__init__(message)
        self.mismatches = mismatches


def _as_inputs(inputs: Any) -> list[Value]:
    """Inputs as a list of Values (numbers wrapped in new leaves)."""
    if isinstance(inputs, (Value, numbers.Real)):
        inputs = [inputs]
    if not isinstance(inputs, Sequence) or isinstance(inputs, str):
        raise TypeError(
            f"inputs must be a list or tuple of Values or numbers, got {type_name(inputs)}"
        )
    if not inputs:
        raise ValueError("inputs is empty: give at least one Value or number to check")
    out = []
    for i, x in enumerate(inputs):
        if isinstance(x, Value):
            out.append(x)
        elif is_number(x):  # any numbers.Real: Value converts it (typed int | float)
            out.append(Value(x))
        else:
            raise TypeError(f"inputs[{i}] must be a Value or a real number, got {type_name(x)}")
    return out


def _check_eps(eps: Any) -> float:
    # is_number, not isinstance: numbers.Real declares no comparison with an int for mypy
    if isinstance(eps, bool) or not is_number(eps) or not (0 < eps < math.inf):
        raise ValueError(
            f"eps must be a positive finite number (the finite-difference step), got {eps!r}"
        )
    return float(eps)


def _evaluate(f: Callable[..., Any], inputs: list[Value]) -> float:
    result = f(*inputs)
    if isinstance(result, Value):
        return result.data
    if isinstance(result, numbers.Real):
        return float(result)
    raise TypeError(f"f must return a scalar Value (or a number), got {describe(result)}"[:300])


def _step(i: int, x: Value, eps: float) -> tuple[float, float]:
    """The two points x -+ eps * max(1, |x|) for input i, or a ValueError saying why not.

    The step is relative to |x| beyond 1: an absolute eps vanishes next to a
    large x (1e20 + 1e-6 == 1e20), and the difference quotient would divide
    by zero. Where even that step rounds away (eps below the spacing of
    floats at x, e.g. 5e-324) or leaves the finite floats, the check is refused.
    """
    orig = x.data
    name = f"input {i}" + (f" ({x.label!r})" if x.label else "")
    if not math.isfinite(orig):
        raise ValueError(
            f"{name} is {orig!r}: finite differences need a finite point to move around"
        )
    h = eps * max(1.0, abs(orig))
    hi, lo = orig + h, orig - h
    if not (math.isfinite(hi) and math.isfinite(lo)):
        raise ValueError(
            f"{name} = {orig!r} moved by {h!r} (eps={eps!r} times |x|) leaves the finite "
            "floats: use a smaller eps"
        )
    if hi == lo:
        raise ValueError(
            f"eps={eps!r} is too small to move {name} = {orig!r}: x + h == x - h in floating "
            f"point (h = eps * max(1, |x|) = {h!r}). Use a larger eps, such as the default 1e-6"
        )
    return hi, lo


def _numeric(f: Callable[..., Any], values: list[Value], eps: float) -> list[float]:
    grads = []
    with no_grad():  # f only needs to be evaluated here, not differentiated
        for i, x in enumerate(values):
            orig = x.data
            hi, lo = _step(i, x, eps)
            try:
                x.data = hi
                f_hi = _evaluate(f, values)
                x.data = lo
                f_lo = _evaluate(f, values)
            except (ArithmeticError, ValueError) as e:
                raise ValueError(
                    f"f failed when input {i} was moved from {orig!r} to {x.data!r} "
                    f"(eps={eps!r}): {e}. Check a point further from the domain edge, "
                    "or use a smaller eps."
                ) from e
            finally:
                x.data = orig  # exactly the caller's float again
            grads.append((f_hi - f_lo) / (hi - lo))  # hi - lo: the step floats really took
    return grads


def numerical_gradient(f: Callable[..., Any], inputs: Any, eps: float = 1e-6) -> list[float]:
    """d f / d input by central differences: the reference backward() is checked against.

    `f(*inputs)` must return a scalar Value or number. Each input's `data` is
    moved by +-h, h = eps * max(1, |x|) (relative to x beyond 1, so that a
    large x still moves), and then restored exactly; nothing else is changed.
    A ValueError refuses an input that is not finite, or that the step cannot
    move (eps below the float spacing at x) or moves out of the finite floats.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable returning a scalar, got {type_name(f)}")
    return _numeric(f, _as_inputs(inputs), _check_eps(eps))


def gradcheck(
    f: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """True if backward() agrees with central differences; else GradcheckError listing where.

    `f(*inputs)` must return a scalar Value; `inputs` are Values or numbers
    (numbers are wrapped in new Values). The numeric gradient moves each input
    by +-eps * max(1, |x|) (see `numerical_gradient`, which also says which
    inputs and steps are refused with a ValueError). An input passes when
    `|analytic - numeric| <= atol + rtol * |numeric|`. The callers' Values
    are left as they were: data restored exactly, and no `grad` read or
    written (the analytic gradients come from the engine's `gradients()`).
    """
    if not callable(f):
        raise TypeError(f"f must be a callable returning a scalar Value, got {type_name(f)}")
    values = _as_inputs(inputs)
    eps = _check_eps(eps)
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {tol!r}")
    if not is_grad_enabled():
        raise RuntimeError(
            "gradcheck needs gradients recorded, but it was called inside no_grad(): "
            "call it outside no_grad()"
        )

    out = f(*values)
    if not isinstance(out, Value):
        raise TypeError(
            f"f must return a scalar Value so that backward() can run, got {describe(out)}"
        )
    analytic = [float(g) for g in gradients(out, values)]  # no `.grad` is touched
    numeric = _numeric(f, values, eps)

    mismatches = [
        Mismatch(i, v.label, a, n)
        for i, (v, a, n) in enumerate(zip(values, analytic, numeric))
        if not (a == n or abs(a - n) <= atol + rtol * abs(n))  # NaN never passes
    ]
    if mismatches:
        lines = "\n".join(f"  {m}" for m in mismatches)
        raise GradcheckError(
            f"gradcheck failed for {len(mismatches)} of {len(values)} input(s) "
            f"(eps={eps!r}, atol={atol!r}, rtol={rtol!r}):\n{lines}\n"
            "backward() disagrees with finite differences: a primitive's rule may return "
            "a wrong local derivative, or f is not smooth here (a kink such as relu or abs "
            "at 0, or a point near a domain edge).",
            mismatches,
        )
    return True
