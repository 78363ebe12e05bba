"""gradcheck and numerical_gradient: every built-in op, an MLP, a wrong primitive."""

import math

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_core.engine import Value, linear, no_grad, primitive
from autograd_core.gradcheck import (
    GradcheckError,
    Mismatch,
    gradcheck,
    numerical_gradient,
)

# Inputs stay off kinks (relu and abs at 0) and domain edges (log, sqrt, pow
# and division near 0) on purpose: finite differences are only meaningful
# where the function is smooth around the point.
moderate = st.floats(-3.0, 3.0)
positive = st.floats(0.2, 4.0)
away_from_zero = st.one_of(st.floats(-3.0, -0.2), st.floats(0.2, 3.0))

UNARY = {
    "neg": (lambda x: -x, moderate),
    "exp": (lambda x: x.exp(), moderate),
    "log": (lambda x: x.log(), positive),
    "sqrt": (lambda x: x.sqrt(), positive),
    "tanh": (lambda x: x.tanh(), moderate),
    "sigmoid": (lambda x: x.sigmoid(), moderate),
    "relu": (lambda x: x.relu(), away_from_zero),
    "abs": (lambda x: abs(x), away_from_zero),
    "sin": (lambda x: x.sin(), moderate),
    "cos": (lambda x: x.cos(), moderate),
    # constants on either side of the binary operators
    "add const": (lambda x: x + 2.5, moderate),
    "radd const": (lambda x: 2.5 + x, moderate),
    "sub const": (lambda x: x - 2.5, moderate),
    "rsub const": (lambda x: 2.5 - x, moderate),
    "mul const": (lambda x: x * -1.5, moderate),
    "rmul const": (lambda x: -1.5 * x, moderate),
    "div const": (lambda x: x / 1.5, moderate),
    "rdiv const": (lambda x: 1.5 / x, away_from_zero),
    "pow const": (lambda x: x**3, moderate),
    "pow fractional": (lambda x: x**0.5, positive),
    "pow negative": (lambda x: x**-2, away_from_zero),
    "rpow const": (lambda x: 2.0**x, moderate),
}

