"""Second and third derivatives from backward(create_graph=True), checked against sympy.

Random expression graphs in x and y (tests/strategies.py: every primitive,
shared sub-expressions) are read twice: as engine Values and as sympy
expressions. The engine's derivatives (each op's single rule re-run on
Values) must equal sympy's exact ones, evaluated with 30 digits, and agree
with finite differences of the engine's own lower derivatives.

Domain edges and kinks are avoided by construction, on purpose: log,
division, sqrt, pow's base, relu and abs only ever see `a*a + c` with c
inside their declared domain (c >= 0.1), so relu and abs are smooth there;
their kinks get their own tests, which pin down that their second
derivatives are 0."""

import math

import pytest
import sympy
from conftest import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import Builder, graphs

from autograd_core.engine import OPS, Value, linear
from autograd_core.functional import grad, hessian
from autograd_core.ops import PRIMITIVES

X, Y = sympy.symbols("x y", real=True)

# Random expression graphs in x and y (tests/strategies.py), read twice: as
# engine Values and as sympy expressions.
coords = st.floats(-2.0, 2.0, allow_nan=False).map(lambda v: round(v, 3))
xy_graphs = graphs(n_inputs=2, max_steps=6)
# maximum has a kink wherever its operands tie (maximum(r, r), a constant equal to an
# input): no operand domain keeps it off, so finite differences leave it out.
fd_graphs = graphs(ops=[p.name for p in PRIMITIVES if p.name != "maximum"], n_inputs=2, max_steps=6)


# ---------------------------------------------------------------------------
# Derivatives with the engine, as its docs say: backward(create_graph=True),
# reset the leaves' grads, backward() again on a gradient Value.


def grads_of(v, leaves_, create_graph):
    """d v / d leaf for each leaf; a constant (float) v has zero derivatives."""
    for leaf in leaves_:
        leaf.grad = 0.0
    if not isinstance(v, Value):
        return [0.0] * len(leaves_)
    v.backward(create_graph=create_graph)
    return [leaf.grad for leaf in leaves_]


def engine_derivatives(graph, x0, y0):
    """f, f_x, f_y, f_xx, f_xy, f_yy, f_xxx, f_xxy as floats."""
    x, y = Value(x0), Value(y0)
    f = graph(x, y)
    fx, fy = grads_of(f, (x, y), True)
    fxx, fxy = grads_of(fx, (x, y), True)
    _, fyy = grads_of(fy, (x, y), False)
    fxxx, fxxy = grads_of(fxx, (x, y), False)
    values = [f, fx, fy, fxx, fxy, fyy, fxxx, fxxy]
    return [float(v.data) if isinstance(v, Value) else float(v) for v in values]


def sympy_derivatives(graph, x0, y0):
    _, (expr,) = graph.sympy([X, Y])
    wrt = [(), (X,), (Y,), (X, X), (X, Y), (Y, Y), (X, X, X), (X, X, Y)]
    at = {X: sympy.Rational(x0), Y: sympy.Rational(y0)}
    return [
        float(sympy.diff(expr, *w).evalf(30, subs=at)) if w else float(expr.evalf(30, subs=at))
        for w in wrt
    ]


def close(got, exact, rel=1e-9):
    return abs(got - exact) <= rel * max(1.0, abs(exact))


NAMES = ["f", "f_x", "f_y", "f_xx", "f_xy", "f_yy", "f_xxx", "f_xxy"]


def finite_and_moderate(graph, x0, y0):
    """Skip the rare graph whose values overflow (exp of exp of ...)."""
    try:
        values = engine_derivatives(graph, x0, y0)
    except (OverflowError, ZeroDivisionError):
        return None
    if not all(math.isfinite(v) and abs(v) < 1e6 for v in values):
        return None
    return values


# ---------------------------------------------------------------------------
# Against sympy


@settings(deadline=None)
@given(graph=xy_graphs, x0=coords, y0=coords)
def test_second_and_third_derivatives_equal_sympy(graph, x0, y0):
    got = finite_and_moderate(graph, x0, y0)
    assume(got is not None)
    exact = sympy_derivatives(graph, x0, y0)
    for name, g, e in zip(NAMES, got, exact):
        assert close(g, e), (name, g, e, graph)


def one_op(name, *extra_steps):
    """`name` applied to A = x*y + 0.3 and B = x - y*y (operands fitted as the strategy does)."""
    b = Builder(2)
    a = b.add("add", b.add("mul", 0, 1), 0.3)
    bb = b.add("sub", 0, b.add("mul", 1, 1))
    if extra_steps:  # a hand-written step on A
        for step in extra_steps:
            b.add(step[0], *[a if o == "A" else o for o in step[1:]])
        return b.graph(connect=False)
    arity = OPS[name].arity or 5
    picks = [a, bb, 0, 1, a][:arity]
    b.add(name, *[b.fit(name, i, r, 0.8) for i, r in enumerate(picks)])
    return b.graph(connect=False)


ONE_PER_OP = {
    **{p.name: one_op(p.name) for p in PRIMITIVES},
    # integer powers of a base of either sign, negative and fractional powers
    **{f"A**{n}": one_op("pow", ("pow", "A", float(n))) for n in (2, 3)},
    **{f"(A*A+0.6)**{p}": one_op("pow", ("mul", "A", "A"), ("add", 6, 0.6), ("pow", 7, p))
       for p in (-2.0, -1.0, 0.5, 1.5)},
}  # fmt: skip


