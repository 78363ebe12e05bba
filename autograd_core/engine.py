"""`Value`, the primitives it is built from, and `backward()`.

A `Value` holds one float. Every primitive is a single *rule*: a function that
returns the output and the local derivative of the output with respect to each
operand, written once next to each other. The rule takes a math namespace `m`
as its first argument, so the same lines serve two purposes:

- with `m = FLOAT` (plain floats) it runs when an operation is applied, and the
  node records its operands and their local derivatives as floats;
- with `m = VALUE` (operands are Values) it runs during
  `backward(create_graph=True)`, so the local derivatives are themselves Values
  and can be differentiated again.

Memory and speed shape the node: one object with `__slots__`, no closures, no
reference cycles (graphs are freed by reference counting, not by the cyclic
garbage collector). A unary or binary node keeps its operands inline (`_a`,
`_b`) with their local derivatives (`_ga`, `_gb`): no tuple per node, which
keeps a node of elementary arithmetic near 120 bytes. A number operand (the
`2` in `x*2`) is stored as a plain float, never wrapped into a node; its local
derivative slot is None, which is how `backward()` and the graph walk tell it
apart. An n-ary node (`linear`, user primitives with `arity=None`) keeps all
its operands in a tuple in `_a`, its Value operands in `_b` (the same tuple
when there are no numbers) and their local derivatives in `_ga`.
`Value.parents` shows every node's `(parent, local_grad)` pairs as a tuple.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from typing import Any

__all__ = [
    "FLOAT",
    "VALUE",
    "Op",
    "Value",
    "detach",
    "enable_grad",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "primitive",
    "topological_order",
]

Number = int | float


# ---------------------------------------------------------------------------
# Per-thread switches. The hot path reads one module global (`_slow`), which is
# non-zero only while some thread is inside `no_grad()` or anomaly mode; only
# then is the thread-local state consulted.


class _ThreadState(threading.local):
    grad_enabled: bool = True
    anomaly: Any = None  # an object with .forward(node) and .backward(...)


_state = _ThreadState()
_slow = 0
_slow_lock = threading.Lock()


def _enter_slow() -> None:
    global _slow
    with _slow_lock:
        _slow += 1


def _leave_slow() -> None:
    global _slow
    with _slow_lock:
        _slow -= 1


class _GradMode:
    """Sets, for this thread, whether operations record their parents."""

    enabled: bool

    def __init__(self) -> None:
        # A stack, not one slot: the same instance may be entered again while
        # active (nested, recursion) and must restore each level's state.
        self._prev: list[bool] = []

    def __enter__(self) -> _GradMode:
        self._prev.append(_state.grad_enabled)
        _state.grad_enabled = self.enabled
        _enter_slow()
        return self

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev.pop()
        _leave_slow()

    def __call__(self, func: Callable) -> Callable:
        import functools

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator under which operations record no parents.

    Thread-local, like PyTorch's: other threads keep building graphs. Use it for
    parameter updates and evaluation, where a graph would only cost memory.
    """

    enabled = False


class enable_grad(_GradMode):
    """Record parents again inside a `no_grad()` block (thread-local)."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether operations in this thread currently record their parents."""
    return _state.grad_enabled


@contextmanager
def _scratch_grads(nodes: Iterable[Value]) -> Iterator[None]:
    """Start `nodes` at grad 0 and put every one of their grads back afterwards.

    For the tools that run `backward()` only to read gradients (gradcheck,
    `functional.grad`, `explain`), so that the caller's `.grad`s are untouched.
    """
    nodes = list(dict.fromkeys(nodes))  # each node once, in order
    saved = [node.grad for node in nodes]
    try:
        for node in nodes:
            node.grad = 0.0
        yield
    finally:
        for node, g in zip(nodes, saved):
            node.grad = g


@contextmanager
def _anomaly_mode(checker: Any) -> Iterator[None]:
    """Install `checker` for this thread (used by `anomaly.detect_anomaly`)."""
    prev = _state.anomaly
    _state.anomaly = checker
    _enter_slow()
    try:
        yield
    finally:
        _state.anomaly = prev
        _leave_slow()


# ---------------------------------------------------------------------------
# Checked float math. Each function raises with the operation's name and the
# offending value instead of Python's bare "math domain error".


