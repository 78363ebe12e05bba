"""compile_batched against the engine, refusals, nn.train(batched=True), and the digits data."""

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import finite_values, graphs

np = pytest.importorskip("numpy")

from autograd_core import TracingError, Value, compile_batched, linear, primitive  # noqa: E402
from nn.batched import per_example_loss  # noqa: E402
from nn.data import digits, moons, train_test_split  # noqa: E402
from nn.layers import MLP  # noqa: E402
from nn.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@primitive("softplus")
def softplus(m, x):
    # log(1 + e^x) with exp of -|x| only; d/dx = sigmoid(x)
    return m.log(1 + m.exp(-m.abs(x))) + m.relu(x), m.sigmoid(x)


@primitive("smooth_mul", arity=2)
def smooth_mul(m, a, b):
    return a * m.tanh(b), m.tanh(b), a * (1 - m.tanh(b) * m.tanh(b))


def engine_mean(per_example, params, X, Y):
    """The reference: the engine's graph of the whole batch, mean of the losses, backward()."""
    for p in params:
        p.grad = 0.0
    losses = []
    for x, y in zip(X, Y):
        t = [Value(v) for v in y] if isinstance(y, list) else Value(y)
        out = per_example([Value(v) for v in x], t)
        losses.append(out[0] if isinstance(out, tuple) else out)
    mean = sum(losses) * (1.0 / len(losses))
    mean.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return mean.data, grads


def assert_agree(batched, engine):
    """Mean loss to 1e-12 relative; each gradient to 1e-12 relative to the largest one."""
    (loss_b, grads_b), (loss_e, grads_e) = batched, engine
    assert math.isclose(loss_b, loss_e, rel_tol=1e-12, abs_tol=1e-300), (loss_b, loss_e)
    scale = max([1e-300, *(abs(g) for g in grads_e)])
    for i, (gb, ge) in enumerate(zip(grads_b, grads_e)):
        assert abs(gb - ge) <= 1e-12 * max(abs(ge), scale), (i, gb, ge)


finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw):
    nin = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2))
    loss = draw(st.sampled_from(["hinge", "mse", "sse", "bce-logits", "softmax-ce", "bce"]))
    nout = draw(st.integers(2, 4)) if loss == "softmax-ce" else 1
    activation = draw(st.sampled_from(["relu", "tanh", "sigmoid"]))
    out_act = "sigmoid" if loss == "bce" else "linear"
    seed = draw(st.integers(0, 2**16))
    model = MLP(nin, [*hidden, nout], activation=activation, output_activation=out_act, seed=seed)
    b = draw(st.integers(1, 6))
    X = [[draw(finite) for _ in range(nin)] for _ in range(b)]
    if loss == "hinge":
        Y = [draw(st.sampled_from([-1.0, 1.0])) for _ in range(b)]
    elif loss in ("bce", "bce-logits"):
        Y = [draw(st.floats(0, 1)) for _ in range(b)]
    elif loss == "softmax-ce":
        Y = []
        for _ in range(b):
            row = [0.0] * nout
            row[draw(st.integers(0, nout - 1))] = 1.0
            Y.append(row)
    else:
        Y = [draw(finite) for _ in range(b)]
    return model, per_example_loss(loss), X, Y


@given(problems())
def test_batched_agrees_with_the_engine_on_random_models_losses_and_data(problem):
    model, loss, X, Y = problem
    params = model.parameters()

    def per_example(x, y):
        return loss(model(x), y)

    step = compile_batched(per_example, params, (X[0], Y[0]))
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))
    # every mini-batch of size 1 too
    for x, y in zip(X, Y):
        assert_agree(step([x], [y]), engine_mean(per_example, params, [x], [y]))


