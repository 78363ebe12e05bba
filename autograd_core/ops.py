"""The op table: every elementary math function and every primitive, declared once.

Two tables live here and nowhere else:

- `MATH`, the elementary functions a rule may call as `m.exp(x)`, `m.pow(x, y)`,
  ... Each entry carries its checked float implementation (errors name the
  function and the value) and its meaning in the other interpreters: NumPy
  arrays (IEEE results, no exceptions), ONNX nodes, and sympy (for the tests).
- `PRIMITIVES`, the operations a `Value` is built from. Each is one *rule*
  `rule(m, *operands) -> (out, d_out/d_operand, ...)`: the forward value and its
  local derivatives, written together, run over whichever namespace `m` the
  caller needs (floats, Values for `create_graph`, symbols for generated code,
  arrays for batched replay, ONNX nodes for export).

Every namespace is generated from `MATH` by `namespace()`, which fails at import
naming the function and the namespace when one has no meaning for it.

Rules never branch with `if` on an operand: an operand may be an array or a
symbol. They branch with `m.where(cond, a, b)`, whose `a` and `b` may be
zero-argument callables, evaluated only when chosen where the namespace can
(floats, Values, generated code) and both evaluated where it cannot (arrays,
ONNX). Comparisons `< <= > >=` work in every namespace; `==` does not (on
Values it is identity).

Adding an op, say `tan`: one `MATH` entry (float, numpy, onnx, sympy) and one
rule with its `Primitive(...)` line. The tests iterate over both tables.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

__all__ = [
    "FORMULAS",
    "MATH",
    "PRIMITIVES",
    "Formula",
    "MathFn",
    "NamespaceError",
    "Primitive",
    "force",
    "namespace",
]


class NamespaceError(LookupError):
    """An interpreter has no meaning for an elementary function (raised at import)."""


def force(x: Any) -> Any:
    """A `where` branch's value: call it if it is a zero-argument callable."""
    return x() if callable(x) else x


@dataclass(frozen=True)
class MathFn:
    """One elementary function and its meaning in every interpreter."""

    name: str
    fn: Callable[..., Any]  # the checked float implementation
    numpy: Callable[..., Any]  # (np, *arrays) -> array, elementwise, IEEE results
    onnx: Callable[..., Any]  # (g, *inputs) -> output, built with an ONNX graph builder
    sympy: Callable[..., Any]  # (sp, *exprs) -> expr, for the tests
    constant: bool = False  # piecewise constant (step, sign): derivative 0 everywhere


# ---------------------------------------------------------------------------
# Checked float implementations. Each raises with the function's name and the
# offending value instead of Python's bare "math domain error".


def _overflow(name: str, x: float) -> OverflowError:
    return OverflowError(f"{name} overflows at x={x!r}: the result exceeds the float range")


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise _overflow("exp", x) from None


def _log(x: float) -> float:
    if not x > 0:
        if x != x:
            return x  # NaN in, NaN out
        raise ValueError(f"log needs x > 0, got {x!r}")
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt needs x >= 0, got {x!r}")
    return math.sqrt(x)


def _pow(x: float, y: float) -> float:
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"pow: 0.0 cannot be raised to the negative power {y!r}")
    if x < 0 and not float(y).is_integer():
        raise ValueError(f"pow: a negative base {x!r} needs an integer exponent, got {y!r}")
    try:
        return x**y
    except OverflowError:
        raise OverflowError(f"pow overflows: {x!r} ** {y!r} exceeds the float range") from None


def _div(x: float, y: float) -> float:
    if y == 0:
        raise ZeroDivisionError(f"division by zero: {x!r} / {y!r}")
    return x / y


def _sigmoid(x: float) -> float:
    # Two branches so that exp never sees a large positive argument.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _relu(x: float) -> float:
    return 0.0 if x <= 0 else x  # NaN stays NaN (as in PyTorch)


def _step(x: float) -> float:
    """Heaviside step, 0 at 0: the derivative of relu (relu'(0) = 0); NaN at NaN."""
    return 1.0 if x > 0 else (0.0 if x <= 0 else x)


