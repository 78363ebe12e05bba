"""train(batched=True) with the parameters in arrays: the same training, the Values written back.

While it trains, the batched trainer keeps the parameters and SGD's momentum
buffer in NumPy arrays; the Values are written back at the end, before each
callback, and every `sync_every` steps. These tests hold it to the update
through the Values (bit for bit), to the engine (within the documented
tolerance), and check when the Values are current. Also the BLAS thread
limit, in subprocesses so that NumPy loads afresh.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from nn.data import moons, sleep_study, xor  # noqa: E402
from nn.layers import MLP  # noqa: E402
from nn.optim import SGD  # noqa: E402
from nn.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class ValuesSGD(SGD):
    """nn's SGD under another class: the batched trainer updates through the Values for it."""


def run(optimizer_class=SGD, *, engine=False, steps=12, **kw):
    """Train a small MLP on moons with momentum, weight decay and a schedule; its parameters."""
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    model = MLP(2, [6, 6, 1], seed=2)
    opt = optimizer_class(
        model.parameters(), lr=lambda k: 0.3 / (1 + k), momentum=0.9, weight_decay=1e-3
    )
    kw.setdefault("batch_size", 16)
    history = train(
        model, X, y, steps=steps, optimizer=opt, l2=1e-3, batched=not engine, progress=False, **kw
    )
    return model, opt, history


def test_arrays_give_the_values_update_bit_for_bit():
    model_a, opt_a, hist_a = run(SGD)  # parameters and momentum in arrays
    model_v, opt_v, hist_v = run(ValuesSGD)  # the same step, SGD.step through the Values
    assert [p.data for p in model_a.parameters()] == [p.data for p in model_v.parameters()]
    assert [p.grad for p in model_a.parameters()] == [p.grad for p in model_v.parameters()]
    assert opt_a.steps == opt_v.steps == 12
    assert opt_a._buffers == opt_v._buffers and opt_a._buffers is not None
    assert hist_a.loss == hist_v.loss and hist_a.final_loss == hist_v.final_loss


def test_arrays_equal_the_engine_within_the_documented_tolerance():
    # train()'s docstring: losses and gradients to 1e-12; parameters after steps drift
    # by the reassociated sums only (NumPy adds pairwise, the engine in order)
    model_a, opt_a, hist_a = run(SGD)
    model_e, opt_e, hist_e = run(SGD, engine=True)
    for a, e in zip(hist_a.loss, hist_e.loss):
        assert math.isclose(a, e, rel_tol=1e-12)
    for pa, pe in zip(model_a.parameters(), model_e.parameters()):
        assert math.isclose(pa.data, pe.data, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(pa.grad, pe.grad, rel_tol=1e-9, abs_tol=1e-12)
    assert opt_a.steps == opt_e.steps
    for a, e in zip(opt_a._buffers, opt_e._buffers):
        assert math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)


def test_sgd_state_carries_over_between_two_trainings():
    # one optimizer, 6 full-batch steps twice == 12 at once: the momentum buffer and the
    # schedule's step count went back into the optimizer and were read again
    once_model, once_opt, _ = run(SGD, batch_size=None)
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    model = MLP(2, [6, 6, 1], seed=2)
    opt = SGD(model.parameters(), lr=lambda k: 0.3 / (1 + k), momentum=0.9, weight_decay=1e-3)
    for _ in range(2):
        train(model, X, y, steps=6, optimizer=opt, l2=1e-3, batched=True, progress=False)
    assert opt.steps == 12
    assert [p.data for p in model.parameters()] == [p.data for p in once_model.parameters()]
    assert opt._buffers == once_opt._buffers


def test_values_are_current_in_every_callback_by_default():
    seen: list[list[float]] = []
    model = None

    def callback(k, history):
        seen.append([p.data for p in model.parameters()])

    X, y = moons(40, noise=0.1, seed=1, signed=True)
    for batched in (True, False):
        model = MLP(2, [6, 6, 1], seed=2)
        train(model, X, y, steps=5, lr=0.2, batched=batched, callback=callback, progress=False)
    by_batched, by_engine = seen[:5], seen[5:]
    assert by_batched[0] != by_batched[1]  # the parameters moved, and the callback saw it
    for a, e in zip(by_batched, by_engine):
        for pa, pe in zip(a, e):
            assert math.isclose(pa, pe, rel_tol=1e-9, abs_tol=1e-12)


