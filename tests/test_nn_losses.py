"""Losses: each against a value computed by hand, and its gradient against central differences."""

import math
from fractions import Fraction

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_core.engine import Value
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    hinge,
    l2_penalty,
    log_sum_exp,
    mse,
    softmax_cross_entropy,
    sse,
)


def gradcheck(f, values, eps=1e-6, rtol=1e-6, atol=1e-8):
    """Compare backward()'s gradients of f(leaves) with central differences on each leaf."""
    leaves = [Value(v) for v in values]
    f(leaves).backward()
    for i, leaf in enumerate(leaves):
        bumped = list(values)
        bumped[i] = values[i] + eps
        up = f([Value(v) for v in bumped]).data
        bumped[i] = values[i] - eps
        down = f([Value(v) for v in bumped]).data
        numeric = (up - down) / (2 * eps)
        assert leaf.grad == pytest.approx(numeric, rel=rtol, abs=atol), f"leaf {i}"
    return [leaf.grad for leaf in leaves]


# ---------------------------------------------------------------------------
# Hand-computed values and gradients.


def test_mse_value_and_gradient():
    # ((1 - 0)**2 + (3 - 1)**2) / 2 = 2.5;  d/dp = 2 (p - t) / n = 1, 2
    assert mse([Value(1.0), Value(3.0)], [0, 1]).data == 2.5
    grads = gradcheck(lambda v: mse(v, [0, 1]), [1.0, 3.0])
    assert grads == [1.0, 2.0]


def test_sse_has_the_half_of_the_seeds():
    # 0.5 * ((0 - 1)**2 + (1 - 3)**2) = 2.5;  d/dp = p - t = 1, 2
    assert sse([Value(1.0), Value(3.0)], [0, 1]).data == 2.5
    assert gradcheck(lambda v: sse(v, [0, 1]), [1.0, 3.0]) == [1.0, 2.0]


def test_squared_errors_with_several_outputs():
    # one example, two outputs: ((1-0)**2 + (2-4)**2) / 2
    assert mse([[Value(1.0), Value(2.0)]], [[0.0, 4.0]]).data == 2.5


def test_hinge_value_and_gradient():
    # relu(1 - 0.5) = 0.5, relu(1 + 2) = 3, relu(1 - 1.3*1)... with y = -1 on the last:
    # relu(1 + 0.3) = 1.3, and relu(1 - 2*1) = 0 (past the margin): mean = 4.8 / 4
    scores, ys = [0.5, -2.0, 0.3, 2.0], [1, 1, -1, 1]
    assert hinge([Value(s) for s in scores], ys).data == pytest.approx(1.2, rel=1e-15)
    grads = gradcheck(lambda v: hinge(v, ys), scores)
    assert grads == [-0.25, -0.25, 0.25, 0.0]


def test_binary_cross_entropy_value_and_gradient():
    # -(log 0.8 + log(1 - 0.3)) / 2;  d/dp = -1/(2p) for y=1, 1/(2(1-p)) for y=0
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert binary_cross_entropy([Value(0.8), Value(0.3)], [1, 0]).data == pytest.approx(expected)
    grads = gradcheck(lambda v: binary_cross_entropy(v, [1, 0]), [0.8, 0.3])
    assert grads == pytest.approx([-1 / 1.6, 1 / 1.4])
    # a soft target uses both terms: -(0.25 log 0.6 + 0.75 log 0.4)
    soft = binary_cross_entropy(Value(0.6), 0.25).data
    assert soft == pytest.approx(-(0.25 * math.log(0.6) + 0.75 * math.log(0.4)))
    gradcheck(lambda v: binary_cross_entropy(v, [0.25]), [0.6])


def test_binary_cross_entropy_of_a_certain_right_answer_is_zero():
    assert binary_cross_entropy([Value(1.0), Value(0.0)], [1, 0]).data == 0.0


def test_binary_cross_entropy_with_logits_value_and_gradient():
    # z=2, y=1: log(1 + e^-2);  z=-3, y=0: log(1 + e^-3);  d/dz = (sigmoid(z) - y) / n
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-3))) / 2
    loss = binary_cross_entropy_with_logits([Value(2.0), Value(-3.0)], [1, 0])
    assert loss.data == pytest.approx(expected, rel=1e-15)
    grads = gradcheck(lambda v: binary_cross_entropy_with_logits(v, [1, 0]), [2.0, -3.0])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert grads == pytest.approx([(sig(2.0) - 1) / 2, sig(-3.0) / 2], rel=1e-12)