def _sign(x: float) -> float:
    """-1, 0 or 1: the derivative of abs (abs'(0) = 0); NaN at NaN."""
    return 1.0 if x > 0 else (-1.0 if x < 0 else (0.0 if x == 0 else x))


def _log1p(x: float) -> float:
    """log(1 + x), exact to the last bits for tiny x (where 1 + x would round)."""
    if not x > -1.0:
        if x != x:
            return x  # NaN in, NaN out
        raise ValueError(f"log1p needs x > -1, got {x!r}")
    return math.log1p(x)


def _softplus(x: float) -> float:
    """log(1 + e^x) without overflow or cancellation: x + log1p(e^-x) for x > 0."""
    if x > 0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))  # x <= 0 (NaN stays NaN, -inf gives 0)


def _maximum(a: float, b: float) -> float:
    """The larger of a and b; b at a tie; NaN if either is NaN."""
    if b != b:
        return b
    return b if a <= b else a


def _logsumexp(*zs: float) -> float:
    """log(sum(e^z)) as m + log1p(sum of e^(z - m) over all but one largest z, m).

    Every exp sees a number <= 0, and the 1 of the largest term is never added
    and taken away again, so log(1 + 1e-9) keeps its digits. Terms are added
    in order (as the NumPy and ONNX forms do). NaN anywhere gives NaN.
    """
    if not zs:
        raise ValueError("logsumexp needs at least one number")
    m = zs[0]
    for z in zs:
        if z != z:
            return z
        if z > m:
            m = z
    if m == math.inf or m == -math.inf:
        return m  # an infinite logit wins; all -inf: the sum is 0
    rest, skipped = 0.0, False
    for z in zs:
        if z == m and not skipped:
            skipped = True
            continue
        rest += math.exp(z - m)
    return m + math.log1p(rest)


def _finite_only(name: str, f: Callable[[float], float]) -> Callable[[float], float]:
    def checked(x: float) -> float:
        try:
            return f(x)
        except ValueError:
            raise ValueError(f"{name} needs a finite x, got {x!r}") from None

    checked.__name__ = name
    return checked


if sys.version_info >= (3, 12):
    # sum() of floats is compensated (Neumaier) since Python 3.12, so it would
    # no longer equal adding the terms one by one as the Value graph
    # `sum((w*x for ...), b)` does; reduce() adds them in order.
    def _dot(ws: Sequence[float], xs: Sequence[float], b: float) -> float:
        """b + w1*x1 + w2*x2 + ..., added in that order (as micrograd does)."""
        return reduce(operator.add, map(operator.mul, ws, xs), b)

else:  # sum() adds in order and is 9% cheaper on the demo's forward pass

    def _dot(ws: Sequence[float], xs: Sequence[float], b: float) -> float:
        """b + w1*x1 + w2*x2 + ..., added in that order (as micrograd does)."""
        return sum(map(operator.mul, ws, xs), b)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return force(a if cond else b)


# ---------------------------------------------------------------------------
# The table. NumPy functions are called under np.errstate(all="ignore") by the
# batched interpreter, so domain errors become NaN or inf there.


def _np_sigmoid(np: Any, x: Any) -> Any:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_step(np: Any, x: Any) -> Any:
    # A mask turned into floats (3x faster than np.heaviside); NaN stays NaN as in _step,
    # found by one sum (NaN or inf-inf: both then take the slower np.where, still exact).
    s = np.greater(x, 0.0).astype(np.float64)
    if np.isnan(np.sum(x)):
        s = np.where(np.isnan(x), x, s)
    return s


def _np_dot(np: Any, ws: Sequence[Any], xs: Sequence[Any], b: Any) -> Any:
    total = b
    for w, x in zip(ws, xs):
        total = total + w * x
    return total


def _onnx_step(g: Any, x: Any) -> Any:
    positive = g.node("Greater", x, g.const(0.0))
    return g.node("Where", positive, g.const(1.0), g.node("Mul", x, g.const(0.0)))


