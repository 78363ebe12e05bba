"""SGD: plain, momentum and weight-decay updates against numbers worked out by hand."""

import pytest

from autograd_core.engine import Value
from nn.optim import SGD


def test_plain_step_is_p_minus_lr_grad():
    p = Value(1.0)
    p.grad = 0.5
    SGD([p], lr=0.1).step()
    assert p.data == 1.0 - 0.1 * 0.5  # 0.95, micrograd's `p.data -= lr * p.grad`


def test_weight_decay_adds_wd_times_p_to_the_gradient():
    # g = 0.5 + 0.1 * 1.0 = 0.6;  p = 1 - 0.1 * 0.6 = 0.94
    p = Value(1.0)
    p.grad = 0.5
    SGD([p], lr=0.1, weight_decay=0.1).step()
    assert p.data == pytest.approx(0.94, abs=1e-15)


def test_momentum_follows_pytorchs_rule():
    # step 1: buf = g1 = 0.5;             p = 1 - 0.1*0.5   = 0.95
    # step 2: buf = 0.9*0.5 + 0.25 = 0.7; p = 0.95 - 0.1*0.7 = 0.88
    # step 3: buf = 0.9*0.7 + 0 = 0.63;   p = 0.88 - 0.063  = 0.817 (moves with no gradient)
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    for grad, expected in ((0.5, 0.95), (0.25, 0.88), (0.0, 0.817)):
        p.grad = grad
        opt.step()
        assert p.data == pytest.approx(expected, abs=1e-15)


def test_momentum_with_weight_decay():
    # step 1: g = 1 + 0.5*2 = 2;  buf = 2;              p = 2 - 0.1*2     = 1.8
    # step 2: g = 1 + 0.5*1.8 = 1.9; buf = 0.5*2 + 1.9 = 2.9; p = 1.8 - 0.29 = 1.51
    p = Value(2.0)
    opt = SGD([p], lr=0.1, momentum=0.5, weight_decay=0.5)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(1.8, abs=1e-15)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(1.51, abs=1e-15)


def test_momentum_buffers_are_per_parameter():
    a, b = Value(0.0), Value(0.0)
    opt = SGD([a, b], lr=1.0, momentum=0.5)
    a.grad, b.grad = 1.0, -2.0
    opt.step()
    opt.step()  # grads unchanged: buf = 0.5*g + g = 1.5 g
    assert (a.data, b.data) == (-2.5, 5.0)


def test_learning_rate_schedule_gets_the_step_number():
    seen = []
    p = Value(0.0)
    opt = SGD([p], lr=lambda k: seen.append(k) or 1.0 - 0.9 * k / 100)
    for _ in range(3):
        p.grad = 1.0
        opt.step()
    assert seen == [0, 1, 2]
    assert opt.steps == 3
    assert p.data == pytest.approx(-(1.0 + 0.991 + 0.982), abs=1e-15)
    assert opt.current_lr() == 1.0 - 0.9 * 3 / 100


def test_zero_grad_clears_gradients():
    ps = [Value(1.0), Value(2.0)]
    for p in ps:
        p.grad = 3.0
    SGD(ps).zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"params": []}, ValueError, "empty parameter list"),
        ({"params": [1.0]}, TypeError, "must be Values"),
        ({"lr": 0}, ValueError, "positive"),
        ({"lr": -0.1}, ValueError, "lr must be"),
        ({"lr": float("nan")}, ValueError, "lr must be"),
        ({"lr": "0.1"}, TypeError, "lr must be"),
        ({"momentum": 1.0}, ValueError, r"\[0, 1\)"),
        ({"momentum": -0.5}, ValueError, "momentum"),
        ({"weight_decay": -1}, ValueError, "weight_decay"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    args = {"params": [Value(1.0)], "lr": 0.1, **kwargs}
    with pytest.raises(error, match=message):
        SGD(**args)


def test_a_parameter_listed_twice_is_refused():
    p = Value(1.0, "w")
    with pytest.raises(ValueError, match="listed twice"):
        SGD([p, p])


def test_schedule_giving_a_bad_rate_is_refused_before_any_update():
    p = Value(1.0)
    p.grad = 1.0
    with pytest.raises(ValueError, match=r"lr\(0\)"):
        SGD([p], lr=lambda k: -1.0).step()
    assert p.data == 1.0