def test_what_a_callback_writes_into_the_values_is_trained_on():
    # as without batched: a callback that clips the weights changes the next step
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    finals = []
    for batched in (True, False):
        model = MLP(2, [6, 6, 1], seed=2)

        def clip(k, history, model=model):
            for p in model.parameters():
                p.data = max(-0.2, min(0.2, p.data))

        train(model, X, y, steps=4, lr=0.5, batched=batched, callback=clip, progress=False)
        finals.append([p.data for p in model.parameters()])
    unclipped = MLP(2, [6, 6, 1], seed=2)
    train(unclipped, X, y, steps=4, lr=0.5, batched=True, progress=False)
    assert max(abs(v) for v in finals[0]) <= 0.2 < max(abs(p.data) for p in unclipped.parameters())
    for a, e in zip(*finals):
        assert math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)


def test_sync_every_writes_back_every_n_steps_only():
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    records: dict[str, list[list[float]]] = {}
    for name, every in (("each", None), ("every 3", 3)):
        model = MLP(2, [6, 6, 1], seed=2)
        start = [p.data for p in model.parameters()]
        records[name] = seen = []

        def callback(k, history, model=model, seen=seen):
            seen.append([p.data for p in model.parameters()])

        train(
            model, X, y, steps=7, lr=0.2, batched=True, callback=callback, sync_every=every,
            progress=False,
        )  # fmt: skip
        records[name + " end"] = [[p.data for p in model.parameters()]]
    each, every3 = records["each"], records["every 3"]
    # steps 0 and 1: not yet written back; step 2 (the third): the Values of 3 updates
    assert every3[0] == every3[1] == start
    assert every3[2] == every3[3] == every3[4] == each[2] != start
    assert every3[5] == every3[6] == each[5]
    # the end writes back whatever sync_every says
    assert records["every 3 end"] == records["each end"] == [each[6]]


def test_values_stay_untouched_between_write_backs():
    # the point of the arrays: no per-step pass over the Values, which keep their numbers
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    model = MLP(2, [6, 6, 1], seed=2)
    start = [p.data for p in model.parameters()]
    seen = []
    train(
        model, X, y, steps=6, lr=0.2, batched=True, sync_every=100, progress=False,
        callback=lambda k, h: seen.append([p.data for p in model.parameters()]),
    )  # fmt: skip
    assert seen == [start] * 6
    assert [p.data for p in model.parameters()] != start  # written back at the end


def test_a_nan_in_a_later_batch_leaves_the_last_updates_values():
    X, y = moons(40, noise=0.1, seed=1, signed=True)
    X[17] = [math.nan, 0.0]
    results = []
    for batched in (True, False):
        model = MLP(2, [6, 1], seed=2)
        seen: list[list[float]] = []

        def callback(k, history, model=model, seen=seen):
            seen.append([p.data for p in model.parameters()])

        with pytest.raises(FloatingPointError, match=r"at step (\d+).*X\[17\]") as info:
            train(
                model, X, y, steps=30, lr=0.1, batch_size=8, batched=batched, callback=callback,
                progress=False,
            )  # fmt: skip
        results.append((info.value, seen, [p.data for p in model.parameters()]))
    (err_b, seen_b, final_b), (err_e, _, final_e) = results
    assert str(err_b).split(" at step ")[1][:3] == str(err_e).split(" at step ")[1][:3]
    assert len(seen_b) >= 1  # a later batch, not the first step
    assert final_b == seen_b[-1]  # the parameters after the last good update, written back
    for a, e in zip(final_b, final_e):
        assert math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    "data, loss, layers, out_act",
    [
        ("sleep", "sse", [3, 1], "sigmoid"),  # regression: no accuracy
        ("xor", "mse", [4, 1], "sigmoid"),  # 0/1 targets: read at 0.5
        ("moons", "softmax-ce", [6, 2], None),  # the largest logit, held-out data too
        ("moons", "bce-logits", [6, 1], None),
    ],
)
def test_accuracy_from_the_output_array_equals_the_engines(data, loss, layers, out_act):
    if data == "sleep":
        X, y = sleep_study()
    elif data == "xor":
        X, y = xor()
    else:
        X, y = moons(40, noise=0.2, seed=4)
    split = len(X) * 3 // 4
    test = (X[split:], y[split:]) if data == "moons" else None
    X, y = (X[:split], y[:split]) if data == "moons" else (X, y)
    runs = []
    for batched in (False, True):
        model = MLP(len(X[0]), layers, output_activation=out_act, seed=3)
        batch = 5 if len(X) > 5 else None
        runs.append(
            train(
                model,
                X,
                y,
                loss=loss,
                steps=8,
                lr=0.3,
                batch_size=batch,
                batched=batched,
                test=test,
                progress=False,
            )  # fmt: skip
        )
    engine, batched = runs
    assert batched.accuracy == engine.accuracy
    assert batched.test_accuracy == engine.test_accuracy
    assert batched.final_accuracy == engine.final_accuracy
    assert batched.final_test_accuracy == engine.final_test_accuracy
    if loss == "sse":
        assert set(batched.accuracy) == {None}
    else:
        assert all(a is not None for a in batched.accuracy)


