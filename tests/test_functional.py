"""The functional API (grad, value_and_grad, hessian, hvp) against backward()."""

import math

import pytest

from autograd_core.engine import Value, no_grad
from autograd_core.functional import grad, hessian, hvp, value_and_grad


def f2(x, y):
    return x * y * y + (x * y).sin() + (x / y).exp()


def backward_grads(f, *xs):
    """The gradient the plain engine gives: leaves, forward, backward()."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def second_by_backward(f, x):
    """d2f/dx2 with backward(create_graph=True), as the engine documents it."""
    v = Value(x)
    f(v).backward(create_graph=True)
    g = v.grad
    v.grad = 0.0
    g.backward()
    return v.grad


# ---------------------------------------------------------------------------
# grad and value_and_grad equal backward()


@pytest.mark.parametrize("xy", [(1.0, 2.0), (-0.5, 1.5), (3.0, -0.25)])
def test_grad_matches_backward_for_each_argnums_form(xy):
    expected = backward_grads(f2, *xy)
    assert grad(f2)(*xy) == expected[0]
    assert grad(f2, argnums=1)(*xy) == expected[1]
    assert grad(f2, argnums=(0, 1))(*xy) == tuple(expected)
    assert grad(f2, argnums=(1, 0))(*xy) == (expected[1], expected[0])


def test_value_and_grad_returns_the_value_of_f_and_the_gradient():
    value, g = value_and_grad(f2, argnums=(0, 1))(1.0, 2.0)
    assert value == f2(Value(1.0), Value(2.0)).data
    assert g == tuple(backward_grads(f2, 1.0, 2.0))
    assert isinstance(value, float)
    assert all(isinstance(d, float) for d in g)


def test_grad_of_floats_returns_floats():
    d = grad(lambda x: x * x)(3)
    assert d == 6.0 and type(d) is float


def test_a_constant_derivative_and_a_constant_function():
    assert grad(lambda x: 2 * x)(5.0) == 2.0
    assert grad(grad(lambda x: 2 * x))(5.0) == 0.0
    assert grad(lambda x: 7.0)(1.0) == 0.0  # f returns a number: derivative 0
    assert grad(lambda x, y: x * 3, argnums=1)(1.0, 2.0) == 0.0


def test_the_identity_and_its_derivatives():
    assert grad(lambda x: x)(3.0) == 1.0
    assert grad(grad(lambda x: x))(3.0) == 0.0


def test_grad_differentiates_even_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert grad(grad(lambda x: x**3))(2.0) == 12.0
        assert hessian(lambda x, y: x * y)(1.0, 2.0) == [[0.0, 1.0], [1.0, 0.0]]
        x = Value(2.0)
        d = grad(lambda v: v**3)(x)  # 3x^2, still a function of x
    d.backward()
    assert x.grad == 12.0


def test_undifferentiated_arguments_and_keywords_pass_through_unchanged():
    def loss(w, data, *, scale):
        return scale * sum((w * x - y) ** 2 for x, y in data)

    data = [(1.0, 2.0), (2.0, 3.0)]
    # d/dw 3 * sum (w x - y)^2 = 6 * sum x (w x - y)
    expected = 6 * sum(x * (0.5 * x - y) for x, y in data)
    assert grad(loss)(0.5, data, scale=3) == pytest.approx(expected, rel=1e-15)


# ---------------------------------------------------------------------------
# Nesting: grad of grad


def test_nested_grad_gives_second_and_third_derivatives_of_a_cubic():
    f = lambda x: x**3 - 2 * x**2  # noqa: E731
    x = 1.5
    assert grad(f)(x) == pytest.approx(3 * x**2 - 4 * x, rel=1e-15)
    assert grad(grad(f))(x) == pytest.approx(6 * x - 4, rel=1e-15)
    assert grad(grad(grad(f)))(x) == pytest.approx(6.0, rel=1e-15)
    assert grad(grad(grad(grad(f))))(x) == 0.0


@pytest.mark.parametrize("x", [-1.3, 0.2, 2.0])
def test_nested_grad_matches_backward_create_graph(x):
    f = lambda v: (v.sin() * v).tanh() + v.exp() / (1 + v * v)  # noqa: E731
    assert grad(grad(f))(x) == pytest.approx(second_by_backward(f, x), rel=1e-13)


def test_grad_called_with_values_returns_a_differentiable_value():
    x = Value(2.0)
    d = grad(lambda v: v**3)(x)
    assert isinstance(d, Value) and d.data == pytest.approx(12.0)
    d.backward()
    assert x.grad == pytest.approx(12.0)  # d/dx 3x^2 = 6x


def test_mixed_partial_through_nesting_in_two_arguments():
    # d/dy (df/dx) for f = x y^2 + sin(x y) + exp(x/y)
    mixed = grad(lambda x, y: grad(f2, argnums=0)(x, y), argnums=1)(1.0, 2.0)
    assert mixed == pytest.approx(hessian(f2)(1.0, 2.0)[0][1], rel=1e-14)


def test_nested_grad_through_a_closure_over_the_outer_argument():
    # g(y) = d/dx (x * y^2) at x=1 = y^2, so g'(y) = 2y: the inner grad is
    # called with a float but closes over the outer Value y.
    def g(y):
        return grad(lambda x: x * y * y)(1.0)

    assert grad(g)(3.0) == pytest.approx(6.0, rel=1e-15)


def test_the_same_value_passed_twice_has_separate_derivatives():
    # As in JAX: d/da (a*b) is b even when a and b are one Value.
    x = Value(3.0)
    da, db = grad(lambda a, b: a * b * b, argnums=(0, 1))(x, x)
    assert da.data == pytest.approx(9.0) and db.data == pytest.approx(18.0)
    da.backward()  # da = b^2 with b = x, so d da / dx = 2x
    assert x.grad == pytest.approx(6.0)


def test_grad_leaves_no_trace_in_any_grad():
    w = Value(3.0, "w")
    w.grad = 7.0
    hidden = w * 2
    assert grad(lambda x: x * hidden + w.exp())(2.0) == pytest.approx(6.0)
    assert w.grad == 7.0 and hidden.grad == 0.0
    x = Value(1.5)
    x.grad = 4.0
    grad(grad(lambda v: v**3))(x)
    assert x.grad == 4.0


# ---------------------------------------------------------------------------
# hessian, hvp, Newton's method


def test_hessian_matches_hand_derivatives():
    # f = x y^2 + sin(x y): f_xx = -y^2 sin(xy), f_xy = 2y + cos(xy) - xy sin(xy),
    # f_yy = 2x - x^2 sin(xy)
    f = lambda x, y: x * y * y + (x * y).sin()  # noqa: E731
    x, y = 0.7, -1.3
    s, c = math.sin(x * y), math.cos(x * y)
    expected = [[-(y**2) * s, 2 * y + c - x * y * s], [2 * y + c - x * y * s, 2 * x - x**2 * s]]
    h = hessian(f)(x, y)
    for row, exp_row in zip(h, expected):
        assert row == pytest.approx(exp_row, rel=1e-13)
    assert h[0][1] == h[1][0]


def test_hessian_of_a_subset_of_arguments_and_of_one_argument():
    f = lambda x, y, z: x * x * y + z**3  # noqa: E731
    assert hessian(f, argnums=(0, 2))(1.0, 2.0, 3.0) == [[4.0, 0.0], [0.0, 18.0]]
    assert hessian(f, argnums=2)(1.0, 2.0, 3.0) == [[18.0]]


def test_hessian_of_an_affine_function_is_zero():
    assert hessian(lambda x, y: 3 * x - y + 1)(1.0, 2.0) == [[0.0, 0.0], [0.0, 0.0]]


def test_hvp_equals_the_hessian_times_the_vector():
    f = lambda x, y, z: (x * y).exp() * z + (y / z).log() + x**4  # noqa: E731
    at, v = (0.3, 1.2, 0.8), (1.0, -2.0, 0.5)
    h = hessian(f)(*at)
    expected = [sum(h[i][j] * v[j] for j in range(3)) for i in range(3)]
    assert hvp(f, at, v) == pytest.approx(expected, rel=1e-13)


def test_newton_minimises_a_1d_function_in_a_few_steps():
    # f(x) = e^x - 2x has its minimum at x = log 2.
    f = lambda x: x.exp() - 2 * x  # noqa: E731
    df, d2f = grad(f), grad(grad(f))
    x = 0.0
    for _ in range(6):
        x -= df(x) / d2f(x)
    assert x == pytest.approx(math.log(2), abs=1e-15)


def test_newton_minimises_the_rosenbrock_function_in_a_few_steps():
    def rosenbrock(x, y):
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    g, h = grad(rosenbrock, argnums=(0, 1)), hessian(rosenbrock)
    x, y = -1.2, 1.0
    for _ in range(8):
        (gx, gy), ((a, b), (c, d)) = g(x, y), h(x, y)
        det = a * d - b * c
        # Newton step: solve H s = g (2x2, by Cramer's rule)
        x, y = x - (d * gx - b * gy) / det, y - (a * gy - c * gx) / det
    assert (x, y) == pytest.approx((1.0, 1.0), abs=1e-12)
    assert rosenbrock(Value(x), Value(y)).data < 1e-20


# ---------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "argnums, error, words",
    [
        (True, TypeError, "argnums"),
        (-1, TypeError, "non-negative"),
        (1.0, TypeError, "argnums"),
        ((), ValueError, "at least one"),
        ((0, 0), ValueError, "repeated"),
        ((0, "1"), TypeError, "argnums"),
    ],
)
def test_bad_argnums_are_rejected_when_grad_is_made(argnums, error, words):
    with pytest.raises(error, match=words):
        grad(f2, argnums=argnums)


def test_argnums_beyond_the_arguments_names_both_counts():
    with pytest.raises(ValueError, match=r"argnums=2 .* 2 positional"):
        grad(f2, argnums=2)(1.0, 2.0)


def test_a_non_callable_is_rejected():
    for transform in (grad, value_and_grad, hessian):
        with pytest.raises(TypeError, match="callable"):
            transform(3.0)


@pytest.mark.parametrize("bad", ["1.0", [1.0], None, True, 1j])
def test_a_differentiated_argument_must_be_a_real_number_or_value(bad):
    with pytest.raises(TypeError, match="argument 0 is differentiated"):
        grad(lambda x: x)(bad)


@pytest.mark.parametrize("out", [[1.0], "x", None, (Value(1.0),)])
def test_f_must_return_a_scalar(out):
    with pytest.raises(TypeError, match="f must return a scalar"):
        grad(lambda x: out)(1.0)


def test_hvp_checks_its_vectors():
    f = lambda x, y: x * y  # noqa: E731
    with pytest.raises(ValueError, match="one tangent per primal"):
        hvp(f, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match="tangent 1"):
        hvp(f, (1.0, 2.0), (1.0, "a"))
    with pytest.raises(ValueError, match="at least one"):
        hvp(f, (), ())


def test_hessian_of_no_arguments_is_an_error():
    with pytest.raises(ValueError, match="no arguments"):
        hessian(lambda: 1.0)()
