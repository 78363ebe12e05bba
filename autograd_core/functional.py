"""Derivatives as functions, in the style of JAX and HIPS autograd.

`grad(f)` turns a scalar function of numbers into the function computing its
gradient, so derivatives compose like any other function: `grad(grad(f))` is
the second derivative, `hessian(f)` the matrix of them, `hvp` a Hessian-vector
product (what Newton's method and its cheaper cousins need).

The functions here differentiate nothing themselves: they build input nodes,
call `f`, and ask the engine's `gradients()` (a backward pass into a table of
its own). They live apart from the engine
because they are a different way in (functions of floats, no `.grad` to read
or reset), not a different way of computing.

How nesting works. A transformed function called with plain numbers returns
plain floats, computed on the fast float path. Called with Values, or from
inside another transformation (an outer `grad` evaluating `f`), it runs
`backward(create_graph=True)` and returns Values whose graphs lead back to its
arguments, so the outer transformation can differentiate them again. Each
differentiated argument gets an input node of its own, so `f(x, x)` still has
separate derivatives in its two arguments, as in JAX. No call reads or writes
any node's `.grad`, so these run safely beside training on the same weights.
"""

from __future__ import annotations

import functools
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core.engine import Value, enable_grad, gradients, primitive
from autograd_core.errors import describe

__all__ = ["grad", "hessian", "hvp", "value_and_grad"]

Number = int | float
Argnums = int | tuple[int, ...]


# ---------------------------------------------------------------------------
# How deep we are inside transformations, per thread. Inside one, every
# derivative must stay differentiable, even one of a function of plain numbers
# that closes over the outer function's Values.


class _Depth(threading.local):
    value: int = 0


_depth = _Depth()


@primitive("input")
def _input(m, x):
    # The identity, d/dx x = 1: a node of its own for each differentiated
    # argument that is already a Value, so its derivative is told apart from
    # that of another argument (or a closure) holding the same Value.
    return x, 1.0


# ---------------------------------------------------------------------------
# Validation.


def _check_function(f: object, name: str) -> None:
    if not callable(f):
        raise TypeError(f"{name}() needs a callable f, got {describe(f)}")


def _check_argnums(argnums: object, name: str) -> None:
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if isinstance(argnums, tuple) and not argnums:
        raise ValueError(f"{name}(): argnums must name at least one argument, got ()")
    for i in items:
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise TypeError(
                f"{name}(): argnums must be a non-negative int or a tuple of them, got {argnums!r}"
            )
    if len(set(items)) != len(items):
        raise ValueError(f"{name}(): argnums has repeated indices: {argnums!r}")


def _check_call(args: tuple, argnums: tuple[int, ...], name: str) -> None:
    for i in argnums:
        if i >= len(args):
            raise ValueError(
                f"{name}(): argnums={i} names argument {i}, but the function was called "
                f"with {len(args)} positional argument(s)"
            )
        x = args[i]
        if x.__class__ is not Value and (not isinstance(x, numbers.Real) or isinstance(x, bool)):
            raise TypeError(
                f"{name}(): argument {i} is differentiated, so it must be a real number "
                f"or a Value, got {describe(x)}"
            )


def _check_output(y: object, name: str) -> None:
    if y.__class__ is Value:
        return
    if isinstance(y, numbers.Real) and not isinstance(y, bool):
        return
    raise TypeError(
        f"{name}(): f must return a scalar (a Value or a real number), got {describe(y)}"
    )


# ---------------------------------------------------------------------------
# The core: inputs in, derivatives out, no trace left in any `.grad`.


def _inputs(args: tuple, argnums: tuple[int, ...]) -> tuple[list, list[Value]]:
    """Arguments with each differentiated one replaced by a fresh node."""
    out = list(args)
    nodes = []
    for i in argnums:
        x = out[i]
        node = _input(x) if x.__class__ is Value else Value(float(x), label=f"arg{i}")
        out[i] = node
        nodes.append(node)
    return out, nodes


def _differentiate(y: Any, wrt: Sequence[Value], create_graph: bool) -> list:
    """d y / d w for each w in `wrt`, from the engine's `gradients` (no `.grad` is touched).

    With `create_graph` the derivatives are Values (or floats where they are
    constants); otherwise floats.
    """
    if y.__class__ is not Value:  # a constant: every derivative is 0
        return [0.0] * len(wrt)
    result = gradients(y, wrt, create_graph=create_graph)
    if create_graph:
        return result
    return [float(g) for g in result]