def _onnx_sigmoid(g: Any, x: Any) -> Any:
    # The float formula, not ONNX Runtime's float64 Sigmoid, which is exact to
    # about 1e-16 absolute only (9.35e-14 for 9.36e-14 at x = -30, 0 at -40).
    e = g.node("Exp", g.node("Neg", g.node("Abs", x)))
    one_plus = g.node("Add", g.const(1.0), e)
    return g.node(
        "Where",
        g.node("GreaterOrEqual", x, g.const(0.0)),
        g.node("Div", g.const(1.0), one_plus),
        g.node("Div", e, one_plus),
    )


def _onnx_dot(g: Any, ws: Sequence[Any], xs: Sequence[Any], b: Any) -> Any:
    total = b
    for w, x in zip(ws, xs):
        total = g.node("Add", total, g.node("Mul", w, x))
    return total


def _np_maximum(np: Any, a: Any, b: Any) -> Any:
    return np.where(b != b, b, np.where(a <= b, b, a))


def _np_logsumexp(np: Any, *zs: Any) -> Any:
    m = zs[0]
    for z in zs[1:]:
        m = np.where(z > m, z, m)
    nan = zs[0] != zs[0]
    for z in zs[1:]:
        nan = nan | (z != z)
    infinite = np.isinf(m)
    shift = np.where(infinite, 0.0, m)
    rest = 0.0
    skipped = np.zeros(np.shape(m), dtype=bool)
    for z in zs:
        first = (z == m) & ~skipped
        skipped = skipped | first
        rest = rest + np.where(first, 0.0, np.exp(z - shift))
    out = np.where(infinite, m, m + np.log1p(rest))
    return np.where(nan, np.nan, out)


def _onnx_log1p(g: Any, x: Any) -> Any:
    # ONNX has no Log1p: log(u) * x / (u - 1) with u = 1 + x rounded is exact to a
    # few ulps (the rounding of u cancels); x itself where u rounds to 1; log(u)
    # for huge x, where x / (u - 1) would be inf / inf.
    u = g.node("Add", g.const(1.0), x)
    um1 = g.node("Sub", u, g.const(1.0))
    ratio = g.node("Div", g.node("Mul", g.node("Log", u), x), um1)
    big = g.node("Where", g.node("Greater", x, g.const(1e15)), g.node("Log", u), ratio)
    return g.node("Where", g.node("Equal", um1, g.const(0.0)), x, big)


def _onnx_softplus(g: Any, x: Any) -> Any:
    tail = _onnx_log1p(g, g.node("Exp", g.node("Neg", g.node("Abs", x))))
    return g.node("Add", g.node("Relu", x), tail)


def _onnx_maximum(g: Any, a: Any, b: Any) -> Any:
    larger = g.node("Where", g.node("LessOrEqual", a, b), b, a)
    return g.node("Where", g.node("Equal", b, b), larger, b)


def _onnx_logsumexp(g: Any, *zs: Any) -> Any:
    m = zs[0]
    for z in zs[1:]:
        m = g.node("Where", g.node("Greater", z, m), z, m)
    finite = g.node("Equal", g.node("Sub", m, m), g.const(0.0))  # false for inf and NaN
    shift = g.node("Where", finite, m, g.const(0.0))
    rest: Any = g.const(0.0)
    skipped: Any = None
    for z in zs:
        is_max = g.node("Equal", z, m)
        if skipped is None:
            first = skipped = is_max
        else:
            not_skipped = g.node("Not", skipped)
            first = g.node("And", is_max, not_skipped)
            # skipped or first, as Not(And(Not, Not)): And and Not are the boolean ops at hand
            skipped = g.node("Not", g.node("And", g.node("Not", first), not_skipped))
        term = g.node("Where", first, g.const(0.0), g.node("Exp", g.node("Sub", z, shift)))
        rest = g.node("Add", rest, term)
    out = g.node("Add", m, _onnx_log1p(g, rest))
    nan = g.const(math.nan)
    for z in zs:  # NaN anywhere gives NaN, as the float form does
        out = g.node("Where", g.node("Equal", z, z), out, nan)
    return g.node("Where", finite, out, g.node("Where", g.node("Equal", m, m), m, nan))


def _onnx_unary(op_type: str) -> Callable[..., Any]:
    return lambda g, x: g.node(op_type, x)