@given(
    graph=graphs(n_inputs=(2, 5), max_steps=8, smooth=False),
    rows=st.lists(st.lists(finite, min_size=2, max_size=2), min_size=1, max_size=6),
    targets=st.lists(finite, min_size=6, max_size=6),
)
def test_batched_agrees_with_the_engine_on_random_graphs(graph, rows, targets):
    # Random graphs over the op table (tests/strategies.py): two features, the
    # other inputs are parameters; the loss is the squared distance to y.
    # Draws where the engine raises or a value leaves [-1e3, 1e3] are discarded.
    params = [Value(0.5 - 0.75 * i) for i in range(graph.n_inputs - 2)]
    X, Y = rows, targets[: len(rows)]

    def per_example(x, y):
        return (graph(*x, *params) - y) ** 2

    for x in X:
        try:
            registers = graph.registers([Value(v) for v in x] + params)
        except (ArithmeticError, ValueError):
            assume(False)
        assume(finite_values(registers, 1e3))
    step = compile_batched(per_example, params, (X[0], Y[0]))
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))


def test_linear_of_constants_without_parameters():
    # Found by the random-graph test: this indexed the empty parameter array.
    def per_example(x, y):
        return (linear([0.5], [x[0]], 0.0) - y) ** 2

    step = compile_batched(per_example, [], ([1.0, 2.0], 1.0))
    assert step([[1.0, 2.0], [0.5, 0.1]], [1.0, 0.0])[0] == pytest.approx((0.25 + 0.0625) / 2)


@given(
    st.lists(st.tuples(finite, finite), min_size=1, max_size=8),
    st.floats(0.1, 2.0),
    st.floats(-2, 2),
)
def test_user_primitives_and_every_builtin_math_function(rows, e, c):
    a, b, w = Value(0.7, "a"), Value(-0.4, "b"), Value(1.3, "w")
    params = [a, b, w]

    def per_example(x, y):
        u = softplus(a * x[0] + b) + smooth_mul(w, x[1])
        v = (abs(u) + 1.0) ** e + (u * u + 1.0).sqrt() + (u / (1.5 + u.tanh())).exp().log()
        v = v + u.sin() * x[0].cos() - (x[1] - u).sigmoid() + (u + c).relu() + 2.0 ** (w * 0.5)
        return (v - y) ** 2

    X = [[p, q] for p, q in rows]
    Y = [p - q for p, q in rows]
    step = compile_batched(per_example, params, (X[0], Y[0]))
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))


def test_dense_layers_become_matrix_products_and_agree_with_the_plain_replay():
    model = MLP(3, [6, 5, 2], seed=2)
    params = model.parameters()
    loss = per_example_loss("softmax-ce")

    def per_example(x, y):
        return loss(model(x), y)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = np.eye(2)[rng.integers(0, 2, 40)]
    step = compile_batched(per_example, params, (X[0].tolist(), Y[0].tolist()))
    assert step.dense_layers == 3
    from autograd_core.batched import BatchedStep

    plain = BatchedStep(per_example, params, (X[0].tolist(), Y[0].tolist()), dense=False)
    assert plain.dense_layers == 0
    assert_agree(step(X, Y), plain(X, Y))
    assert_agree(step(X, Y), engine_mean(per_example, params, X.tolist(), Y.tolist()))