def _evaluate(
    f: Callable, args: tuple, kwargs: dict, argnums: tuple[int, ...], name: str
) -> tuple[Any, list[Value], bool]:
    """Call f on fresh input nodes: (output, input nodes, whether to build graphs)."""
    _check_call(args, argnums, name)
    traced = _depth.value > 0 or any(a.__class__ is Value for a in (*args, *kwargs.values()))
    _depth.value += 1
    try:
        # Record the graph even under no_grad(): differentiating f is the point.
        with enable_grad():
            call_args, nodes = _inputs(args, argnums)
            y = f(*call_args, **kwargs)
    finally:
        _depth.value -= 1
    _check_output(y, name)
    return y, nodes, traced


def _result(y: Any, traced: bool) -> Any:
    if traced:
        return y
    return float(y.data) if y.__class__ is Value else float(y)


def _shape(derivatives: list, argnums: Argnums) -> Any:
    return tuple(derivatives) if isinstance(argnums, tuple) else derivatives[0]


# ---------------------------------------------------------------------------
# Public transformations.


def value_and_grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """Like `grad`, but also returns f's value: one forward pass serves both."""
    _check_function(f, "value_and_grad")
    _check_argnums(argnums, "value_and_grad")
    indices = argnums if isinstance(argnums, tuple) else (argnums,)

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        y, nodes, traced = _evaluate(f, args, kwargs, indices, "value_and_grad")
        derivatives = _differentiate(y, nodes, create_graph=traced)
        return _result(y, traced), _shape(derivatives, argnums)

    return value_and_grad_f


def grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """The gradient of a scalar function, as a function: derivatives that compose.

    `grad(f)(x)` is df/dx at x; `argnums` picks the arguments to differentiate
    (an int gives one derivative, a tuple a tuple of them). Called with floats
    it returns floats; called with Values (as `grad(grad(f))` does) it returns
    Values that can be differentiated again.
    """
    _check_function(f, "grad")
    _check_argnums(argnums, "grad")
    indices = argnums if isinstance(argnums, tuple) else (argnums,)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        y, nodes, traced = _evaluate(f, args, kwargs, indices, "grad")
        return _shape(_differentiate(y, nodes, create_graph=traced), argnums)

    return grad_f


def hessian(f: Callable, argnums: Argnums | None = None) -> Callable:
    """The matrix of second derivatives of a function of a few scalars.

    Returns a function giving a list of rows, `H[i][j] = d2f / dx_i dx_j`, over
    the arguments in `argnums` (all positional arguments by default). One
    graph-building backward pass, then one backward pass per row.
    """
    _check_function(f, "hessian")
    if argnums is not None:
        _check_argnums(argnums, "hessian")

    @functools.wraps(f)
    def hessian_f(*args: Any, **kwargs: Any) -> list[list[Any]]:
        if argnums is None:
            indices = tuple(range(len(args)))
            if not indices:
                raise ValueError("hessian(): the function was called with no arguments")
        else:
            indices = argnums if isinstance(argnums, tuple) else (argnums,)
        y, nodes, traced = _evaluate(f, args, kwargs, indices, "hessian")
        gradient = _differentiate(y, nodes, create_graph=True)
        return [_differentiate(g, nodes, create_graph=traced) for g in gradient]

    return hessian_f


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> list[Any]:
    """The Hessian of f at `primals` times the vector `tangents`, without forming the Hessian.

    Differentiates the scalar `grad f . v` once more: two backward passes
    whatever the number of arguments, where the full Hessian needs one per
    argument.
    """
    _check_function(f, "hvp")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"hvp(): needs one tangent per primal, got {len(primals)} primals "
            f"and {len(tangents)} tangents"
        )
    if not primals:
        raise ValueError("hvp(): needs at least one primal")
    for i, v in enumerate(tangents):
        if v.__class__ is not Value and (not isinstance(v, numbers.Real) or isinstance(v, bool)):
            raise TypeError(
                f"hvp(): tangent {i} must be a real number or a Value, got {describe(v)}"
            )
    indices = tuple(range(len(primals)))
    y, nodes, traced = _evaluate(f, primals, {}, indices, "hvp")
    traced = traced or any(v.__class__ is Value for v in tangents)
    gradient = _differentiate(y, nodes, create_graph=True)
    directional = sum((g * v for g, v in zip(gradient, tangents)), 0.0)
    return _differentiate(directional, nodes, create_graph=traced)