def _entry(
    name: str, fn: Callable, numpy: Callable, onnx: Callable, sympy: Callable, **kw: Any
) -> tuple[str, MathFn]:
    return name, MathFn(name, fn, numpy, onnx, sympy, **kw)


MATH: dict[str, MathFn] = dict(
    [
        _entry("exp", _exp, lambda np, x: np.exp(x), _onnx_unary("Exp"), lambda sp, x: sp.exp(x)),
        _entry("log", _log, lambda np, x: np.log(x), _onnx_unary("Log"), lambda sp, x: sp.log(x)),
        _entry(
            "sqrt", _sqrt, lambda np, x: np.sqrt(x), _onnx_unary("Sqrt"), lambda sp, x: sp.sqrt(x)
        ),
        _entry(
            "tanh",
            math.tanh,
            lambda np, x: np.tanh(x),
            _onnx_unary("Tanh"),
            lambda sp, x: sp.tanh(x),
        ),
        _entry(
            "sigmoid",
            _sigmoid,
            _np_sigmoid,
            _onnx_sigmoid,
            lambda sp, x: 1 / (1 + sp.exp(-x)),
        ),
        _entry(
            "relu",
            _relu,
            lambda np, x: np.maximum(x, 0.0),  # NaN stays NaN; -0.0 gives +0.0, as _relu
            _onnx_unary("Relu"),
            lambda sp, x: sp.Max(x, 0),
        ),
        _entry(
            "step",
            _step,
            _np_step,
            _onnx_step,
            lambda sp, x: sp.Heaviside(x, 0),
            constant=True,
        ),
        _entry(
            "sign",
            _sign,
            lambda np, x: np.sign(x),
            _onnx_unary("Sign"),
            lambda sp, x: sp.sign(x),
            constant=True,
        ),
        _entry("abs", abs, lambda np, x: np.abs(x), _onnx_unary("Abs"), lambda sp, x: sp.Abs(x)),
        _entry(
            "sin",
            _finite_only("sin", math.sin),
            lambda np, x: np.sin(x),
            _onnx_unary("Sin"),
            lambda sp, x: sp.sin(x),
        ),
        _entry(
            "cos",
            _finite_only("cos", math.cos),
            lambda np, x: np.cos(x),
            _onnx_unary("Cos"),
            lambda sp, x: sp.cos(x),
        ),
        _entry(
            "pow",
            _pow,
            lambda np, x, y: np.power(x, y),
            lambda g, x, y: g.node("Pow", x, y),
            lambda sp, x, y: x**y,
        ),
        _entry(
            "div",
            _div,
            lambda np, x, y: np.divide(x, y),
            lambda g, x, y: g.node("Div", x, y),
            lambda sp, x, y: x / y,
        ),
        _entry(
            "dot",
            _dot,
            _np_dot,
            _onnx_dot,
            lambda sp, ws, xs, b: b + sum(w * x for w, x in zip(ws, xs)),
        ),
        _entry(
            "log1p",
            _log1p,
            lambda np, x: np.log1p(x),
            _onnx_log1p,
            lambda sp, x: sp.log(1 + x),
        ),
        _entry(
            "softplus",
            _softplus,
            lambda np, x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))),
            _onnx_softplus,
            lambda sp, x: sp.log(1 + sp.exp(x)),
        ),
        _entry(
            "maximum",
            _maximum,
            _np_maximum,
            _onnx_maximum,
            lambda sp, a, b: sp.Piecewise((a, a > b), (b, True)),  # b at a tie, as the rule
        ),
        _entry(
            "logsumexp",
            _logsumexp,
            _np_logsumexp,
            _onnx_logsumexp,
            lambda sp, *zs: sp.log(sum(sp.exp(z) for z in zs)),
        ),
        _entry(
            "where",
            _where,
            lambda np, c, a, b: np.where(c, force(a), force(b)),
            lambda g, c, a, b: g.node("Where", c, force(a), force(b)),
            lambda sp, c, a, b: sp.Piecewise((force(a), c), (force(b), True)),
        ),
    ]
)


