"""train(): reaching 100% on XOR and two moons, history, batches, early stop, progress."""

import math

import pytest

from nn.data import moons, not_, sleep_study, xor
from nn.layers import MLP, Neuron
from nn.losses import hinge
from nn.optim import SGD
from nn.train import History, accuracy, evaluate, train


def demo_lr(k):
    return 1.0 - 0.9 * k / 100


def test_micrograd_demo_reaches_100_percent_on_two_moons():
    # micrograd's demo: moons(100, noise 0.1), MLP(2, [16, 16, 1]), hinge + 1e-4 L2,
    # 100 steps at lr 1.0 - 0.9*k/100. With seed 0 for data and weights, 100%
    # training accuracy is first seen at step 30 and holds from step 40 on.
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    model = MLP(2, [16, 16, 1], seed=0)
    history = train(model, X, y, loss="hinge", steps=100, lr=demo_lr, l2=1e-4, progress=False)
    assert history.final_accuracy == 1.0
    assert history.steps == 100
    assert all(a == 1.0 for a in history.accuracy[40:])
    assert history.final_loss < 0.05 < history.loss[0]


def test_xor_reaches_100_percent():
    X, y = xor(signed=True)
    model = MLP(2, [8, 8, 1], seed=0)
    history = train(model, X, y, loss="hinge", steps=100, lr=0.1, l2=1e-4, progress=False)
    assert history.final_accuracy == 1.0
    assert [model(x).data > 0 for x in X] == [False, True, True, False]


def test_xor_with_squared_error_and_sigmoid_as_in_seed_000():
    X, y = xor()  # labels 0/1: accuracy thresholds the output at 0.5
    model = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=1)
    history = train(model, X, y, loss="mse", steps=300, lr=0.5, progress=False)
    assert history.final_accuracy == 1.0


def test_not_with_one_neuron_and_cross_entropy():
    X, y = not_()
    history = train(Neuron(1, "sigmoid"), X, y, loss="bce", steps=100, lr=1.0, progress=False)
    assert history.final_accuracy == 1.0