def test_micrograd_style_code_gets_dense_layers_and_the_engines_numbers():
    # Written one scalar at a time (sum of products, relu), L2 inside per_example:
    # the passes find three dense layers, two relu maps and a hoisted penalty.
    from micrograd_style import MLP as ScalarMLP

    model = ScalarMLP(2, [16, 16, 1], seed=3)
    params = model.parameters()

    def per_example(x, y):
        return (1 + -y * model(x)).relu() + 1e-4 * sum(p * p for p in params)

    X, y = moons(30, noise=0.1, seed=4, signed=True)
    X, Y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    step = compile_batched(per_example, params, (X[0].tolist(), float(Y[0])))
    assert step.dense_layers == 3 and step.program.count("map") == 2
    assert step.program.count("dense") + step.program.count("map") < 10 < step.n_nodes
    assert len(step.program.once) == 2  # sum(p*p) as one dot product, times 1e-4
    # no per-parameter Python work in a step: no param is read one by one, and the
    # replay's value slots are per equation, not per param (337 params here)
    assert step._exec.param_reads == [] and step._exec.n_slots < 30
    assert_agree(step(X, Y), engine_mean(per_example, params, X.tolist(), Y.tolist()))
    pdata = np.array([p.data for p in params])
    mean, grad = step.run_arrays(X, Y, pdata)
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float64
    assert (mean, grad.tolist()) == step(X, Y)
    # other parameter numbers, the Values untouched
    mean2, grad2 = step.run_arrays(X, Y, pdata * 0.5)
    assert mean2 != mean and [p.data for p in params] == pdata.tolist()
    for p, v in zip(params, pdata * 0.5):
        p.data = v
    assert_agree((mean2, grad2.tolist()), engine_mean(per_example, params, X.tolist(), Y.tolist()))
    mean3, grad3, aux = step.run_arrays(X, Y, pdata * 0.5, outputs=True)
    assert (mean3, grad3.tolist(), aux) == (mean2, grad2.tolist(), None)
    with pytest.raises(ValueError, match="pdata must be a float64 array of 337"):
        step.run_arrays(X, Y, pdata[:5])


def test_accumulate_adds_into_grad_like_backward():
    model = MLP(2, [4, 1], seed=1)
    params = model.parameters()

    def per_example(x, y):
        return (model(x) - y) ** 2

    X, Y = [[0.5, -1.0], [2.0, 0.25]], [1.0, -1.0]
    step = compile_batched(per_example, params, (X[0], Y[0]))
    loss, grads = step(X, Y)
    assert all(p.grad == 0.0 for p in params)
    for p in params:
        p.grad = 1.0
    assert step.accumulate(np.array(X), np.array(Y)) == loss
    assert [p.grad for p in params] == [1.0 + g for g in grads]


def test_a_branch_on_data_is_refused_naming_the_line():
    w = Value(0.5)

    def per_example(x, y):
        h = w * x[0]
        if h > 0:  # the refused line
            return h * y
        return -h * y

    with pytest.raises(TracingError, match=r"test_batched\.py:\d+") as info:
        compile_batched(per_example, [w], ([1.0], 1.0))
    assert "compared Values" in str(info.value)

    def with_max(x, y):
        return max(x[0] * w, x[1]) * y

    with pytest.raises(TracingError, match="compared Values"):
        compile_batched(with_max, [w], ([1.0, 2.0], 1.0))


def test_a_primitive_whose_rule_branches_is_refused_at_compile_time():
    @primitive("clip_if")
    def clip_if(m, x):
        if x > 1:  # fine on floats, ambiguous on arrays
            return 1.0, 0.0
        return x, 1.0

    w = Value(2.0)
    with pytest.raises(TracingError, match=r"primitive 'clip_if' branches .* numpy"):
        compile_batched(lambda x, y: clip_if(w * x[0]) * y, [w], ([1.0], 1.0))


def test_captured_leaf_not_in_params_is_refused():
    w, hidden = Value(1.0), Value(2.0)
    with pytest.raises(TracingError, match="not in params"):
        compile_batched(lambda x, y: w * x[0] + hidden * y, [w], ([1.0], 1.0))