def _overflow(name: str, x: float) -> OverflowError:
    return OverflowError(f"{name} overflows at x={x!r}: the result exceeds the float range")


class _FloatMath:
    """The namespace a rule sees when its operands are floats."""

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            raise _overflow("exp", x) from None

    @staticmethod
    def log(x: float) -> float:
        if not x > 0:
            raise ValueError(f"log needs x > 0, got {x!r}")
        return math.log(x)

    @staticmethod
    def sqrt(x: float) -> float:
        if x < 0:
            raise ValueError(f"sqrt needs x >= 0, got {x!r}")
        return math.sqrt(x)

    @staticmethod
    def pow(x: float, y: float) -> float:
        if x == 0 and y < 0:
            raise ZeroDivisionError(f"pow: 0.0 cannot be raised to the negative power {y!r}")
        if x < 0 and not float(y).is_integer():
            raise ValueError(f"pow: a negative base {x!r} needs an integer exponent, got {y!r}")
        try:
            return x**y
        except OverflowError:
            raise OverflowError(f"pow overflows: {x!r} ** {y!r} exceeds the float range") from None

    @staticmethod
    def div(x: float, y: float) -> float:
        if y == 0:
            raise ZeroDivisionError(f"division by zero: {x!r} / {y!r}")
        return x / y

    @staticmethod
    def sigmoid(x: float) -> float:
        # Two branches so that exp never sees a large positive argument.
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def step(x: float) -> float:
        """Heaviside step, 0 at 0: the derivative of relu (relu'(0) = 0)."""
        return 1.0 if x > 0 else 0.0

    @staticmethod
    def sign(x: float) -> float:
        """-1, 0 or 1: the derivative of abs (abs'(0) = 0)."""
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)

    @staticmethod
    def sin(x: float) -> float:
        try:
            return math.sin(x)
        except ValueError:
            raise ValueError(f"sin needs a finite x, got {x!r}") from None

    @staticmethod
    def cos(x: float) -> float:
        try:
            return math.cos(x)
        except ValueError:
            raise ValueError(f"cos needs a finite x, got {x!r}") from None

    tanh = staticmethod(math.tanh)
    abs = staticmethod(abs)

    @staticmethod
    def relu(x: float) -> float:
        return x if x > 0 else 0.0

    @staticmethod
    def dot(ws: Sequence[float], xs: Sequence[float], b: float) -> float:
        """b + w1*x1 + w2*x2 + ..., added in that order (as micrograd does)."""
        return sum(map(operator.mul, ws, xs), b)

    if sys.version_info >= (3, 12):
        # sum() of floats is compensated (Neumaier) since Python 3.12, so it
        # would no longer equal adding the terms one by one as the Value graph
        # `sum((w*x for ...), b)` does; reduce() adds them in order. Where sum()
        # is exact it stays: it costs 9% less of the demo's forward pass.

        @staticmethod
        def dot(ws: Sequence[float], xs: Sequence[float], b: float) -> float:
            """b + w1*x1 + w2*x2 + ..., added in that order (as micrograd does)."""
            return reduce(operator.add, map(operator.mul, ws, xs), b)


FLOAT = _FloatMath()


# ---------------------------------------------------------------------------
# Primitives.


class Op:
    """A primitive operation: a name for display and a rule.

    `rule(m, *operands)` returns the output followed by the local derivative
    of the output with respect to each operand, `(out, d_a)`, `(out, d_a,
    d_b)`, ..., using only arithmetic operators and the functions of `m`, so
    that it runs on floats and on Values alike. `arity` is the number of
    operands, or None for any number. Calling an `Op` applies it to Values or
    numbers.
    """

    __slots__ = ("name", "symbol", "rule", "arity", "apply")

    def __init__(
        self, name: str, rule: Callable, arity: int | None, symbol: str | None = None
    ) -> None:
        if arity is not None and (not isinstance(arity, int) or arity < 1):
            raise ValueError(f"arity must be a positive int or None, got {arity!r}")
        self.name = name
        self.symbol = symbol or name
        self.rule = rule
        self.arity = arity
        # The node-building function, specialised for this op's rule.
        if arity == 1:
            self.apply = _unary_apply(self)
        elif arity == 2:
            self.apply = _binary_apply(self)
        else:
            self.apply = _nary_apply(self)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *operands: Any) -> Value:
        if self.arity is not None and len(operands) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} operand(s), got {len(operands)}")
        args = [x if x.__class__ is Value else _to_float(x, self.name) for x in operands]
        if args and not any(x.__class__ is Value for x in args):
            args[0] = Value(args[0])  # all numbers: the result still has a graph
        return self.apply(*args)