def test_sleep_study_regression_has_no_accuracy_and_fits():
    X, y = sleep_study()
    model = MLP(2, [3, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    history = train(model, X, y, loss="sse", steps=500, lr=1.0, progress=False)
    assert history.final_accuracy is None
    assert set(history.accuracy) == {None}
    assert history.final_loss < history.loss[0] / 10


def test_history_records_each_step_before_its_update():
    X, y = xor(signed=True)
    model = MLP(2, [4, 1], seed=2)
    before, _ = evaluate(model, X, y, "hinge")
    history = train(model, X, y, loss="hinge", steps=5, lr=0.05, progress=False)
    assert isinstance(history, History)
    assert len(history.loss) == len(history.accuracy) == history.steps == 5
    assert history.loss[0] == before  # step 0's loss is the untrained model's
    after, acc = evaluate(model, X, y, "hinge")
    assert (history.final_loss, history.final_accuracy) == (after, acc)


def test_training_is_reproducible_with_a_seed():
    X, y = moons(40, seed=3, signed=True)
    runs = []
    for _ in range(2):
        model = MLP(2, [6, 1], seed=4)
        h = train(model, X, y, loss="hinge", steps=12, batch_size=8, lr=0.2, seed=5, progress=False)
        runs.append((h.loss, model.state_dict()))
    assert runs[0] == runs[1]
    model = MLP(2, [6, 1], seed=4)
    other = train(model, X, y, loss="hinge", steps=12, batch_size=8, lr=0.2, seed=6, progress=False)
    assert other.loss != runs[0][0]  # a different batch order


def test_mini_batches_cover_each_epoch_once():
    X = [[float(i)] for i in range(10)]
    y = [0.0] * 10
    seen = []

    def loss(preds, targets):
        seen.append(len(preds))
        return sum((p - t) ** 2 for p, t in zip(preds, targets))

    model = Neuron(1, "linear")
    history = train(model, X, y, loss=loss, epochs=2, batch_size=4, lr=1e-3, progress=False)
    assert history.steps == 6  # ceil(10 / 4) steps per epoch
    assert seen[:6] == [4, 4, 2, 4, 4, 2]


def test_tol_stops_when_the_loss_settles():
    # seed 000's gradient descent with `precision`: stop once the loss changes by < tol
    X, y = not_()
    history = train(
        Neuron(1, "sigmoid"), X, y, loss="bce", steps=5000, lr=1.0, tol=1e-4, progress=False
    )
    assert history.stopped_early
    assert history.steps < 5000
    assert abs(history.loss[-1] - history.loss[-2]) < 1e-4
    assert all(abs(a - b) >= 1e-4 for a, b in zip(history.loss[:-2], history.loss[1:-1]))


def test_callback_sees_every_step_and_can_stop():
    X, y = xor(signed=True)
    calls = []

    def callback(step, history):
        calls.append((step, history.steps))
        return step == 2

    history = train(MLP(2, [3, 1]), X, y, steps=10, callback=callback, progress=False)
    assert calls == [(0, 1), (1, 2), (2, 3)]
    assert history.stopped_early and history.steps == 3


def test_custom_loss_function_and_optimizer():
    X, y = xor(signed=True)
    model = MLP(2, [8, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train(model, X, y, loss=hinge, optimizer=opt, steps=60, progress=False)
    assert opt.steps == 60
    assert history.final_accuracy is None  # a custom loss: no known way to read classes
    assert history.final_loss < history.loss[0]


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    X, y = xor(signed=True)
    train(MLP(2, [2, 1]), X, y, steps=3, progress=False)
    assert capsys.readouterr().err == ""
    train(MLP(2, [2, 1]), X, y, steps=3)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    train(MLP(2, [2, 1]), X, y, steps=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "acc=" in err


def test_diverging_training_is_reported():
    X, y = moons(20, seed=0)
    with pytest.raises((FloatingPointError, OverflowError)):
        train(
            MLP(2, [8, 1], activation="linear"),
            X,
            y,
            loss="mse",
            steps=200,
            lr=50.0,
            progress=False,
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": 5, "epochs": 5}, ValueError, "not both"),
        ({"steps": 0}, ValueError, "steps"),
        ({"epochs": -1}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"loss": "l1"}, ValueError, "loss must be one of"),
        ({"loss": 3}, TypeError, "loss must be"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"lr": 0.0}, ValueError, "lr"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    X, y = xor(signed=True)
    with pytest.raises(error, match=message):
        train(MLP(2, [2, 1]), X, y, progress=False, **kwargs)


def test_bad_data_is_refused():
    with pytest.raises(ValueError, match="same length"):
        train(MLP(2, [1]), [[0.0, 1.0]], [1, 1], progress=False)
    with pytest.raises(ValueError, match="at least one"):
        train(MLP(2, [1]), [], [], progress=False)


def test_accuracy_reads_predictions_by_loss():
    assert accuracy("hinge", [0.5, -0.1], [1, 1]) == 0.5
    assert accuracy("bce", [0.7, 0.2], [1, 0]) == 1.0
    assert accuracy("softmax-ce", [[0.1, 2.0], [3.0, 1.0]], [1, 1]) == 0.5
    assert accuracy("mse", [0.4], [0.75]) is None
    assert math.isclose(accuracy("mse", [0.9, 0.4, 0.2], [1, 1, 0]), 2 / 3)


def test_custom_loss_must_return_a_value():
    X, y = xor(signed=True)
    with pytest.raises(TypeError, match="must return a Value"):
        train(MLP(2, [2, 1]), X, y, loss=lambda p, t: 0.0, steps=1, progress=False)


def test_accuracy_of_several_outputs_is_only_read_by_softmax():
    assert accuracy("hinge", [[0.5, 0.1]], [[1, 1]]) is None


def test_each_step_runs_with_the_cyclic_collector_paused_and_restored():
    import gc

    seen = []

    def loss(predictions, targets):  # a loss of the user's own, called inside each step
        seen.append(gc.isenabled())
        return hinge(predictions, targets)

    X, y = xor(signed=True)
    assert gc.isenabled()
    train(MLP(2, [4, 1], seed=0), X, y, loss=loss, steps=3, lr=0.1, progress=False)
    assert seen[:3] == [False, False, False]  # the steps (evaluation afterwards may differ)
    assert gc.isenabled()
    gc.disable()
    try:
        train(MLP(2, [4, 1], seed=0), X, y, loss=loss, steps=2, lr=0.1, progress=False)
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
