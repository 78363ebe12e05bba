"""Second and third derivatives from backward(create_graph=True), checked against sympy.

Random expressions in x and y are built twice from one tree: as engine Values
and as sympy expressions. The engine's derivatives (each op's single rule
re-run on Values) must equal sympy's exact ones, evaluated with 30 digits, and
agree with finite differences of the engine's own lower derivatives.

Domain edges are avoided by construction, on purpose: log, division, sqrt
and negative or fractional powers only ever see `a*a + c` with c >= 0.5, and
no kinked op (relu, abs) appears in the random trees; those get their own
tests, which pin down that their second derivatives are 0.
"""

import math

import pytest
import sympy
from conftest import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_core.engine import Value, linear
from autograd_core.functional import grad, hessian

X, Y = sympy.symbols("x y")

# ---------------------------------------------------------------------------
# Random expression trees, and their two readings.

coords = st.floats(-2.0, 2.0, allow_nan=False).map(lambda v: round(v, 3))
consts = st.floats(-2.0, 2.0, allow_nan=False).map(lambda v: round(v, 2))
positive = st.floats(0.5, 2.0).map(lambda v: round(v, 2))  # keeps bases >= 0.5

# x twice: trees with a variable in them are the interesting ones.
leaves = st.one_of(
    st.just(("x",)), st.just(("y",)), st.just(("x",)), st.tuples(st.just("c"), consts)
)

UNARY = ["exp", "sin", "cos", "tanh", "sigmoid", "neg"]
KINDS = ["add", "sub", "mul", "div", *UNARY, "log", "sqrt", "pow", "ppow"]


def node(kind, children):
    """A strategy for a tree node of one kind, every kind equally likely."""
    if kind in ("add", "sub", "mul"):
        return st.tuples(st.just(kind), children, children)
    if kind == "div":  # a / (b*b + c)
        return st.tuples(st.just(kind), children, children, positive)
    if kind in ("log", "sqrt"):  # log(a*a + c), sqrt(a*a + c)
        return st.tuples(st.just(kind), children, positive)
    if kind == "pow":  # a**n
        return st.tuples(st.just(kind), children, st.sampled_from([2, 3]))
    if kind == "ppow":  # (a*a + c)**p: negative and fractional powers on a positive base
        return st.tuples(st.just(kind), children, positive, st.sampled_from([-2, -1, 0.5, 1.5]))
    return st.tuples(st.just(kind), children)


def extend(children):
    return st.sampled_from(KINDS).flatmap(lambda kind: node(kind, children))


trees = st.recursive(leaves, extend, max_leaves=8)


def to_engine(tree, x, y):
    """The tree as engine operations on Values x and y (constants stay floats)."""
    kind = tree[0]
    if kind == "x":
        return x
    if kind == "y":
        return y
    if kind == "c":
        return tree[1]
    a = to_engine(tree[1], x, y)
    if kind in ("add", "sub", "mul"):
        b = to_engine(tree[2], x, y)
        return a + b if kind == "add" else a - b if kind == "sub" else a * b
    if kind == "div":
        b = to_engine(tree[2], x, y)
        return a / (b * b + tree[3])
    if kind == "neg":
        return -a
    if not isinstance(a, Value):
        a = Value(a)
    if kind in ("exp", "sin", "cos", "tanh", "sigmoid"):
        return getattr(a, kind)()
    if kind == "log":
        return (a * a + tree[2]).log()
    if kind == "sqrt":
        return (a * a + tree[2]).sqrt()
    if kind == "pow":
        return a ** tree[2]
    if kind == "ppow":
        return (a * a + tree[2]) ** tree[3]
    raise AssertionError(kind)


def to_sympy(tree):
    """The same tree as an exact sympy expression in X and Y."""
    kind = tree[0]
    if kind == "x":
        return X
    if kind == "y":
        return Y
    if kind == "c":
        return sympy.Rational(tree[1])
    a = to_sympy(tree[1])
    if kind in ("add", "sub", "mul"):
        b = to_sympy(tree[2])
        return a + b if kind == "add" else a - b if kind == "sub" else a * b
    if kind == "div":
        return a / (to_sympy(tree[2]) ** 2 + sympy.Rational(tree[3]))
    if kind == "neg":
        return -a
    if kind == "sigmoid":
        return 1 / (1 + sympy.exp(-a))
    if kind in ("exp", "sin", "cos", "tanh"):
        return getattr(sympy, kind)(a)
    if kind == "log":
        return sympy.log(a * a + sympy.Rational(tree[2]))
    if kind == "sqrt":
        return sympy.sqrt(a * a + sympy.Rational(tree[2]))
    if kind == "pow":
        return a ** tree[2]
    if kind == "ppow":
        return (a * a + sympy.Rational(tree[2])) ** sympy.Rational(tree[3])
    raise AssertionError(kind)


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