def test_bad_batches_get_clear_errors():
    w = Value(1.0)
    step = compile_batched(lambda x, y: (w * x[0] + x[1] - y) ** 2, [w], ([1.0, 2.0], 0.0))
    with pytest.raises(ValueError, match=r"rows must have 2 numbers"):
        step([[1.0, 2.0, 3.0]], [1.0])
    with pytest.raises(ValueError, match=r"shape \[B, n\]"):
        step([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one row per example"):
        step([[1.0, 2.0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least one example"):
        step(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="equal length"):
        step([[1.0, 2.0], [1.0]], [1.0, 2.0])
    with pytest.raises(TypeError, match="real numbers"):
        step([["a", "b"]], [1.0])
    with pytest.raises(TypeError, match="real numbers"):
        step([[Value(1.0), 2.0]], [1.0])
    with pytest.raises(TypeError, match="one \\(x, y\\) pair"):
        compile_batched(lambda x, y: x[0], [w], [1.0])
    with pytest.raises(TypeError, match="must be a Value"):
        compile_batched(lambda x, y: x[0] * w, [1.0], ([1.0], 1.0))


def test_ieee_results_follow_the_engine_conventions_without_warnings():
    w = Value(1.0)
    step = compile_batched(lambda x, y: (w * x[0]).exp() * y, [w], ([1.0], 1.0))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, (g,) = step([[1000.0], [1.0]], [1.0, 1.0])
    assert loss == math.inf and g == math.inf


def test_import_autograd_core_does_not_import_numpy():
    code = "import sys, autograd_core, nn; print('numpy' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# ---------------------------------------------------------------------------
# nn.train(batched=True)


@pytest.mark.parametrize(
    "loss, layers, signed, out_act",
    [
        ("hinge", [8, 1], True, "linear"),
        ("mse", [6, 1], False, "linear"),
        ("sse", [6, 1], False, "linear"),
        ("bce", [6, 1], False, "sigmoid"),
        ("bce-logits", [6, 1], False, "linear"),
        ("softmax-ce", [6, 2], False, "linear"),
    ],
)
def test_train_batched_gives_the_engines_losses_with_mini_batches(loss, layers, signed, out_act):
    X, y = moons(30, seed=3, signed=signed)
    runs = []
    for batched in (False, True):
        model = MLP(2, layers, output_activation=out_act, seed=5)
        history = train(
            model, X, y, loss=loss, steps=12, lr=0.1, l2=1e-3, batch_size=7, batched=batched
        )
        runs.append((history, [p.data for p in model.parameters()]))
    (engine, w_engine), (batched, w_batched) = runs
    for a, b in zip(engine.loss, batched.loss):
        assert math.isclose(a, b, rel_tol=1e-12)
    assert engine.accuracy == batched.accuracy
    assert math.isclose(engine.final_loss, batched.final_loss, rel_tol=1e-12)
    for a, b in zip(w_engine, w_batched):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_train_batched_refuses_compiled_too_and_bad_targets():
    X, y = moons(10, signed=True)
    with pytest.raises(ValueError, match="not both"):
        train(MLP(2, [1], seed=0), X, y, steps=1, compiled=True, batched=True)
    with pytest.raises(ValueError, match="hinge targets must be -1 or \\+1"):
        train(MLP(2, [1], seed=0), X, [2] * 10, steps=1, batched=True)


# ---------------------------------------------------------------------------
# The digits data set and the held-out split.


def test_digits_are_sklearns_images_scaled_to_0_1():
    X, y = digits()
    assert len(X) == len(y) == 1797
    assert all(len(row) == 64 for row in X)
    assert min(min(r) for r in X) == 0.0 and max(max(r) for r in X) == 1.0
    assert sorted(set(y)) == list(range(10))


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    import nn.data

    nn.data._digits_read.cache_clear()  # read once per process: not yet, in this process
    with pytest.raises(ImportError, match=r"pip install 'autograd-core\[digits\]'"):
        digits()


def test_train_test_split_is_seeded_disjoint_and_complete():
    X = [[float(i)] for i in range(50)]
    y = list(range(50))
    Xtr, ytr, Xte, yte = train_test_split(X, y, 0.2, seed=7)
    assert len(Xte) == 10 and len(Xtr) == 40
    assert sorted(ytr + yte) == y and [r[0] for r in Xte] == [float(t) for t in yte]
    assert train_test_split(X, y, 0.2, seed=7) == (Xtr, ytr, Xte, yte)
    assert train_test_split(X, y, 0.2, seed=8)[3] != yte
    for bad in (0, 1, -0.1, 1.5, True):
        with pytest.raises(ValueError, match="test_fraction"):
            train_test_split(X, y, bad)
    with pytest.raises(ValueError, match="both need at least one"):
        train_test_split(X[:2], y[:2], 0.1)


def test_digits_subset_trains_batched_and_reports_test_accuracy():
    X, y = digits()
    X, y = X[:400], y[:400]
    Xtr, ytr, Xte, yte = train_test_split(X, y, 0.25, seed=0)
    model = MLP(64, [16, 10], seed=0)
    history = train(
        model,
        Xtr,
        ytr,
        loss="softmax-ce",
        steps=60,
        lr=0.5,
        batch_size=50,
        batched=True,
        test=(Xte, yte),
        seed=0,
    )
    assert len(history.test_accuracy) == history.steps == 60
    assert history.final_accuracy > 0.9
    assert history.final_test_accuracy > 0.8
    # the batched final numbers are the engine's
    from nn.train import evaluate

    loss, acc = evaluate(model, Xte, yte, "softmax-ce")
    assert acc == history.final_test_accuracy
    assert math.isclose(loss, history.final_test_loss, rel_tol=1e-12)


def test_cli_digits_batched_reports_test_accuracy(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["train", "--data", "digits", "--batched", "--steps", "3", "--batch-size", "100"]
    result = subprocess.run(
        [sys.executable, "-m", "nn", *args, "--out", "o", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "digits (1438 points, 359 held out for testing)" in result.stdout
    assert "MLP(64, [32, 10], 'relu')" in result.stdout
    assert "loss softmax-ce" in result.stdout
    assert "test accuracy" in result.stdout
    assert (tmp_path / "o" / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_cli_refuses_two_class_losses_for_digits(tmp_path, capsys):
    from nn.__main__ import main

    assert main(["train", "--data", "digits", "--loss", "hinge", "--out", str(tmp_path)]) == 2
    assert "10 classes" in capsys.readouterr().err


def test_reading_data_while_traced_warns_that_it_is_frozen():
    from autograd_core import TracingWarning

    w = Value(1.0)

    def per_example(x, y):
        scale = 2.0 if x[0].data > 0 else 1.0  # frozen from the traced example
        return w * x[0] * scale - y

    with pytest.warns(TracingWarning, match="frozen"):
        compile_batched(per_example, [w], ([1.0], 0.0))


def test_cli_batched_gives_the_engines_losses(tmp_path, capsys):
    from nn.__main__ import main

    lines = []
    for extra in ([], ["--batched"]):
        args = ["train", "--steps", "8", "--n", "40", "--batch-size", "16", "--no-progress"]
        assert main([*args, "--out", str(tmp_path / str(len(extra))), *extra]) == 0
        out = capsys.readouterr().out
        lines.append(next(line for line in out.splitlines() if line.startswith("final loss")))
    engine, batched = (float(line.split()[2]) for line in lines)
    assert math.isclose(engine, batched, rel_tol=1e-12)
    assert lines[0].split("accuracy")[1].split()[0] == lines[1].split("accuracy")[1].split()[0]


def test_terms_of_the_parameters_only_inside_the_per_example_loss():
    model = MLP(2, [3, 1], seed=4)
    params = model.parameters()

    def per_example(x, y):  # an L2 term in every example's loss, and a weight used twice
        return (model(x) - y) ** 2 + 1e-3 * sum(p * p for p in params) + params[0] * x[1]

    X, Y = [[0.5, -1.0], [2.0, 0.25], [-0.3, 0.9]], [1.0, -1.0, 0.5]
    step = compile_batched(per_example, params, (X[0], Y[0]))
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))
    only_params = compile_batched(lambda x, y: params[0] * params[1], params, (X[0], Y[0]))
    assert_agree(only_params(X, Y), engine_mean(lambda x, y: params[0] * params[1], params, X, Y))


def test_per_example_assigning_into_x_gets_the_engines_numbers():
    # Issue 19: x[0] = ... inside per_example replaced the traced input leaf.
    w = Value(1.5, "w")

    def per_example(x, y):
        x[0] = (x[0] - 1) * 2
        return (w * x[0] + x[1] - y) ** 2

    X, Y = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], [1.0, 0.0, 2.0]
    step = compile_batched(per_example, [w], (X[0], Y[0]))
    assert_agree(step(X, Y), engine_mean(per_example, [w], X, Y))


def test_a_param_listed_twice_is_refused():
    w = Value(1.0)
    with pytest.raises(
        ValueError, match=r"same Value more than once \(params\[1\] is params\[0\]\)"
    ):
        compile_batched(lambda x, y: (w * x[0] - y) ** 2, [w, w], ([1.0], 1.0))


@pytest.mark.parametrize(
    "bad, col, entry",
    [
        ("2", 0, "str"),
        (b"2", 0, "bytes"),
        (None, 0, "NoneType"),
        (1 + 2j, 1, "complex"),
        (Value(2.0), 1, "Value"),
    ],
)
def test_inputs_that_are_not_real_numbers_name_the_entry(bad, col, entry):
    # Issue 19: strings were parsed, complex numbers truncated, None crashed in NumPy.
    w = Value(1.0)
    step = compile_batched(lambda x, y: (w * x[0] + x[1] - y) ** 2, [w], ([1.0, 2.0], 1.0))
    row = [bad, 1.0] if col == 0 else [1.0, bad]
    with pytest.raises(TypeError, match=rf"X must hold real numbers: \[0, {col}\] is \w*{entry}"):
        step([row], [1.0])
    with pytest.raises(TypeError, match=rf"param_data must hold real numbers: \[0\] is \w*{entry}"):
        step.run([[1.0, 2.0]], [1.0], param_data=[bad])


def test_arrays_of_dates_masked_arrays_and_matrices_are_refused():
    w = Value(1.0)
    step = compile_batched(lambda x, y: (w * x[0] + x[1] - y) ** 2, [w], ([1.0, 2.0], 1.0))
    dates = np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]")
    with pytest.raises(TypeError, match=r"X must hold real numbers: \[0, 0\] is datetime64"):
        step(dates, [1.0])
    masked = np.ma.masked_array([[1.0, 2.0]], mask=[[0, 1]])
    with pytest.raises(TypeError, match="MaskedArray; pass np.asarray"):
        step(masked, [1.0])
    with pytest.raises(TypeError, match="numpy.matrix"), warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix itself warns
        step(np.matrix([[1.0, 2.0]]), [1.0])
    with pytest.raises(TypeError, match="MaskedArray"):
        step.run_arrays(np.array([[1.0, 2.0]]), np.array([1.0]), np.ma.masked_array([1.0]))
    with pytest.raises(TypeError, match=r"Y must hold real numbers: \[0\] is str"):
        step([[1.0, 2.0]], ["1"])


def test_an_op_over_a_layer_and_a_per_example_scalar_agrees_with_the_engine():
    # z - peak for every logit: a map over a matrix [B, n] and a column [B, 1]
    model = MLP(2, [5, 3], seed=6)
    params = model.parameters()

    def per_example(x, y):
        zs = model(x)
        peak = (zs[0] * x[1]).tanh() + y
        return sum((z - peak).exp() for z in zs).log() + peak * peak

    X, Y = [[0.5, -1.0], [2.0, 0.25], [-0.3, 0.8]], [1.0, -1.0, 0.5]
    step = compile_batched(per_example, params, (X[0], Y[0]))
    assert "map[sub]" in str(step.program) and "map[exp]" in str(step.program)
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))


def test_a_loss_that_is_a_param_or_made_of_params_only():
    # Everything hoisted to once per batch: the mean of a constant is the constant.
    w, u = Value(2.0), Value(3.0)
    X, Y = [[1.0], [2.0]], [0.0, 1.0]
    for per_example in (lambda x, y: w, lambda x, y: w * u + 1.0):
        step = compile_batched(per_example, [w, u], (X[0], Y[0]))
        assert_agree(step(X, Y), engine_mean(per_example, [w, u], X, Y))


@st.composite
def scalar_models(draw):
    """Micrograd-style code, one scalar at a time, in any of the ways people write a sum."""
    nin = draw(st.integers(1, 4))
    sizes = [nin, *draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))]
    style = draw(st.sampled_from(["sum with start", "sum then bias", "loop", "tree"]))
    act = draw(st.sampled_from(["relu", "tanh", "sigmoid"]))
    l2_inside = draw(st.booleans())
    rng = draw(st.randoms(use_true_random=False))
    layers = [
        [
            ([Value(rng.uniform(-1, 1)) for _ in range(a)], Value(rng.uniform(-0.5, 0.5)))
            for _ in range(b)
        ]
        for a, b in zip(sizes, sizes[1:])
    ]
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]

    def neuron(ws, b, xs):
        terms = [w * x for w, x in zip(ws, xs)]
        if style == "sum with start":
            return sum(terms, b)
        if style == "sum then bias":
            return sum(terms) + b
        if style == "loop":
            acc = b
            for t in terms:
                acc = t + acc
            return acc
        while len(terms) > 1:  # a balanced tree
            terms = [
                terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                for i in range(0, len(terms), 2)
            ]
        return terms[0] + b

    def per_example(x, y):
        for k, layer in enumerate(layers):
            x = [neuron(ws, b, x) for ws, b in layer]
            if k < len(layers) - 1:
                x = [getattr(v, act)() for v in x]
        loss = sum((v - y) ** 2 for v in x)
        return loss + 1e-3 * sum(p * p for p in params) if l2_inside else loss

    b = draw(st.integers(1, 6))
    X = [[draw(finite) for _ in range(nin)] for _ in range(b)]
    Y = [draw(finite) for _ in range(b)]
    return per_example, params, X, Y