def test_bad_sync_every_and_blas_threads_are_refused():
    X, y = moons(10, seed=0, signed=True)
    with pytest.raises(ValueError, match="sync_every"):
        train(MLP(2, [1], seed=0), X, y, steps=1, batched=True, sync_every=0)
    with pytest.raises(TypeError, match="blas_threads"):
        train(MLP(2, [1], seed=0), X, y, steps=1, batched=True, blas_threads="2")


# ---------------------------------------------------------------------------
# BLAS threads, in fresh interpreters (NumPy reads the environment when it loads).

threadpoolctl = pytest.importorskip("threadpoolctl")

_INSIDE = """
import json, sys
import numpy  # loaded first, so that "before" finds its BLAS
from threadpoolctl import threadpool_info
from nn.data import moons
from nn.layers import MLP
from nn.train import train

def blas():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

seen = []
X, y = moons(20, seed=0, signed=True)
kw = json.loads(sys.argv[1])
before = blas()
train(MLP(2, [4, 1], seed=0), X, y, steps=2, batched=True, progress=False,
      callback=lambda k, h: seen.append(blas()), **kw)
print(json.dumps({"before": before, "inside": seen[0], "after": blas()}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _inside(**kw) -> dict:
    out = subprocess.run(  # NumPy loads with 2 BLAS threads; train() should run with 1
        [sys.executable, "-c", _INSIDE, json.dumps(kw)],
        env=_clean_env(OPENBLAS_NUM_THREADS="2"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_batched_training_runs_blas_on_one_thread_and_restores_it():
    seen = _inside()
    assert seen["before"] and 2 in seen["before"], "no 2-thread BLAS found by threadpoolctl"
    assert seen["inside"] == [1] * len(seen["before"])
    assert seen["after"] == seen["before"]


def test_blas_threads_none_leaves_blas_alone():
    seen = _inside(blas_threads=None)
    assert 2 in seen["before"] and seen["inside"] == seen["before"]


_CLI = """
import json, os, sys
from nn.__main__ import main
code = main(sys.argv[1:])
from threadpoolctl import threadpool_info
blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"code": code, "env": os.environ.get("OPENBLAS_NUM_THREADS"), "blas": blas}))
"""


@pytest.mark.parametrize("flag, threads", [([], "1"), (["--blas-threads", "2"], "2")])
def test_cli_sets_blas_threads_before_numpy_loads(tmp_path, flag, threads):
    args = ["train", "--data", "xor", "--steps", "2", "--batched", "--no-progress"]
    out = subprocess.run(
        [sys.executable, "-c", _CLI, *args, *flag, "--out", str(tmp_path)],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    assert seen["env"] == threads
    # NumPy loaded after main() set the environment: OpenBLAS took that many threads
    # (threadpoolctl's limit inside train() is lifted again when it returns)
    assert seen["blas"] and all(n <= int(threads) for n in seen["blas"])
    if threads == "1":
        assert seen["blas"] == [1] * len(seen["blas"])