def primitive(
    name: str, arity: int | None = 1, symbol: str | None = None
) -> Callable[[Callable], Op]:
    """Decorator turning a rule `rule(m, *operands)` into an `Op`.

    This is how users extend the engine without editing it::

        @primitive("softplus")
        def softplus(m, x):
            # d/dx log(1 + e^x) = sigmoid(x)
            return m.log(1 + m.exp(x)), m.sigmoid(x)

    The rule returns the output, then one local derivative per operand. Write
    it with `m.exp`, `m.log`, ... rather than `math.exp`: `m` is `FLOAT` when
    the rule computes a node, and `VALUE` when `backward(create_graph=True)`
    needs the local derivatives as differentiable Values. Branch with `<`,
    `<=`, `>`, `>=` only: `==` between Values is identity.
    """

    def make(rule: Callable) -> Op:
        return Op(name, _validated(name, rule, arity), arity, symbol)

    return make


def _validated(name: str, rule: Callable, arity: int) -> Callable:
    """Wrap a user's rule so a malformed result is a clear TypeError."""

    def checked(m, *operands):
        result = rule(m, *operands)
        if not isinstance(result, tuple) or len(result) != len(operands) + 1:
            raise TypeError(
                f"primitive {name!r}: the rule must return a tuple of the output and "
                f"{len(operands)} local derivative(s), one per operand, got {result!r}"[:300]
            )
        if m is FLOAT:
            what = f"primitive {name!r}"
            return tuple(_to_float(r, f"{what} output or derivative") for r in result)
        return result

    checked.__wrapped__ = rule  # type: ignore[attr-defined]
    return checked


def _add(m, x, y):
    return x + y, 1.0, 1.0


def _sub(m, x, y):
    return x - y, 1.0, -1.0


def _mul(m, x, y):
    return x * y, y, x


def _div(m, x, y):
    out = m.div(x, y)
    # d/dx x/y = 1/y;  d/dy x/y = -x/y**2 = -out/y
    return out, m.div(1.0, y), -m.div(out, y)


def _neg(m, x):
    return -x, -1.0


def _pow(m, x, y):
    out = m.pow(x, y)
    # d/dx x**y = y * x**(y-1). At x == 0 the slope is 0 for y == 0 or y >= 1
    # and infinite for 0 < y < 1 (the same convention as sqrt'(0) = inf).
    # (Only < <= > >= here: under create_graph x and y are Values, whose ==
    # is identity.)
    if x > 0 or x < 0 or y >= 1:
        try:
            dx = y * m.pow(x, y - 1)
        except OverflowError:
            # x**y fits in a float but x**(y-1) does not (tiny x, y < 1): the
            # slope y * x**y / x is then +-inf (0 if y == 0), not an error.
            dx = m.div(y * out, x)
    elif y >= 0 and y <= 0:  # y == 0
        dx = 0.0
    else:
        dx = math.inf
    # d/dy x**y = x**y * log(x): defined for x > 0; 0 at x == 0 (limit from
    # y > 0); a negative base has no real derivative in y, so NaN (as PyTorch).
    if x > 0:
        dy = out * m.log(x)
    elif x >= 0:  # x == 0
        dy = 0.0
    else:
        dy = math.nan
    return out, dx, dy


def _exp(m, x):
    out = m.exp(x)
    return out, out  # d/dx e^x = e^x


def _log(m, x):
    return m.log(x), m.div(1.0, x)  # d/dx log x = 1/x


def _sqrt(m, x):
    out = m.sqrt(x)
    # d/dx sqrt(x) = 1 / (2 sqrt(x)); infinite at 0, the one-sided limit.
    return out, (0.5 / out) if out > 0 else math.inf


def _tanh(m, x):
    t = m.tanh(x)
    return t, 1.0 - t * t  # d/dx tanh x = 1 - tanh(x)**2