@given(scalar_models())
def test_batched_micrograd_style_code_agrees_with_the_engine(problem):
    per_example, params, X, Y = problem
    step = compile_batched(per_example, params, (X[0], Y[0]))
    # every neuron went into a dense layer, except a lone w * x + b
    assert all(len(e.operands) == 3 for e in step.program.eqns if e.prim == "linear")
    assert_agree(step(X, Y), engine_mean(per_example, params, X, Y))


def test_threads_sharing_one_step_get_their_own_results():
    # What a forward keeps for its backward belongs to the run, never to the step: four
    # threads replaying one step on their own batches get exactly the results of one thread.
    import threading

    X, y = moons(120, noise=0.1, seed=0, signed=True)
    model = MLP(2, [8, 8, 1], seed=0)
    params = model.parameters()
    step = compile_batched(lambda x, t: (1 - t * model(x)).relu(), params, (X[0], y[0]))
    Xa, Ya = np.array(X), np.array(y, dtype=np.float64)
    pdata = np.array([p.data for p in params])
    batches = [(Xa[i::4].copy(), Ya[i::4].copy()) for i in range(4)]
    want = [step.run_arrays(Xb, Yb, pdata) for Xb, Yb in batches]
    wrong: list[int] = []

    def replay(i: int) -> None:
        for _ in range(60):
            loss, grad = step.run_arrays(*batches[i], pdata)
            if loss != want[i][0] or not np.array_equal(grad, want[i][1]):
                wrong.append(i)

    threads = [threading.Thread(target=replay, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