class _Namespace:
    """The math namespace a rule sees: one attribute per `MATH` entry."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<math namespace {self.name!r}>"


def namespace(name: str, make: Callable[[MathFn], Callable[..., Any] | None]) -> Any:
    """A namespace with `make(entry)` for every entry of `MATH`.

    `make` returns None for an entry it has no meaning for: that is a
    NamespaceError naming both, so an interpreter is complete or fails at import.
    """
    ns = _Namespace(name)
    for entry in MATH.values():
        fn = make(entry)
        if fn is None:
            raise NamespaceError(f"the {name} namespace has no {entry.name!r}")
        setattr(ns, entry.name, fn)
    return ns


FLOAT = namespace("float", lambda entry: entry.fn)


# ---------------------------------------------------------------------------
# The rules. Each returns the output, then d out / d operand for each operand.


def _add_rule(m, x, y):
    return x + y, 1.0, 1.0


def _sub_rule(m, x, y):
    return x - y, 1.0, -1.0


def _mul_rule(m, x, y):
    return x * y, y, x


def _div_rule(m, x, y):
    out = m.div(x, y)
    # d/dx x/y = 1/y;  d/dy x/y = -x/y**2 = -out/y
    return out, m.div(1.0, y), -m.div(out, y)


def _neg_rule(m, x):
    return -x, -1.0


def _pow_rule(m, x, y):
    out = m.pow(x, y)
    # d/dx x**y = y * x**(y-1). For y < 1 it is written y * out / x, which is
    # +-inf, not an overflow error, when x**(y-1) alone leaves the float range
    # (tiny x); at x == 0 the slope is 0 for y == 0 and +inf for 0 < y < 1
    # (the one-sided limit, as sqrt'(0)). (y < 0 at x == 0 failed above.)
    dx = m.where(
        y >= 1,
        lambda: y * m.pow(x, y - 1),
        lambda: m.where(m.abs(x) <= 0, lambda: m.where(y > 0, math.inf, 0.0), lambda: y * out / x),
    )
    # d/dy x**y = x**y * log(x) for x > 0; 0 at x == 0 (the limit from y > 0);
    # a negative base has no real derivative in y: NaN, as in PyTorch.
    dy = m.where(x > 0, lambda: out * m.log(x), lambda: m.where(x >= 0, 0.0, math.nan))
    return out, dx, dy


def _exp_rule(m, x):
    out = m.exp(x)
    return out, out  # d/dx e^x = e^x


def _log_rule(m, x):
    return m.log(x), m.div(1.0, x)  # d/dx log x = 1/x


def _sqrt_rule(m, x):
    out = m.sqrt(x)
    # d/dx sqrt(x) = 1 / (2 sqrt(x)); +inf at 0, the one-sided limit (NaN stays NaN).
    return out, m.where(out <= 0, math.inf, lambda: 0.5 / out)


def _tanh_rule(m, x):
    t = m.tanh(x)
    return t, 1.0 - t * t  # d/dx tanh x = 1 - tanh(x)**2


def _sigmoid_rule(m, x):
    s = m.sigmoid(x)
    return s, s * (1.0 - s)  # d/dx s(x) = s(x) (1 - s(x))


def _relu_rule(m, x):
    return m.relu(x), m.step(x)  # relu'(0) = 0


def _abs_rule(m, x):
    return m.abs(x), m.sign(x)  # abs'(0) = 0


def _sin_rule(m, x):
    return m.sin(x), m.cos(x)


def _cos_rule(m, x):
    return m.cos(x), -m.sin(x)


def _log1p_rule(m, x):
    return m.log1p(x), m.div(1.0, x + 1.0)  # d/dx log(1 + x) = 1 / (1 + x)


def _softplus_rule(m, x):
    return m.softplus(x), m.sigmoid(x)  # d/dx log(1 + e^x) = sigmoid(x)


def _maximum_rule(m, a, b):
    # The gradient goes to the operand picked: b at a tie (as relu'(0) = 0). step(a - b)
    # is 1 where a > b, else 0, and NaN when either is NaN: NaN gradients, never a quiet 0.
    s = m.step(a - b)
    return m.maximum(a, b), s, 1.0 - s


def _logsumexp_rule(m, *zs):
    # d/dz_i log(sum_j e^z_j) = e^z_i / sum_j e^z_j = e^(z_i - out): the softmax.
    out = m.logsumexp(*zs)
    return (out, *[m.exp(z - out) for z in zs])


def _linear_rule(m, *operands):
    # Operands w1..wn, x1..xn, b:  out = b + sum_i w_i x_i, with
    # d out/d w_i = x_i,  d out/d x_i = w_i,  d out/d b = 1.
    # One node instead of 2n: a neuron's pre-activation, fused for speed.
    n = len(operands) // 2
    ws, xs = operands[:n], operands[n : 2 * n]
    return (m.dot(ws, xs, operands[-1]), *xs, *ws, 1.0)


# ---------------------------------------------------------------------------
# How the explorer writes each primitive: its output and local derivatives as
# templates. `autograd_core.explore` fills them twice, with names and with the
# node's numbers, and ends with the engine's own value: the page never computes.


@dataclass(frozen=True)
class Formula:
    """A primitive written out: `out` and one `grads` template per operand.

    In a template, `{x}`, `{y}`, ... (the names in `operands`, in order) stand
    for the operands and `{out}` for the output, e.g. tanh's derivative is
    `1 − {out}²`, shown as `1 − tanh(x)² = 1 − 0.883² = 0.2204`.
    """

    out: str
    grads: tuple[str, ...]
    operands: tuple[str, ...] = ("x", "y")

    def __post_init__(self) -> None:
        if not isinstance(self.out, str) or not all(isinstance(g, str) for g in self.grads):
            raise TypeError(f"Formula: out and grads must be str, got {self.out!r}, {self.grads!r}")
        if len(self.operands) < len(self.grads):
            raise ValueError(
                f"Formula: {len(self.grads)} derivative(s) but only {len(self.operands)} "
                f"operand name(s) {self.operands!r}"
            )


def _linear_formula(n_operands: int) -> Formula:
    """linear(w1..wn, x1..xn, b) = b + w1·x1 + ... + wn·xn."""
    n = n_operands // 2
    ws = tuple(f"w{i + 1}" for i in range(n))
    xs = tuple(f"x{i + 1}" for i in range(n))
    out = " + ".join(["{b}", *(f"{{{w}}}·{{{x}}}" for w, x in zip(ws, xs))])
    grads = (*(f"{{{x}}}" for x in xs), *(f"{{{w}}}" for w in ws), "1")
    return Formula(out, grads, (*ws, *xs, "b"))


# A Formula, or for a variadic primitive a function of the operand count to one.
FormulaSpec = Formula | Callable[[int], Formula]

FORMULAS: dict[str, FormulaSpec] = {
    "add": Formula("{x} + {y}", ("1", "1")),
    "sub": Formula("{x} − {y}", ("1", "−1")),
    "mul": Formula("{x} · {y}", ("{y}", "{x}")),
    "div": Formula("{x} / {y}", ("1 / {y}", "−{out} / {y}")),
    "pow": Formula("{x}^{y}", ("{y} · {x}^({y} − 1)", "{out} · log({x})")),
    "neg": Formula("−{x}", ("−1",)),
    "exp": Formula("exp({x})", ("exp({x})",)),
    "log": Formula("log({x})", ("1 / {x}",)),
    "sqrt": Formula("sqrt({x})", ("1 / (2 · {out})",)),
    "tanh": Formula("tanh({x})", ("1 − {out}²",)),
    "sigmoid": Formula("sigmoid({x})", ("{out} · (1 − {out})",)),
    "relu": Formula("relu({x})", ("(1 if {x} > 0 else 0)",)),
    "abs": Formula("|{x}|", ("sign({x})",)),
    "sin": Formula("sin({x})", ("cos({x})",)),
    "cos": Formula("cos({x})", ("−sin({x})",)),
    "linear": _linear_formula,
}


def as_formula(name: str, formula: Any) -> FormulaSpec | None:
    """A primitive's `formula=` argument checked: a Formula, a function of the
    operand count, a str (the derivative of a one-operand op), a sequence of str
    (one derivative per operand), or None."""
    if formula is None or isinstance(formula, Formula) or callable(formula):
        return formula
    if isinstance(formula, str):
        return Formula(f"{name}({{x}})", (formula,), ("x",))
    if isinstance(formula, (tuple, list)) and all(isinstance(g, str) for g in formula):
        names = (
            ("x", "y", "z")
            if len(formula) <= 3
            else tuple(f"x{i + 1}" for i in range(len(formula)))
        )
        args = ", ".join(f"{{{n}}}" for n in names[: len(formula)])
        return Formula(f"{name}({args})", tuple(formula), names[: len(formula)])
    raise TypeError(
        f"primitive {name!r}: formula must be a Formula, a str (the derivative of a one-operand "
        f"op) or a sequence of str (one derivative per operand), got {type(formula).__qualname__}"
    )


@dataclass(frozen=True)
class Primitive:
    """A built-in operation: its rule, arity and how `Value` exposes it.

    `math` names the `MATH` function that the `Value` namespace maps onto this
    primitive (so that `m.exp` under `create_graph` builds an `exp` node);
    `domain` is, per operand, an interval where the tests sample it smoothly.
    """

    name: str
    rule: Callable[..., tuple]
    arity: int | None
    symbol: str | None = None
    method: str | None = None  # the Value method or operator it is installed as
    math: str | None = None
    domain: tuple[tuple[float, float], ...] = ()
    # How the explorer writes it; None: from FORMULAS by name (None there: numbers only).
    formula: FormulaSpec | None = None

    def __post_init__(self) -> None:
        if self.formula is None and self.name in FORMULAS:
            object.__setattr__(self, "formula", FORMULAS[self.name])


_ANY = (-2.0, 2.0)
_POSITIVE = (0.2, 3.0)

PRIMITIVES: tuple[Primitive, ...] = (
    Primitive("add", _add_rule, 2, "+", "__add__", domain=(_ANY, _ANY)),
    Primitive("sub", _sub_rule, 2, "-", "__sub__", domain=(_ANY, _ANY)),
    Primitive("mul", _mul_rule, 2, "*", "__mul__", domain=(_ANY, _ANY)),
    Primitive("div", _div_rule, 2, "/", "__truediv__", "div", (_ANY, _POSITIVE)),
    Primitive("pow", _pow_rule, 2, "**", "__pow__", "pow", (_POSITIVE, _ANY)),
    Primitive("neg", _neg_rule, 1, "-", "__neg__", domain=(_ANY,)),
    Primitive("exp", _exp_rule, 1, None, "exp", "exp", (_ANY,)),
    Primitive("log", _log_rule, 1, None, "log", "log", (_POSITIVE,)),
    Primitive("sqrt", _sqrt_rule, 1, None, "sqrt", "sqrt", (_POSITIVE,)),
    Primitive("tanh", _tanh_rule, 1, None, "tanh", "tanh", (_ANY,)),
    Primitive("sigmoid", _sigmoid_rule, 1, None, "sigmoid", "sigmoid", (_ANY,)),
    Primitive("relu", _relu_rule, 1, None, "relu", "relu", ((0.1, 2.0),)),
    Primitive("abs", _abs_rule, 1, None, "__abs__", "abs", ((0.1, 2.0),)),
    Primitive("sin", _sin_rule, 1, None, "sin", "sin", (_ANY,)),
    Primitive("cos", _cos_rule, 1, None, "cos", "cos", (_ANY,)),
    Primitive("linear", _linear_rule, None, "w·x+b", None, "dot", (_ANY, _ANY, _ANY)),
    Primitive("log1p", _log1p_rule, 1, None, None, "log1p", (_POSITIVE,)),
    Primitive("softplus", _softplus_rule, 1, None, None, "softplus", (_ANY,)),
    Primitive("maximum", _maximum_rule, 2, "max", None, "maximum", (_ANY, _ANY)),
    Primitive("logsumexp", _logsumexp_rule, None, "logsumexp", None, "logsumexp", (_ANY,) * 3),
)