BINARY = {
    "add": (lambda x, y: x + y, moderate, moderate),
    "sub": (lambda x, y: x - y, moderate, moderate),
    "mul": (lambda x, y: x * y, moderate, moderate),
    "div": (lambda x, y: x / y, moderate, away_from_zero),
    "pow": (lambda x, y: x**y, positive, moderate),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(deadline=None, max_examples=examples(15))
@given(data=st.data())
def test_unary_ops_and_constant_operands(name, data):
    f, strategy = UNARY[name]
    x = data.draw(strategy)
    assert gradcheck(f, [x])


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(deadline=None, max_examples=examples(15))
@given(data=st.data())
def test_binary_ops(name, data):
    f, sx, sy = BINARY[name]
    assert gradcheck(f, [data.draw(sx), data.draw(sy)])


@settings(deadline=None, max_examples=examples(15))
@given(st.lists(moderate, min_size=7, max_size=7))
def test_linear(numbers):
    def f(*v):
        return linear(v[0:3], v[3:6], v[6])

    assert gradcheck(f, numbers)


def test_fan_out_adds_gradients():
    assert gradcheck(lambda x: x * x + x.sin() * x, [0.7])


def hand_mlp():
    """A 2-3-1 MLP from Values, with `linear` and `relu`, parameters named as nn names them."""
    params = []
    layers = []
    for i, (n_in, n_out) in enumerate([(2, 3), (3, 1)]):
        layer = []
        for j in range(n_out):
            ws = [
                Value(0.37 * (k + 1) - 0.29 * j + 0.11 * i, f"layers.{i}.neurons.{j}.w[{k}]")
                for k in range(n_in)
            ]
            b = Value(0.05 * (j + 1), f"layers.{i}.neurons.{j}.b")
            params += [*ws, b]
            layer.append((ws, b))
        layers.append(layer)

    def loss():
        total = Value(0.0)
        for x, target in [((0.5, -1.2), 1.0), ((-0.8, 0.3), -0.5)]:
            acts = [Value(v) for v in x]
            for i, layer in enumerate(layers):
                zs = [linear(ws, acts, b) for ws, b in layer]
                pre_activations.extend(z.data for z in zs)
                acts = [z.relu() for z in zs] if i < len(layers) - 1 else zs
            total = total + (acts[0] - target) ** 2
        return total

    pre_activations: list[float] = []
    return params, loss, pre_activations


def test_mlp_parameters_pass_and_are_left_untouched():
    params, loss, pre = hand_mlp()
    loss()
    # finite differences need a point off relu's kink; both relu branches occur
    hidden = pre[0:3] + pre[4:7]
    assert min(abs(z) for z in pre) > 0.01
    assert any(z > 0 for z in hidden) and any(z < 0 for z in hidden)
    for p in params:
        p.grad = 0.25  # a caller's accumulated gradient: must survive
    before = [(p.data, p.grad) for p in params]
    assert gradcheck(lambda *ps: loss(), params)
    assert [(p.data, p.grad) for p in params] == before


def test_mlp_numerical_gradient_matches_backward():
    params, loss, _ = hand_mlp()
    out = loss()
    out.backward()
    numeric = numerical_gradient(lambda *ps: loss(), params)
    for p, n in zip(params, numeric):
        assert p.grad == pytest.approx(n, rel=1e-4, abs=1e-6)
    assert any(abs(n) > 0.01 for n in numeric)  # the check is not about zeros only


def test_wrong_primitive_fails_with_a_useful_message():
    @primitive("bad_square")
    def bad_square(m, x):
        return x * x, x  # wrong on purpose: d/dx x**2 is 2x, not x

    x = Value(1.5, "x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: bad_square(v), [x])
    message = str(info.value)
    assert "1 of 1 input" in message
    assert "input 0 ('x')" in message
    assert "analytic 1.5" in message
    assert "numeric 3.0" in message  # central difference of x**2 at 1.5
    assert "wrong local derivative" in message
    [m] = info.value.mismatches
    assert isinstance(m, Mismatch) and m.index == 0 and m.label == "x"
    assert m.abs_error == pytest.approx(1.5, rel=1e-6)
    assert m.rel_error == pytest.approx(0.5, rel=1e-6)
    assert isinstance(info.value, AssertionError)


def test_only_the_wrong_inputs_are_listed():
    @primitive("bad_mul", arity=2)
    def bad_mul(m, x, y):
        return x * y, y, y  # the second derivative should be x

    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: bad_mul(a, b), [2.0, 5.0])
    assert [m.index for m in info.value.mismatches] == [1]
    assert "input 1:" in str(info.value)


def test_nan_gradient_never_passes():
    @primitive("nan_grad")
    def nan_grad(m, x):
        return x * 2.0, math.nan

    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(lambda v: nan_grad(v), [1.0])


def test_numerical_gradient_restores_data_exactly():
    x = Value(0.1, "x")  # 0.1 + eps - eps is not 0.1 in floats
    y = Value(-7.3)
    g = numerical_gradient(lambda a, b: a * b + a.exp(), [x, y])
    assert x.data == 0.1 and y.data == -7.3
    assert g[0] == pytest.approx(-7.3 + math.exp(0.1), rel=1e-7)
    assert g[1] == pytest.approx(0.1, rel=1e-7)
    assert x.grad == 0.0 and y.grad == 0.0


def test_numerical_gradient_accepts_functions_returning_numbers():
    assert numerical_gradient(lambda v: v.data**3, [2.0])[0] == pytest.approx(12.0, rel=1e-6)


def test_single_value_and_unused_inputs():
    assert gradcheck(lambda v: v.tanh(), Value(0.3))
    assert gradcheck(lambda a, b: a * 2, [1.0, 4.0])  # b unused: both gradients 0


def test_domain_edge_during_differencing_is_explained():
    with pytest.raises(ValueError, match="f failed when input 0 was moved"):
        numerical_gradient(lambda v: v.log(), [1e-7])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: gradcheck(lambda v: v, []), ValueError, "empty"),
        (lambda: gradcheck(lambda v: v, [1.0], eps=0), ValueError, "eps"),
        (lambda: gradcheck(lambda v: v, [1.0], eps=math.nan), ValueError, "eps"),
        (lambda: gradcheck(lambda v: v, [1.0], atol=-1), ValueError, "atol"),
        (lambda: gradcheck(lambda v: v, ["1"]), TypeError, r"inputs\[0\]"),
        (lambda: gradcheck(lambda v: v, "abc"), TypeError, "inputs"),
        (lambda: gradcheck("f", [1.0]), TypeError, "callable"),
        (lambda: gradcheck(lambda v: v.data * 2, [1.0]), TypeError, "scalar Value"),
        (lambda: numerical_gradient(lambda v: "x", [1.0]), TypeError, "scalar Value"),
        (lambda: numerical_gradient(lambda v: v, [1.0], eps=-1e-6), ValueError, "eps"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gradcheck_inside_no_grad_is_refused():
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        gradcheck(lambda v: v * 2, [1.0])


def test_grads_of_every_node_in_f_graph_are_put_back():
    w = Value(2.0, "w")
    h = w.exp()  # an intermediate node that f's graph reuses
    w.grad, h.grad = 0.25, 0.5  # whatever the caller had there
    x = Value(0.3, "x")
    x.grad = -1.0
    assert gradcheck(lambda v: v * h, [x])
    assert (w.grad, h.grad, x.grad) == (0.25, 0.5, -1.0)
    assert (w.data, x.data) == (2.0, 0.3)