def test_binary_cross_entropy_with_logits_is_stable_at_huge_logits():
    # Naively sigmoid(1000) == 1.0 and log(1 - 1.0) fails; the stable form gives 1000.
    z = [Value(1000.0), Value(-1000.0)]
    loss = binary_cross_entropy_with_logits(z, [0, 1])
    assert loss.data == 1000.0
    loss.backward()
    assert [v.grad for v in z] == [0.5, -0.5]  # (sigmoid(z) - y) / 2


@settings(deadline=None, max_examples=examples(50))
@given(
    # Logits within +-20 keep sigmoid(z) away from exactly 0 or 1, where the
    # probability form must fail; targets anywhere in [0, 1].
    z=st.floats(-20, 20),
    y=st.floats(0, 1),
)
def test_logits_form_equals_probability_form(z, y):
    stable = binary_cross_entropy_with_logits(Value(z), y).data
    naive = binary_cross_entropy(Value(z).sigmoid(), y).data
    assert stable == pytest.approx(naive, rel=1e-6, abs=1e-9)


def test_softmax_cross_entropy_value_and_gradient():
    # -log(e^1 / (e^1 + e^2 + e^3)) = log(e + e^2 + e^3) - 1
    expected = math.log(math.e + math.e**2 + math.e**3) - 1
    loss = softmax_cross_entropy([Value(1.0), Value(2.0), Value(3.0)], 0)
    assert loss.data == pytest.approx(expected, rel=1e-15)
    grads = gradcheck(lambda v: softmax_cross_entropy(v, 0), [1.0, 2.0, 3.0])
    total = math.e + math.e**2 + math.e**3
    # d/dz_i = softmax(z)_i - [i == target]
    assert grads == pytest.approx([math.e / total - 1, math.e**2 / total, math.e**3 / total])


def test_softmax_cross_entropy_batch_and_huge_logits():
    batch = [[Value(1000.0), Value(0.0)], [Value(0.0), Value(0.0)]]
    loss = softmax_cross_entropy(batch, [1, 0])
    assert loss.data == pytest.approx((1000.0 + math.log(2)) / 2, rel=1e-15)
    gradcheck(lambda v: softmax_cross_entropy([v[:2], v[2:]], [1, 0]), [3.0, -1.0, 0.5, 0.25])


def test_log_sum_exp_handles_large_inputs():
    assert log_sum_exp([Value(1000.0), Value(1000.0)]).data == pytest.approx(1000 + math.log(2))
    grads = gradcheck(log_sum_exp, [0.5, -1.0, 2.0])
    assert sum(grads) == pytest.approx(1.0)  # the gradient is softmax


def test_l2_penalty_value_and_gradient():
    # 1e-4 * (0.5**2 + (-2)**2) ;  d/dp = 2e-4 p
    params = [Value(0.5), Value(-2.0)]
    assert l2_penalty(params, 1e-4).data == pytest.approx(1e-4 * 4.25, rel=1e-15)
    assert gradcheck(lambda v: l2_penalty(v, 1e-4), [0.5, -2.0]) == pytest.approx([1e-4, -4e-4])


def test_losses_accept_plain_numbers_and_return_values():
    assert isinstance(mse(1.0, 0.0), Value)
    assert isinstance(hinge([0.5], [1]), Value)


def test_any_real_number_is_a_target_or_prediction():
    np = pytest.importorskip("numpy")
    assert mse([Value(1.0)], [np.int64(1)]).data == 0.0
    assert mse([Value(3.0)], np.float32(1.0)).data == 4.0
    assert sse([np.float64(0.5)], [Fraction(1, 2)]).data == 0.0
    assert hinge([Value(0.5)], [np.int8(-1)]).data == 1.5
    assert softmax_cross_entropy([Value(0.0), Value(0.0)], np.int64(1)).data == pytest.approx(
        math.log(2)
    )


# ---------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mse([Value(1.0)], [1, 2]), ValueError, "one target per prediction"),
        (lambda: mse([], []), ValueError, "at least one"),
        (lambda: mse([Value(1.0)], ["a"]), TypeError, "targets must be numbers"),
        (lambda: mse(["a"], [1.0]), TypeError, "predictions must be"),
        (lambda: hinge([Value(0.5)], [0]), ValueError, "-1 or \\+1"),
        (lambda: binary_cross_entropy([Value(1.0)], [0]), ValueError, "with_logits"),
        (lambda: binary_cross_entropy([Value(1.5)], [1]), ValueError, "probabilities in"),
        (lambda: binary_cross_entropy([Value(0.5)], [2]), ValueError, "targets must be in"),
        (lambda: softmax_cross_entropy([Value(1.0), Value(2.0)], 2), ValueError, "0..1"),
        (lambda: softmax_cross_entropy([[Value(1.0)]], [0]), ValueError, "at least 2 logits"),
        (lambda: mse([[Value(1.0), Value(2.0)]], [1.0]), ValueError, "2 outputs"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