def _sigmoid(m, x):
    s = m.sigmoid(x)
    return s, s * (1.0 - s)  # d/dx s(x) = s(x) (1 - s(x))


def _relu(m, x):
    return m.relu(x), m.step(x)  # relu'(0) = 0


def _abs(m, x):
    return m.abs(x), m.sign(x)  # abs'(0) = 0


def _linear(m, *operands):
    # Operands w1..wn, x1..xn, b:  out = b + sum_i w_i x_i, with
    # d out/d w_i = x_i,  d out/d x_i = w_i,  d out/d b = 1.
    # One node instead of 2n: a neuron's pre-activation, fused for speed.
    n = len(operands) // 2
    ws, xs = operands[:n], operands[n : 2 * n]
    return (m.dot(ws, xs, operands[-1]), *xs, *ws, 1.0)


def _sin(m, x):
    return m.sin(x), m.cos(x)


def _cos(m, x):
    return m.cos(x), -m.sin(x)


# ---------------------------------------------------------------------------
# Building nodes: the hot path of every operation. Each Op gets one of these
# closures as its `apply`, with its rule bound, so an operator costs one call
# to the rule and one object.

_new = object.__new__


def _number(x: object) -> float | None:
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        return float(x)
    return None


def _unary_apply(op: Op) -> Callable[[Value], Value]:
    rule = op.rule

    def apply(x: Value) -> Value:
        out, g = rule(FLOAT, x.data)
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node.label = ""
        node._op = op
        node._a = x
        node._ga = g
        node._b = node._gb = None
        if _slow:
            _checked(node)
        return node

    return apply


def _binary_apply(op: Op) -> Callable[[Any, Any], Value]:
    rule = op.rule

    def apply(a: Any, b: Any) -> Value:
        # One of a, b may be a number: it is kept as a float constant operand,
        # with None as its local derivative so nothing flows back to it.
        if a.__class__ is Value:
            if b.__class__ is Value:
                out, ga, gb = rule(FLOAT, a.data, b.data)
            else:
                if b.__class__ is not float:
                    b = _number(b)
                    if b is None:
                        return NotImplemented
                out, ga, gb = rule(FLOAT, a.data, b)
                gb = None
        else:
            if a.__class__ is not float:
                a = _number(a)
                if a is None:
                    return NotImplemented
            out, ga, gb = rule(FLOAT, a, b.data)
            ga = None
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node.label = ""
        node._op = op
        node._a = a
        node._ga = ga
        node._b = b
        node._gb = gb
        if _slow:
            _checked(node)
        return node

    return apply


def _nary_apply(op: Op) -> Callable[..., Value]:
    rule = op.rule

    def apply(*operands: Any) -> Value:
        if not operands:
            raise TypeError(f"{op.name} needs at least one operand")
        try:  # all Values, the common case (`_value_data`: see below Value)
            result = rule(FLOAT, *[x._value_data for x in operands])
        except AttributeError:  # some are numbers
            operands = tuple(x if x.__class__ is Value else _to_float(x, op.name) for x in operands)
            result = rule(FLOAT, *[x.data if x.__class__ is Value else x for x in operands])
            pairs = [(x, d) for x, d in zip(operands, result[1:]) if x.__class__ is Value]
            if not pairs:
                return Value(result[0])  # no Value operand: a leaf
            parents, grads = zip(*pairs)
            return _nary_node(op, result[0], operands, parents, grads)
        return _nary_node(op, result[0], operands, operands, result[1:])

    return apply


def _nary_node(op: Op, out: float, operands: tuple, parents: tuple, grads: tuple) -> Value:
    # `_a` holds every operand (numbers included) for `operands`; `_b` the
    # Value operands, with their local derivatives in `_ga`, for backward().
    # With no number operand `_b` is the same tuple as `_a`.
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.label = ""
    node._op = op
    node._a = operands
    node._ga = grads
    node._b = parents
    node._gb = None
    if _slow:
        _checked(node)
    return node


def _checked(node: Value) -> None:
    """The slow path: forget parents under no_grad, run anomaly checks."""
    st = _state
    if not st.grad_enabled:
        node._op = None
        node._a = node._b = node._ga = node._gb = None
    elif st.anomaly is not None:
        st.anomaly.forward(node)