@pytest.mark.parametrize("graph", ONE_PER_OP.values(), ids=list(ONE_PER_OP))
def test_each_op_has_sympy_second_and_third_derivatives(graph):
    # Every kind of node at least once, whatever the random graphs happen to hold.
    got = engine_derivatives(graph, 0.6, -0.9)
    exact = sympy_derivatives(graph, 0.6, -0.9)
    for name, g, e in zip(NAMES, got, exact):
        assert close(g, e), (name, g, e)


@settings(deadline=None, max_examples=examples(25))
@given(graph=xy_graphs, x0=coords, y0=coords)
def test_hessian_and_nested_grad_equal_sympy(graph, x0, y0):
    assume(finite_and_moderate(graph, x0, y0) is not None)
    exact = sympy_derivatives(graph, x0, y0)
    f = graph
    (hxx, hxy), (hyx, hyy) = hessian(f)(x0, y0)
    for name, g, e in [
        ("f_xx", hxx, exact[3]),
        ("f_xy", hxy, exact[4]),
        ("f_yx", hyx, exact[4]),
        ("f_yy", hyy, exact[5]),
    ]:
        assert close(g, e), (name, g, e, graph)
    fxxx = grad(grad(grad(f)))(x0, y0)
    assert close(fxxx, exact[6]), (fxxx, exact[6], graph)


def test_a_neuron_through_linear_has_sympy_second_derivatives():
    # The n-ary linear node re-runs its rule on Values too.
    w1, w2, b = sympy.symbols("w1 w2 b")
    expr = sympy.tanh(w1 * 0.5 + w2 * -1.5 + b) ** 2
    at = {w1: 0.3, w2: -0.2, b: 0.1}
    f = lambda p, q, r: linear([p, q], [0.5, -1.5], r).tanh() ** 2  # noqa: E731
    h = hessian(f)(0.3, -0.2, 0.1)
    syms = [w1, w2, b]
    for i in range(3):
        for j in range(3):
            exact = float(sympy.diff(expr, syms[i], syms[j]).evalf(30, subs=at))
            assert close(h[i][j], exact), (i, j, h[i][j], exact)


# ---------------------------------------------------------------------------
# Against finite differences of the engine's own first and second derivatives


def central(fn, x0, h):
    return (fn(x0 + h) - fn(x0 - h)) / (2 * h)


@settings(deadline=None, max_examples=examples(40))
@given(graph=fd_graphs, x0=coords, y0=coords)
def test_higher_derivatives_match_finite_differences_of_lower_ones(graph, x0, y0):
    got = finite_and_moderate(graph, x0, y0)
    assume(got is not None)
    for shifted in (x0 - 1e-4, x0 + 1e-4):
        assume(finite_and_moderate(graph, shifted, y0) is not None)
    h = 1e-5

    def along_x(index):
        return lambda s: engine_derivatives(graph, s, y0)[index]

    # f_xx ~ d/dx f_x, f_xy ~ d/dx f_y, f_xxx ~ d/dx f_xx, f_xxy ~ d/dx f_xy
    for name, index, lower in [("f_xx", 3, 1), ("f_xy", 4, 2), ("f_xxx", 6, 3), ("f_xxy", 7, 4)]:
        fd = central(along_x(lower), x0, h)
        assert abs(got[index] - fd) <= 1e-5 * max(1.0, abs(got[index])), (name, got, fd, graph)


# ---------------------------------------------------------------------------
# Fixed cases and the kinks


def test_first_derivative_with_create_graph_equals_the_float_path():
    x = Value(0.7)
    f = (x.sin() * x.exp()).tanh() / (1 + x * x)
    f.backward()
    fast = x.grad
    x.grad = 0.0
    f.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert x.grad.data == pytest.approx(fast, rel=1e-15)


def test_third_derivative_of_sigmoid_in_closed_form():
    # s' = s(1-s), s'' = s(1-s)(1-2s), s''' = s(1-s)(1-6s+6s^2)
    x0 = 0.4
    s = 1 / (1 + math.exp(-x0))
    d3 = grad(grad(grad(lambda v: v.sigmoid())))(x0)
    assert d3 == pytest.approx(s * (1 - s) * (1 - 6 * s + 6 * s * s), rel=1e-13)


@pytest.mark.parametrize("x0", [-1.5, 0.0, 2.0])
def test_relu_and_abs_have_zero_second_derivative_everywhere(x0):
    # step(x) and sign(x), their derivatives, are treated as constants, so the
    # second derivative is 0 (including at the kink, where relu'(0) = abs'(0) = 0).
    assert grad(grad(lambda v: v.relu()))(x0) == 0.0
    assert grad(grad(lambda v: abs(v)))(x0) == 0.0


@pytest.mark.parametrize("x0, expected", [(1.5, 9.0), (-1.5, 0.0)])
def test_relu_cubed_has_the_expected_second_derivative(x0, expected):
    # d2/dx2 relu(x)^3 = 6 relu(x) step(x)^2 (+ terms with step' = 0)
    assert grad(grad(lambda v: v.relu() ** 3))(x0) == expected