def engine_derivatives(tree, x0, y0):
    """f, f_x, f_y, f_xx, f_xy, f_yy, f_xxx, f_xxy as floats."""
    x, y = Value(x0), Value(y0)
    f = to_engine(tree, x, y)
    fx, fy = grads_of(f, (x, y), True)
    fxx, fxy = grads_of(fx, (x, y), True)
    _, fyy = grads_of(fy, (x, y), False)
    fxxx, fxxy = grads_of(fxx, (x, y), False)
    values = [f, fx, fy, fxx, fxy, fyy, fxxx, fxxy]
    return [float(v.data) if isinstance(v, Value) else float(v) for v in values]


def sympy_derivatives(tree, x0, y0):
    expr = to_sympy(tree)
    wrt = [(), (X,), (Y,), (X, X), (X, Y), (Y, Y), (X, X, X), (X, X, Y)]
    at = {X: sympy.Rational(x0), Y: sympy.Rational(y0)}
    return [
        float(sympy.diff(expr, *w).evalf(30, subs=at)) if w else float(expr.evalf(30, subs=at))
        for w in wrt
    ]


def close(got, exact, rel=1e-9):
    return abs(got - exact) <= rel * max(1.0, abs(exact))


NAMES = ["f", "f_x", "f_y", "f_xx", "f_xy", "f_yy", "f_xxx", "f_xxy"]


def finite_and_moderate(tree, x0, y0):
    """Skip the rare tree whose values overflow (exp of exp of ...)."""
    try:
        values = engine_derivatives(tree, x0, y0)
    except (OverflowError, ZeroDivisionError):
        return None
    if not all(math.isfinite(v) and abs(v) < 1e6 for v in values):
        return None
    return values


# ---------------------------------------------------------------------------
# Against sympy


@settings(deadline=None)
@given(tree=trees, x0=coords, y0=coords)
def test_second_and_third_derivatives_equal_sympy(tree, x0, y0):
    got = finite_and_moderate(tree, x0, y0)
    assume(got is not None)
    exact = sympy_derivatives(tree, x0, y0)
    for name, g, e in zip(NAMES, got, exact):
        assert close(g, e), (name, g, e, tree)


A = ("add", ("mul", ("x",), ("y",)), ("c", 0.3))  # x*y + 0.3
B = ("sub", ("x",), ("mul", ("y",), ("y",)))  # x - y*y
ONE_PER_OP = [
    *[(kind, A, B) for kind in ("add", "sub", "mul")],
    ("div", A, B, 0.7),
    *[(kind, A) for kind in UNARY],
    ("log", A, 0.8),
    ("sqrt", A, 0.8),
    ("pow", A, 2),
    ("pow", A, 3),
    *[("ppow", A, 0.6, p) for p in (-2, -1, 0.5, 1.5)],
]


@pytest.mark.parametrize(
    "tree", ONE_PER_OP, ids=lambda t: f"{t[0]}{t[-1] if t[0] == 'ppow' else ''}"
)
def test_each_op_has_sympy_second_and_third_derivatives(tree):
    # Every kind of node at least once, whatever the random trees happen to hold.
    got = engine_derivatives(tree, 0.6, -0.9)
    exact = sympy_derivatives(tree, 0.6, -0.9)
    for name, g, e in zip(NAMES, got, exact):
        assert close(g, e), (name, g, e)


@settings(deadline=None, max_examples=examples(25))
@given(tree=trees, x0=coords, y0=coords)
def test_hessian_and_nested_grad_equal_sympy(tree, x0, y0):
    assume(finite_and_moderate(tree, x0, y0) is not None)
    exact = sympy_derivatives(tree, x0, y0)
    f = lambda x, y: to_engine(tree, x, y)  # noqa: E731
    (hxx, hxy), (hyx, hyy) = hessian(f)(x0, y0)
    for name, g, e in [
        ("f_xx", hxx, exact[3]),
        ("f_xy", hxy, exact[4]),
        ("f_yx", hyx, exact[4]),
        ("f_yy", hyy, exact[5]),
    ]:
        assert close(g, e), (name, g, e, tree)
    fxxx = grad(grad(grad(f)))(x0, y0)
    assert close(fxxx, exact[6]), (fxxx, exact[6], tree)


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
@given(tree=trees, x0=coords, y0=coords)
def test_higher_derivatives_match_finite_differences_of_lower_ones(tree, x0, y0):
    got = finite_and_moderate(tree, x0, y0)
    assume(got is not None)
    for shifted in (x0 - 1e-4, x0 + 1e-4):
        assume(finite_and_moderate(tree, shifted, y0) is not None)
    h = 1e-5

    def along_x(index):
        return lambda s: engine_derivatives(tree, s, y0)[index]

    # f_xx ~ d/dx f_x, f_xy ~ d/dx f_y, f_xxx ~ d/dx f_xx, f_xxy ~ d/dx f_xy
    for name, index, lower in [("f_xx", 3, 1), ("f_xy", 4, 2), ("f_xxx", 6, 3), ("f_xxy", 7, 4)]:
        fd = central(along_x(lower), x0, h)
        assert abs(got[index] - fd) <= 1e-5 * max(1.0, abs(got[index])), (name, got, fd, tree)


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
