"""Tests of `autograd_core.engine` at hand-checked points.

Values and derivatives of every primitive (kinks and domain edges decided and
checked directly), gradient accumulation, no_grad, the read-only graph views,
user primitives, linear(), second derivatives and graphs too deep or wide for
recursion. Error messages live in test_engine_errors.py, random checks against
finite differences and sympy in test_engine_properties.py.
"""

import gc
import math
import operator
import sys
import threading
import warnings
from contextlib import contextmanager
from functools import reduce
from itertools import repeat

import numpy as np
import pytest

from autograd_core.engine import (
    Value,
    detach,
    is_grad_enabled,
    linear,
    no_grad,
    primitive,
    topological_order,
)

E = math.e
LN2 = math.log(2.0)


def grads(f, *xs):
    """f applied to fresh leaves holding xs: (output data, [d out / d x_i])."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


def central_difference(f, x: float, h: float = 1e-6) -> float:
    """(f(x+h) - f(x-h)) / 2h with f evaluated on Values."""
    return (f(Value(x + h)).data - f(Value(x - h)).data) / (2 * h)


# ---------------------------------------------------------------------------
# Each primitive at hand-checked points: (function, inputs, value, gradients).
# Compared within 1e-15: a last-bit difference in a library function passes,
# a wrong rule does not.

POINTS = [
    # + - * / with a Value or a number on either side
    ("add", lambda x, y: x + y, (2.0, 3.0), 5.0, [1.0, 1.0]),
    ("add number right", lambda x: x + 2, (3.0,), 5.0, [1.0]),
    ("add number left", lambda x: 2 + x, (3.0,), 5.0, [1.0]),
    ("sub", lambda x, y: x - y, (2.0, 3.0), -1.0, [1.0, -1.0]),
    ("sub number right", lambda x: x - 5, (3.0,), -2.0, [1.0]),
    ("sub number left", lambda x: 5 - x, (3.0,), 2.0, [-1.0]),
    ("mul", lambda x, y: x * y, (2.0, 3.0), 6.0, [3.0, 2.0]),
    ("mul number right", lambda x: x * 4, (3.0,), 12.0, [4.0]),
    ("mul number left", lambda x: 4 * x, (3.0,), 12.0, [4.0]),
    ("div", lambda x, y: x / y, (3.0, 4.0), 0.75, [0.25, -0.1875]),
    ("div number right", lambda x: x / 4, (3.0,), 0.75, [0.25]),
    ("div number left", lambda x: 3 / x, (4.0,), 0.75, [-0.1875]),
    # ** with Values on both sides, and a number on either side
    ("pow", lambda x, y: x**y, (2.0, 3.0), 8.0, [12.0, 8.0 * LN2]),
    ("pow number exponent", lambda x: x**3, (2.0,), 8.0, [12.0]),
    ("pow negative exponent", lambda x: x**-1, (2.0,), 0.5, [-0.25]),
    ("pow number base", lambda y: 2**y, (3.0,), 8.0, [8.0 * LN2]),
    ("pow fractional", lambda x: x**0.5, (4.0,), 2.0, [0.25]),
    # unary
    ("neg", lambda x: -x, (2.0,), -2.0, [-1.0]),
    ("pos", lambda x: +x, (2.0,), 2.0, [1.0]),
    ("abs positive", abs, (3.0,), 3.0, [1.0]),
    ("abs negative", abs, (-3.0,), 3.0, [-1.0]),
    ("exp 0", lambda x: x.exp(), (0.0,), 1.0, [1.0]),
    ("exp 1", lambda x: x.exp(), (1.0,), E, [E]),
    ("log 1", lambda x: x.log(), (1.0,), 0.0, [1.0]),
    ("log 2", lambda x: x.log(), (2.0,), LN2, [0.5]),
    ("sqrt", lambda x: x.sqrt(), (4.0,), 2.0, [0.25]),
    ("tanh 0", lambda x: x.tanh(), (0.0,), 0.0, [1.0]),
    ("tanh 1", lambda x: x.tanh(), (1.0,), math.tanh(1.0), [1.0 / math.cosh(1.0) ** 2]),
    ("sigmoid 0", lambda x: x.sigmoid(), (0.0,), 0.5, [0.25]),
    ("sigmoid 2", lambda x: x.sigmoid(), (2.0,), 1 / (1 + E**-2), [E**-2 / (1 + E**-2) ** 2]),
    ("sigmoid -2", lambda x: x.sigmoid(), (-2.0,), 1 / (1 + E**2), [E**2 / (1 + E**2) ** 2]),
    ("relu positive", lambda x: x.relu(), (2.0,), 2.0, [1.0]),
    ("relu negative", lambda x: x.relu(), (-2.0,), 0.0, [0.0]),
    ("sin 0", lambda x: x.sin(), (0.0,), 0.0, [1.0]),
    ("sin pi/2", lambda x: x.sin(), (math.pi / 2,), 1.0, [math.cos(math.pi / 2)]),
    ("cos 0", lambda x: x.cos(), (0.0,), 1.0, [0.0]),
    ("cos pi/2", lambda x: x.cos(), (math.pi / 2,), math.cos(math.pi / 2), [-1.0]),
    # linear: 1 + 2*5 + 3*7
    (
        "linear",
        lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b),
        (2.0, 3.0, 5.0, 7.0, 1.0),
        32.0,
        [5.0, 7.0, 2.0, 3.0, 1.0],
    ),
]


@pytest.mark.parametrize(
    "f, xs, value, expected", [p[1:] for p in POINTS], ids=[p[0] for p in POINTS]
)
def test_value_and_gradient_at_hand_checked_points(f, xs, value, expected):
    out, got = grads(f, *xs)
    assert math.isclose(out, value, rel_tol=1e-15, abs_tol=1e-15)
    for g, e in zip(got, expected, strict=True):
        assert math.isclose(g, e, rel_tol=1e-15, abs_tol=1e-15), (got, expected)


# ---------------------------------------------------------------------------
# Kinks and domain edges: decided in the engine's docstrings, checked exactly.


def test_relu_derivative_at_zero_is_zero():
    assert grads(lambda x: x.relu(), 0.0) == (0.0, [0.0])


def test_abs_derivative_at_zero_is_zero():
    assert grads(abs, 0.0) == (0.0, [0.0])


def test_sqrt_at_zero_is_zero_with_infinite_derivative():
    assert grads(lambda x: x.sqrt(), 0.0) == (0.0, [math.inf])


def test_half_power_at_zero_matches_sqrt():
    assert grads(lambda x: x**0.5, 0.0) == (0.0, [math.inf])


def test_zero_to_the_zero_is_one_with_zero_derivatives():
    # x**0 is constant 1, so d/dx = 0; d/dy at x = 0 is 0 by the engine's convention.
    assert grads(lambda x, y: x**y, 0.0, 0.0) == (1.0, [0.0, 0.0])
    assert grads(lambda x: x**0, 0.0) == (1.0, [0.0])


def test_pow_derivative_in_the_exponent_is_zero_at_zero_base():
    # 0**y = 0 for every y > 0, so d/dy = 0 (a naive out*log(x) would give nan).
    assert grads(lambda x, y: x**y, 0.0, 2.0) == (0.0, [0.0, 0.0])
    assert grads(lambda x, y: x**y, 0.0, 1.0) == (0.0, [1.0, 0.0])
    assert grads(lambda y: 0**y, 0.5) == (0.0, [0.0])


def test_pow_negative_base_integer_exponent():
    # (-2)**3 = -8, d/dx = 3 * (-2)**2 = 12; d/dy has no real value: nan.
    out, (gx, gy) = grads(lambda x, y: x**y, -2.0, 3.0)
    assert (out, gx) == (-8.0, 12.0)
    assert math.isnan(gy)
    assert grads(lambda x: x**2, -3.0) == (9.0, [-6.0])


def test_pow_whose_slope_overflows_still_computes():
    # 1e-160 ** -1.9 = 1e304 fits in a float; its slope -1.9 * 1e-160 ** -2.9 does not.
    out, (gx,) = grads(lambda x: x**-1.9, 1e-160)
    assert math.isclose(out, 1e304, rel_tol=1e-12) and gx == -math.inf
    # With a number base that slope is not even needed.
    out, (gy,) = grads(lambda y: 1e-160**y, -1.9)
    assert math.isclose(gy, 1e304 * math.log(1e-160), rel_tol=1e-12)
    assert grads(lambda x: x**-3, -1e-100)[1] == [-math.inf]  # -3 * (-1e-100)**-4
    assert grads(lambda x: x**0, 5e-324) == (1.0, [0.0])


@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_sigmoid_and_tanh_saturate_without_overflow(x):
    limit = 1.0 if x > 0 else 0.0
    assert grads(lambda v: v.sigmoid(), x) == (limit, [0.0])
    assert grads(lambda v: v.tanh(), x) == (math.copysign(1.0, x), [0.0])


def test_exp_709_is_finite_and_exp_1000_overflows():
    out, (g,) = grads(lambda x: x.exp(), 709.0)
    assert out == g == math.exp(709.0) and math.isfinite(out)
    with pytest.raises(OverflowError):
        Value(1000.0).exp()


# ---------------------------------------------------------------------------
# Numbers of other types on either side.


@pytest.mark.parametrize(
    "left",
    [np.float64(2.0), np.float32(2.0), np.int64(2)],
    ids=["float64", "float32", "int64"],
)
def test_numpy_scalar_on_the_left_acts_like_a_python_number(left):
    # numpy falls back to Python arithmetic with the plain number, which reaches
    # Value's reflected method: the result is a Value (not an ndarray) holding
    # the scalar as a float constant.
    x = Value(3.0)
    for op, value, grad in [
        (operator.mul, 6.0, 2.0),
        (operator.add, 5.0, 1.0),
        (operator.sub, -1.0, -1.0),
        (operator.truediv, 2.0 / 3.0, -2.0 / 9.0),
        (operator.pow, 8.0, 8.0 * LN2),
    ]:
        x.grad = 0.0
        y = op(left, x)
        assert type(y) is Value and math.isclose(y.data, value, rel_tol=1e-15)
        assert type(y.operands[0]) is float and y.operands[1] is x
        y.backward()
        assert math.isclose(x.grad, grad, rel_tol=1e-15)
    assert bool(left < x) and bool(x > left)


def test_numpy_scalar_on_the_right_and_in_value():
    x = Value(np.float32(0.5))
    assert type(x.data) is float and x.data == 0.5
    y = x * np.float64(4.0) + np.int64(1)
    assert type(y.data) is float and y.data == 3.0


# ---------------------------------------------------------------------------
# Accumulation and seeding.


def test_second_backward_doubles_leaves_and_recomputes_intermediates():
    # Integer-valued gradients, so doubling is exact in floats.
    x, y = Value(2.0), Value(-3.0)
    h = x * y
    out = h * x + y * y  # x**2 y + y**2: d/dx = 2xy = -12, d/dy = x**2 + 2y = -2
    out.backward()
    assert (x.grad, y.grad, h.grad, out.grad) == (-12.0, -2.0, 2.0, 1.0)
    out.backward()
    assert (x.grad, y.grad) == (-24.0, -4.0)
    assert (h.grad, out.grad) == (2.0, 1.0)


def test_fan_out_adds_contributions():
    # x*x, then a+a then b+b, then a diamond d = u*v with u, v both from c.
    x = Value(3.0)
    assert grads(lambda v: v * v, 3.0) == (9.0, [6.0])
    a = x + x
    b = a + a
    out = b + b  # 8x
    out.backward()
    assert x.grad == 8.0
    x.grad = 0.0
    c = x * 2.0
    u, v = c + 1.0, c * 3.0
    d = u * v  # (2x+1)(6x): d/dx = 24x + 6 = 78
    d.backward()
    assert x.grad == 78.0 and c.grad == 39.0


def test_backward_on_a_leaf_root():
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0
    x.backward()
    assert x.grad == 2.0
    x.backward(gradient=0.5)
    assert x.grad == 2.5


@pytest.mark.parametrize("seed", [2.5, 3, np.float64(2.5), Value(2.5)])
def test_backward_gradient_seeds_the_root(seed):
    x = Value(2.0)
    y = x * x
    y.backward(gradient=seed)
    expected = float(seed.data if isinstance(seed, Value) else seed)
    assert y.grad == expected and type(y.grad) is float
    assert x.grad == 4.0 * expected


def test_subgraph_backward_resets_shared_intermediate():
    x = Value(1.5)
    h = x * 2.0
    a, b = h + 1.0, h * 3.0
    a.backward()
    b.backward()
    # h only holds the gradient from the last walk; x accumulates both.
    assert h.grad == 3.0 and x.grad == 2.0 + 6.0


# ---------------------------------------------------------------------------
# no_grad and detach.


def test_no_grad_context_manager_records_no_parents(monkeypatch):
    from autograd_core import engine

    monkeypatch.setattr(engine, "_warned_no_grad", False)
    x = Value(2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
        z = linear([x], [x], 1.0)
    assert is_grad_enabled()
    assert y.data == 7.0 and y.is_leaf and y.parents == () and y.op is None
    assert z.data == 5.0 and z.is_leaf
    with pytest.warns(RuntimeWarning, match=r"computed under no_grad\(\).*shown once"):
        y.backward()
    assert x.grad == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.backward()  # once is enough


def test_no_grad_as_decorator():
    @no_grad()
    def step(v: Value) -> tuple[Value, bool]:
        return v * 2, is_grad_enabled()

    out, enabled = step(Value(1.0))
    assert not enabled and out.is_leaf and is_grad_enabled()
    assert step.__name__ == "step"


def test_no_grad_nested_and_restored_after_errors():
    with no_grad():
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(ZeroDivisionError), no_grad():
        Value(1.0) / 0
    assert is_grad_enabled()


def test_same_no_grad_instance_entered_twice_restores_each_level():
    ng = no_grad()
    with ng:
        with ng:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_is_thread_local():
    inside, other_done = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        # Runs while the main thread is inside no_grad (forced by the events).
        assert inside.wait(timeout=30)
        seen["enabled"] = is_grad_enabled()
        seen["leaf"] = (Value(2.0) * 3).is_leaf
        other_done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    try:
        with no_grad():
            inside.set()
            assert other_done.wait(timeout=30)
            seen["main leaf"] = (Value(2.0) * 3).is_leaf
    finally:
        inside.set()
        worker.join()
    assert seen == {"enabled": True, "leaf": False, "main leaf": True}


def test_no_grad_in_another_thread_leaves_this_one_recording():
    entered, release = threading.Event(), threading.Event()

    def other_thread():
        with no_grad():
            entered.set()
            release.wait(timeout=30)

    worker = threading.Thread(target=other_thread)
    worker.start()
    try:
        assert entered.wait(timeout=30)
        assert is_grad_enabled()
        y = Value(2.0) * 3
        assert not y.is_leaf
    finally:
        release.set()
        worker.join()


def test_detach_makes_a_leaf():
    x = Value(2.0)
    h = x * 3
    for d in (h.detach(), detach(h)):
        assert d.is_leaf and d.data == 6.0 and d is not h
        out = d * x
        out.backward()
        assert d.grad == 2.0
    assert x.grad == 12.0  # 6 + 6 through `out`, nothing through the detached h


# ---------------------------------------------------------------------------
# Read-only graph views.


def test_parents_keep_repeats_and_skip_constants():
    x = Value(3.0)
    y = x * x
    assert isinstance(y.parents, tuple)
    assert [(p is x, g) for p, g in y.parents] == [(True, 3.0), (True, 3.0)]
    z = 2.0 - x
    assert z.operands == (2.0, x) and z.parents == ((x, -1.0),)
    w = x * 2
    assert w.operands == (x, 2.0) and w.parents == ((x, 2.0),)
    assert x.parents == () and x.operands == ()


def test_linear_operands_include_constants_in_order():
    w, x = Value(2.0), Value(5.0)
    y = linear([w, 3.0], [x, 7.0], 1.0)
    assert y.operands == (w, 3.0, x, 7.0, 1.0)
    assert y.parents == ((w, 5.0), (x, 2.0))


@pytest.mark.parametrize(
    "make, name, symbol",
    [
        (lambda x: x + 1, "add", "+"),
        (lambda x: 1 - x, "sub", "-"),
        (lambda x: x * x, "mul", "*"),
        (lambda x: x / 2, "div", "/"),
        (lambda x: 2**x, "pow", "**"),
        (lambda x: -x, "neg", "-"),
        (abs, "abs", "abs"),
        (lambda x: x.exp(), "exp", "exp"),
        (lambda x: x.log(), "log", "log"),
        (lambda x: x.sqrt(), "sqrt", "sqrt"),
        (lambda x: x.tanh(), "tanh", "tanh"),
        (lambda x: x.sigmoid(), "sigmoid", "sigmoid"),
        (lambda x: x.relu(), "relu", "relu"),
        (lambda x: x.sin(), "sin", "sin"),
        (lambda x: x.cos(), "cos", "cos"),
        (lambda x: linear([x], [x]), "linear", "w·x+b"),
    ],
)
def test_op_names_and_leaf_flags(make, name, symbol):
    x = Value(2.0)
    y = make(x)
    assert y.op.name == name and y.op.symbol == symbol
    assert not y.is_leaf and x.is_leaf and x.op is None


def test_topological_order_parents_first_each_node_once_deterministic():
    def build():
        a, b = Value(1.0, "a"), Value(2.0, "b")
        c = a * b
        c.label = "c"
        d = c + a
        d.label = "d"
        e = d * c
        e.label = "e"
        return e

    e = build()
    order = topological_order(e)
    # Depth-first in operand order: d's parents (c, a) come before e's second parent c.
    assert [v.label for v in order] == ["a", "b", "c", "d", "e"]
    assert [v.label for v in topological_order(build())] == ["a", "b", "c", "d", "e"]
    assert topological_order(e) == order
    position = {v: i for i, v in enumerate(order)}
    assert len(position) == len(order)
    for v in order:
        assert all(position[p] < position[v] for p, _ in v.parents)


def test_topological_order_of_a_leaf_and_of_shared_nodes():
    x = Value(1.0)
    assert topological_order(x) == [x]
    y = (x * x) + (x * x)
    order = topological_order(y)
    assert len(order) == 4 and order[0] is x and order[-1] is y


def test_equality_and_hash_are_identity():
    a, b = Value(1.0), Value(1.0)
    assert a == a and a != b and (a == b) is False
    assert len({a, b}) == 2
    assert {a: "a", b: "b"}[b] == "b"
    assert a != 1.0


def test_ordering_compares_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a
    assert a <= 1.0 and a >= 1 and a < 1.5 and not a > 1.0
    assert 3 > b and 0.5 < a  # noqa: SIM300 (reflected to Value's methods)


def test_max_and_min_pick_a_node_and_gradient_flows_to_it():
    a, b, c = Value(1.0), Value(5.0), Value(-2.0)
    hi, lo = max(a, b, c), min([a, b, c])
    assert hi is b and lo is c
    (hi * 3 + lo * 7).backward()
    assert (a.grad, b.grad, c.grad) == (0.0, 3.0, 7.0)


# ---------------------------------------------------------------------------
# The extension mechanism: user primitives.


@primitive("softplus")
def softplus(m, x):
    # d/dx log(1 + e^x) = sigmoid(x)
    return m.log(1.0 + m.exp(x)), m.sigmoid(x)


@primitive("hypot", arity=2)
def hypot(m, x, y):
    # d/dx sqrt(x^2 + y^2) = x / r, d/dy = y / r
    r = m.sqrt(x * x + y * y)
    return r, m.div(x, r), m.div(y, r)


@primitive("prod", arity=None, symbol="Π")
def prod(m, *xs):
    # d/dx_i (x_1 ... x_n) = the product of the others
    out = 1.0
    for x in xs:
        out = out * x
    local = []
    for i in range(len(xs)):
        g = 1.0
        for j, x in enumerate(xs):
            if j != i:
                g = g * x
        local.append(g)
    return (out, *local)


def second_derivative(f, x: float) -> tuple[float, float]:
    """(f'(x), f''(x)) from backward(create_graph=True), then backward of the gradient."""
    v = Value(x)
    f(v).backward(create_graph=True)
    g = v.grad
    v.grad = 0.0
    g.backward()
    return g.data, v.grad


def test_unary_primitive_value_gradient_and_second_derivative():
    x = 0.7
    s = 1 / (1 + math.exp(-x))
    out, (g,) = grads(softplus, x)
    assert math.isclose(out, math.log1p(math.exp(x)), rel_tol=1e-15)
    assert math.isclose(g, central_difference(softplus, x), rel_tol=1e-8)
    assert math.isclose(g, s, rel_tol=1e-15)
    d1, d2 = second_derivative(softplus, x)
    assert math.isclose(d1, s, rel_tol=1e-15)
    assert math.isclose(d2, s * (1 - s), rel_tol=1e-12)
    y = softplus(2.0)  # numbers only: still a node, over a leaf
    assert y.op.name == "softplus" and y.operands[0].is_leaf


def test_binary_primitive_value_gradient_and_second_derivative():
    out, (gx, gy) = grads(hypot, 3.0, 4.0)
    assert (out, gx, gy) == (5.0, 0.6, 0.8)
    assert math.isclose(gx, central_difference(lambda v: hypot(v, 4.0), 3.0), rel_tol=1e-8)
    assert math.isclose(gy, central_difference(lambda v: hypot(3.0, v), 4.0), rel_tol=1e-8)
    # d2/dx2 = y^2 / r^3 = 16/125; d2/dxdy = -x y / r^3 = -12/125
    x, y = Value(3.0), Value(4.0)
    hypot(x, y).backward(create_graph=True)
    gx = x.grad
    x.grad = y.grad = 0.0
    gx.backward()
    assert math.isclose(x.grad, 16 / 125, rel_tol=1e-14)
    assert math.isclose(y.grad, -12 / 125, rel_tol=1e-14)


def test_nary_primitive_with_constants_value_gradient_and_mixed_partial():
    a, b, c = Value(2.0), Value(3.0), Value(5.0)
    y = prod(a, b, 0.5, c)
    assert y.data == 15.0 and y.op.symbol == "Π"
    assert y.operands == (a, b, 0.5, c)
    y.backward()
    assert (a.grad, b.grad, c.grad) == (7.5, 5.0, 3.0)
    fd = central_difference(lambda v: prod(v, b, 0.5, c), 2.0)
    assert math.isclose(a.grad, fd, rel_tol=1e-8)
    a.grad = b.grad = c.grad = 0.0
    prod(a, b, c).backward(create_graph=True)
    ga = a.grad
    a.grad = b.grad = c.grad = 0.0
    ga.backward()  # d/db (b c) = c, d/dc (b c) = b
    assert (a.grad, b.grad, c.grad) == (0.0, 5.0, 3.0)


# ---------------------------------------------------------------------------
# linear() against the sum of products it replaces.

# 0.1 ten times: adding in order gives 0.9999999999999999, a compensated sum 1.0.
WEIGHTS = [0.1] * 10 + [1e16, -1e16, 3.7, -2.2]
INPUTS = [1.0] * 10 + [1.0, 1.0, 0.3, 1.9]


@pytest.mark.parametrize("bias_is_value", [True, False])
@pytest.mark.parametrize("inputs_are_values", [True, False])
def test_linear_matches_sum_of_products_bit_for_bit(bias_is_value, inputs_are_values):
    def build():
        ws = [Value(w) for w in WEIGHTS]
        xs = [Value(x) for x in INPUTS] if inputs_are_values else list(INPUTS)
        b = Value(0.25) if bias_is_value else 0.25
        return ws, xs, b

    ws1, xs1, b1 = build()
    fused = linear(ws1, xs1, b1)
    ws2, xs2, b2 = build()
    summed = sum((w * x for w, x in zip(ws2, xs2)), b2)
    assert fused.data == summed.data
    fused.backward()
    summed.backward()
    assert [w.grad for w in ws1] == [w.grad for w in ws2]
    if inputs_are_values:
        assert [x.grad for x in xs1] == [x.grad for x in xs2]
    if bias_is_value:
        assert b1.grad == b2.grad == 1.0


def test_linear_default_bias_and_all_number_inputs():
    assert linear([Value(2.0)], [3.0]).data == 6.0
    y = linear([2.0], [3.0], 1.0)
    assert y.data == 7.0 and y.is_leaf


# ---------------------------------------------------------------------------
# Second derivatives through backward(create_graph=True).


@pytest.mark.parametrize(
    "f, d1, d2",
    [
        (lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x),
        (
            lambda x: x.tanh(),
            lambda x: 1 - math.tanh(x) ** 2,
            lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2),
        ),
        (
            lambda x: x.sigmoid(),
            lambda x: (s := 1 / (1 + math.exp(-x))) * (1 - s),
            lambda x: (s := 1 / (1 + math.exp(-x))) * (1 - s) * (1 - 2 * s),
        ),
        (
            lambda x: x.exp() * x.sin(),
            lambda x: math.exp(x) * (math.sin(x) + math.cos(x)),
            lambda x: 2 * math.exp(x) * math.cos(x),
        ),
    ],
    ids=["cube", "tanh", "sigmoid", "exp*sin"],
)
def test_second_derivative_against_analytic(f, d1, d2):
    for x in (-1.3, 0.4, 2.0):
        g1, g2 = second_derivative(f, x)
        assert math.isclose(g1, d1(x), rel_tol=1e-13, abs_tol=1e-15)
        assert math.isclose(g2, d2(x), rel_tol=1e-12, abs_tol=1e-14)


