"""nn.train stops at the first NaN or infinite loss or gradient, naming the step."""

import math
import re

import pytest

from nn import MLP
from nn.data import moons
from nn.train import train, train_step


def weights(model):
    return [p.data for p in model.parameters()]


def test_a_nan_example_stops_training_at_step_0_naming_it():
    X, y = moons(20, seed=0, signed=True)
    X[7] = [X[7][0], math.nan]
    model = MLP(2, [4, 1], activation="tanh", seed=0)  # tanh passes NaN on (relu is the lead's)
    before = weights(model)
    with pytest.raises(FloatingPointError) as info:
        train(model, X, y, steps=5, lr=0.1, progress=False)
    message = str(info.value)
    # the loss once relu(nan) is nan; until then hinge's relu hides it and the gradient shows it
    assert re.search(r"(the loss|the gradient of \S+) became nan at step 0", message)
    assert "X[7][1] = nan" in message
    assert weights(model) == before  # no update from a NaN step


def test_an_infinite_input_is_named_in_a_mini_batch_by_its_index_in_the_data():
    X, y = moons(12, seed=1)
    X[5] = [-math.inf, X[5][1]]
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    with pytest.raises(FloatingPointError, match=r"became \S+ at step \d+.*X\[5\]\[0\] = -inf"):
        train(model, X, y, loss="mse", steps=20, batch_size=4, lr=0.1, progress=False)


def test_divergence_stops_with_the_step_before_the_weights_are_ruined():
    X, y = moons(20, seed=0, signed=True)
    model = MLP(2, [8, 1], activation="linear", seed=0)
    seen = []
    with pytest.raises((FloatingPointError, OverflowError)) as info:
        train(
            model,
            X,
            y,
            loss="mse",
            steps=500,
            lr=50.0,
            progress=False,
            callback=lambda k, h: seen.append(k),
        )
    if isinstance(info.value, FloatingPointError):
        assert f"at step {len(seen)}" in str(info.value)
        assert "lower the learning rate" in str(info.value)
    assert all(math.isfinite(w) for w in weights(model))


def test_compiled_training_stops_the_same_way():
    X, y = moons(20, seed=0, signed=True)
    X[3] = [math.inf, X[3][1]]
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    before = weights(model)
    with pytest.raises(FloatingPointError, match=r"at step 0.*X\[3\]\[0\] = inf"):
        train(model, X, y, steps=3, compiled=True, progress=False)
    assert weights(model) == before


def test_train_step_alone_refuses_a_nan_loss_before_updating():
    from nn.losses import LOSSES
    from nn.optim import SGD

    model = MLP(2, [3, 1], activation="tanh", seed=0)
    before = weights(model)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="the loss became nan, so training stopped"):
        train_step(model, opt, LOSSES["mse"], [[1.0, math.nan]], [1.0])
    assert weights(model) == before


def test_a_nan_gradient_with_a_finite_loss_is_caught_and_named():
    from autograd_core.engine import Value, primitive

    @primitive("nan_slope")
    def nan_slope(m, x):
        return x, math.nan  # a finite output with a NaN local derivative

    model = MLP(1, [1], seed=0)

    def predict(x):
        return nan_slope(model(x))

    predict.parameters = model.parameters
    before = weights(model)

    def loss(preds, targets):
        return sum(((p - t) ** 2 for p, t in zip(preds, targets)), Value(0.0))

    from nn.optim import SGD

    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"the gradient of \S+ became nan"):
        train_step(predict, opt, loss, [[1.0]], [0.0])
    assert weights(model) == before