ADD = Op("add", _add, 2, "+")
SUB = Op("sub", _sub, 2, "-")
MUL = Op("mul", _mul, 2, "*")
DIV = Op("div", _div, 2, "/")
POW = Op("pow", _pow, 2, "**")
NEG = Op("neg", _neg, 1, "-")
EXP = Op("exp", _exp, 1)
LOG = Op("log", _log, 1)
SQRT = Op("sqrt", _sqrt, 1)
TANH = Op("tanh", _tanh, 1)
SIGMOID = Op("sigmoid", _sigmoid, 1)
RELU = Op("relu", _relu, 1)
ABS = Op("abs", _abs, 1)
SIN = Op("sin", _sin, 1)
COS = Op("cos", _cos, 1)
LINEAR = Op("linear", _linear, None, "w·x+b")


def linear(
    weights: Sequence[Value | Number],
    inputs: Sequence[Value | Number],
    bias: Value | Number = 0.0,
) -> Value:
    """`bias + sum(w * x)` as one node: a neuron's pre-activation.

    Gives the same value and gradients as the sum of products, with the terms
    added in the same order, at a fraction of the nodes and time.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"linear needs as many weights as inputs, got {len(weights)} weights "
            f"and {len(inputs)} inputs"
        )
    return LINEAR.apply(*weights, *inputs, bias)


# ---------------------------------------------------------------------------
# Value.


def _describe(x: object) -> str:
    t = type(x)
    # numpy.bool, not bool: a bare name from elsewhere can read like an accepted type.
    if t.__module__.partition(".")[0] in ("builtins", "autograd_core", "nn"):
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def _to_float(x: object, what: str) -> float:
    """A real number as a float; anything else is a TypeError naming its type."""
    if x.__class__ is float:
        return x  # type: ignore[return-value]
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        return float(x)
    hint = ""
    if isinstance(x, Value):
        hint = " (use v.data for its number, or v.detach() for a new leaf)"
    raise TypeError(
        f"{what} needs a real number (int, float, bool or a real numpy scalar), "
        f"got {_describe(x)}: {x!r}"[:300]
        + hint
    )


class Value:
    """A scalar that remembers how it was computed.

    `==` and `hash` are by identity, so Values can live in sets and dicts as
    graph nodes; `<`, `<=`, `>`, `>=` compare `data`, so `max(values)` picks a
    node and the gradient flows to it.
    """

    __slots__ = ("data", "grad", "label", "_op", "_a", "_ga", "_b", "_gb")

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = _to_float(data, "Value")
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {_describe(label)}")
        self.grad = 0.0
        self.label = label
        self._op = None
        self._a = self._b = self._ga = self._gb = None

    # -- read-only views of the graph, for drawing and teaching --------------

    @property
    def op(self) -> Op | None:
        """The primitive that produced this node, or None for a leaf."""
        return self._op

    @property
    def operands(self) -> tuple:
        """Every operand in order: Values and the plain-number constants."""
        op = self._op
        if op is None:
            return ()
        if op.arity == 1:
            return (self._a,)
        if op.arity == 2:
            return (self._a, self._b)
        return self._a

    @property
    def parents(self) -> tuple[tuple[Value, Any], ...]:
        """`(parent, local_grad)` pairs, one per Value operand, repeats kept."""
        if self._ga.__class__ is tuple:
            return tuple(zip(self._b, self._ga))
        pairs = []
        if self._ga is not None:
            pairs.append((self._a, self._ga))
        if self._gb is not None:
            pairs.append((self._b, self._gb))
        return tuple(pairs)

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents: an input, a parameter, a constant."""
        return self._op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # -- arithmetic: each operator is its primitive's `apply` (set below) -----

    def __radd__(self, other: Number) -> Value:
        return ADD.apply(other, self)

    def __rsub__(self, other: Number) -> Value:
        return SUB.apply(other, self)

    def __rmul__(self, other: Number) -> Value:
        return MUL.apply(other, self)

    def __rtruediv__(self, other: Number) -> Value:
        return DIV.apply(other, self)

    def __rpow__(self, other: Number) -> Value:
        return POW.apply(other, self)

    def __pos__(self) -> Value:
        return self

    # -- comparisons look at data; equality and hashing stay by identity ------

    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data_of(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data_of(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data_of(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data_of(other)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # -- the backward pass -----------------------------------------------------

    def backward(self, gradient: Number | Value = 1.0, create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into every leaf's `grad`.

        `gradient` seeds this node (d loss / d self). Leaves accumulate across
        calls, so calling twice doubles their gradients; intermediate nodes are
        reset and recomputed on each call. With `create_graph=True` every
        gradient is a Value with a graph of its own, to differentiate again.
        """
        _backward(self, gradient, create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data, cut from this node's graph."""
        return Value(self.data, self.label)


Value.__add__ = ADD.apply  # type: ignore[method-assign]
Value.__sub__ = SUB.apply  # type: ignore[method-assign]
Value.__mul__ = MUL.apply  # type: ignore[method-assign]
Value.__truediv__ = DIV.apply  # type: ignore[method-assign]
Value.__pow__ = POW.apply  # type: ignore[method-assign]
Value.__neg__ = NEG.apply  # type: ignore[method-assign]
Value.__abs__ = ABS.apply  # type: ignore[method-assign]
Value.exp = EXP.apply  # type: ignore[attr-defined]
Value.log = LOG.apply  # type: ignore[attr-defined]
Value.sqrt = SQRT.apply  # type: ignore[attr-defined]
Value.tanh = TANH.apply  # type: ignore[attr-defined]
Value.sigmoid = SIGMOID.apply  # type: ignore[attr-defined]
Value.relu = RELU.apply  # type: ignore[attr-defined]
Value.sin = SIN.apply  # type: ignore[attr-defined]
Value.cos = COS.apply  # type: ignore[attr-defined]


# `data` under a second name, which numbers lack (numpy scalars have a `data`
# attribute of their own): the n-ary fast path reads it and falls back to the
# slower path on AttributeError.
Value._value_data = Value.data


def detach(x: Value) -> Value:
    """A new leaf with the same data as `x`, cut from its graph."""
    return x.detach()


def _data_of(x: object) -> float:
    if x.__class__ is Value:
        return x.data  # type: ignore[attr-defined]
    return _to_float(x, "comparison with a Value")


# ---------------------------------------------------------------------------
# The graph walk.


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from `root`, leaves included, each after its parents.

    Iterative depth-first search, so graph depth is limited by memory only.
    Deterministic: parents are visited in operand order. It only reads the
    graph (drawing, statistics and tracing use it); `backward()` uses
    `_backward_order`, the same search specialised for speed.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order() needs a Value, got {_describe(root)}")
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Any] = [root]
    push, pop, append, mark = stack.append, stack.pop, order.append, seen.add
    done = _DONE
    while stack:
        node = pop()
        if node is done:
            append(pop())
            continue
        if node in seen:
            continue
        mark(node)
        push(node)
        push(done)
        # Parents pushed in reverse, so they come out in operand order.
        for parent, _ in reversed(node.parents):
            if parent not in seen:
                push(parent)
    return order


_DONE = object()


def _backward_order(root: Value) -> list[Value]:
    """The non-leaf nodes behind `root`, parents first, their grads set to 0.

    The depth-first search of `topological_order`, made cheaper per node:
    the `grad` slot doubles as the visit mark. A node is pushed once on entry
    and met again on exit (its grad then `is visiting`, which in a DAG can
    only happen on exit); on exit its grad becomes `zero`, a float object
    made for this walk, which marks it done and is the 0 its gradient
    accumulates from. Leaves are never listed and keep their grads.
    """
    zero = float("0")  # fresh objects: identity tells this walk's marks apart
    visiting = float("nan")
    order: list[Value] = []
    stack: list[Any] = [root]
    push, pop, append = stack.append, stack.pop, order.append
    while stack:
        node = pop()
        g = node.grad
        if g is visiting:
            append(node)
            node.grad = zero
            continue
        if g is zero:
            continue
        node.grad = visiting
        push(node)
        gb = node._gb
        if gb is not None:
            p = node._b
            if p._op is not None and p.grad is not zero:
                push(p)
        ga = node._ga
        if ga.__class__ is tuple:  # n-ary: its Value operands are in `_b`
            for p in node._b:
                if p._op is not None and p.grad is not zero:
                    push(p)
        elif ga is not None:
            p = node._a
            if p._op is not None and p.grad is not zero:
                push(p)
    return order


# ---------------------------------------------------------------------------
# The backward pass: one loop, `parent.grad += local_grad * node.grad`.


def _backward(root: Value, gradient: Any, create_graph: bool) -> None:
    if gradient.__class__ is not Value:
        gradient = _to_float(gradient, "backward(gradient=...)")
        if create_graph:
            # A Value seed makes every gradient a Value, even where all local
            # derivatives are constants (y = 2*x): d(x.grad) is then defined.
            gradient = Value(gradient)
    elif not create_graph:
        gradient = gradient.data
    if root._op is None:  # a leaf: d root / d root = 1
        root.grad = root.grad + gradient
        return
    order = _backward_order(root)
    root.grad = gradient
    anomaly = _state.anomaly
    if create_graph:
        _backward_graph(order, anomaly)
    elif anomaly is not None:
        _backward_checked(order, anomaly)
    else:
        for node in reversed(order):
            g = node.grad
            ga = node._ga
            if ga.__class__ is tuple:  # n-ary: its Value operands are in `_b`
                for p, d in zip(node._b, ga):
                    p.grad += d * g
            elif ga is not None:
                node._a.grad += ga * g
            gb = node._gb
            if gb is not None:
                node._b.grad += gb * g


def _backward_checked(order: list[Value], anomaly: Any) -> None:
    for node in reversed(order):
        for parent, local in node.parents:
            contribution = local * node.grad
            anomaly.backward(node, parent, local, contribution)
            parent.grad += contribution


def _backward_graph(order: list[Value], anomaly: Any) -> None:
    # Re-run each rule on the node's operands as Values, so that the local
    # derivatives, and with them every gradient, are differentiable Values.
    # The nodes this builds are checked by anomaly mode as backward-pass work.
    if anomaly is not None:
        anomaly.phase = "backward"
    try:
        with enable_grad():
            for node in reversed(order):
                operands = node.operands
                local = node._op.rule(VALUE, *operands)
                upstream = node.grad
                for operand, d in zip(operands, local[1:]):
                    if operand.__class__ is Value:
                        contribution = d * upstream
                        if anomaly is not None:
                            anomaly.backward(node, operand, d, contribution)
                        operand.grad = operand.grad + contribution
    finally:
        if anomaly is not None:
            anomaly.phase = "forward"


# ---------------------------------------------------------------------------
# The namespace a rule sees when its operands may be Values (create_graph).


def _generic(op: Op) -> Callable[[Any], Any]:
    """Apply `op` to a Value, or use the checked float function on a number."""
    float_fn = getattr(FLOAT, op.name)

    def apply(x: Any) -> Any:
        if x.__class__ is Value:
            return op.apply(x)
        return float_fn(x)

    return apply


def _generic2(op: Op) -> Callable[[Any, Any], Any]:
    float_fn = getattr(FLOAT, op.name)

    def apply(x: Any, y: Any) -> Any:
        if x.__class__ is Value or y.__class__ is Value:
            return op.apply(x, y)
        return float_fn(x, y)

    return apply


def _on_data(float_fn: Callable[[float], float]) -> Callable[[Any], float]:
    """Piecewise-constant functions (step, sign) have derivative 0: constants."""

    def apply(x: Any) -> float:
        return float_fn(x.data if x.__class__ is Value else x)

    return apply


class _ValueMath:
    """The namespace a rule sees when its operands may be Values."""

    exp = staticmethod(_generic(EXP))
    log = staticmethod(_generic(LOG))
    sqrt = staticmethod(_generic(SQRT))
    tanh = staticmethod(_generic(TANH))
    sigmoid = staticmethod(_generic(SIGMOID))
    relu = staticmethod(_generic(RELU))
    abs = staticmethod(_generic(ABS))
    sin = staticmethod(_generic(SIN))
    cos = staticmethod(_generic(COS))
    pow = staticmethod(_generic2(POW))
    div = staticmethod(_generic2(DIV))

    @staticmethod
    def dot(ws: Sequence[Any], xs: Sequence[Any], b: Any) -> Any:
        return LINEAR.apply(*ws, *xs, b)

    step = staticmethod(_on_data(FLOAT.step))
    sign = staticmethod(_on_data(FLOAT.sign))


VALUE = _ValueMath()