def test_create_graph_gradients_are_values_even_when_constant():
    x = Value(3.0)
    (2 * x + 1).backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Value) and g.data == 2.0
    x.grad = 0.0
    g.backward()  # d/dx of the constant 2 is 0
    assert x.grad == 0.0


def test_create_graph_matches_plain_backward_at_pow_edges():
    # The pow rule's branches at x == 0 must agree between float and Value paths.
    for xv, yv in [(0.0, 0.0), (0.0, 2.0), (0.0, 1.0), (2.0, 3.0)]:
        _, plain = grads(lambda x, y: x**y, xv, yv)
        x, y = Value(xv), Value(yv)
        (x**y).backward(create_graph=True)
        assert [x.grad.data, y.grad.data] == plain


# ---------------------------------------------------------------------------
# Deep and wide graphs at Python's default recursion limit.


@contextmanager
def gc_paused():
    """Without the cycle collector: a million fresh nodes would trigger it again
    and again (it then scans the whole graph), the slowest part of these tests.
    Nodes hold no reference cycles, so nothing is left behind."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_million_node_chain_backward_without_recursion():
    assert sys.getrecursionlimit() == 1000  # the default: nothing raised it for us
    with gc_paused():
        x = Value(0.0)
        y = reduce(operator.add, repeat(1.0, 1_000_000), x)  # ((x + 1) + 1) + ...
        y.backward()
    assert y.data == 1_000_000.0 and x.grad == 1.0
    assert y.op.name == "add" and y.operands[1] == 1.0


def test_sum_of_200k_terms_backward_and_topological_order():
    assert sys.getrecursionlimit() == 1000
    with gc_paused():
        xs = [Value(float(i)) for i in range(1000)]
        total = sum(xs[i % 1000] for i in range(200_000))  # a 200,000-deep chain of adds
        total.backward()
        order = topological_order(total)
    assert all(x.grad == 200.0 for x in xs)
    assert total.data == 200 * sum(range(1000))
    assert len(order) == 200_000 + 1000 and order[-1] is total
