"""Batched replay of the optimized Program against hand-written NumPy, and trace + optimize times.

Each case is one per-example loss over a 2-input MLP, replayed with
`BatchedStep.run_arrays(X, Y, pdata)` (forward and backward, parameters as
one array), against the same network's forward and backward written by hand
with NumPy matrix products. Both start from the same weights; their mean
losses are checked equal to 1e-12 before timing. Timed in interleaved rounds
in one process, BLAS on one thread; the figure is the median per step and
the ratio batched / NumPy (the issue 18 targets are in brackets), and the
same for the fastest round (on a loaded machine the minimum is the steadier).

    OPENBLAS_NUM_THREADS=1 python bench/bench_program.py
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from micrograd_style import MLP as ScalarMLP  # noqa: E402

from autograd_core import compile_batched, make_program, optimize  # noqa: E402
from nn.data import moons  # noqa: E402
from nn.layers import MLP  # noqa: E402

ALPHA = 1e-4


def weights(model):
    """[(W [out, in], b [out])] per layer, read from the neurons."""
    return [
        (
            np.array([[w.data for w in n.w] for n in layer.neurons]),
            np.array([n.b.data for n in layer.neurons]),
        )
        for layer in model.layers
    ]


def hand_numpy(layers, act, loss, X, Y):
    """Forward and backward of the mean loss (+ ALPHA * sum of squares) by hand."""
    B = X.shape[0]
    hs, zs = [X], []
    for k, (W, b) in enumerate(layers):
        z = hs[-1] @ W.T + b
        zs.append(z)
        if k < len(layers) - 1:
            hs.append(np.maximum(z, 0.0) if act == "relu" else np.tanh(z))
    z = zs[-1]
    reg = ALPHA * sum(float(np.dot(W.ravel(), W.ravel()) + np.dot(b, b)) for W, b in layers)
    if loss == "hinge":
        t = 1.0 - Y * z[:, 0]
        mean = float(np.maximum(t, 0.0).sum()) / B + reg
        dz = (-(Y * (t > 0)) / B)[:, None]
    else:  # softmax cross-entropy, Y one-hot
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        mean = float(-(np.log((p * Y).sum(axis=1))).sum()) / B + reg
        dz = (p - Y) / B
    grads = []
    for k in range(len(layers) - 1, -1, -1):
        W, b = layers[k]
        grads.append((dz.T @ hs[k] + 2 * ALPHA * W, dz.sum(axis=0) + 2 * ALPHA * b))
        if k:
            dh = dz @ W
            dz = dh * (zs[k - 1] > 0) if act == "relu" else dh * (1 - hs[k] ** 2)
    return mean, grads


def case(name, model, act, loss, n, targets):
    params = model.parameters()
    out_fn = (lambda o: o) if loss == "hinge" else (lambda o: o)

    def per_example(x, y):
        out = out_fn(model(x))
        if loss == "hinge":
            data = (1 + -y * out).relu()
        else:
            zs = out if isinstance(out, list) else [out]
            data = sum(z.exp() for z in zs).log() - sum(t * z for t, z in zip(y, zs))
        return data + ALPHA * sum(p * p for p in params)

    X, y = moons(n, noise=0.1, seed=0, signed=True)
    X = np.asarray(X, dtype=float)
    Y = np.asarray(y, dtype=float) if loss == "hinge" else np.eye(targets)[(np.asarray(y) > 0) * 1]
    example = (X[0].tolist(), float(Y[0]) if loss == "hinge" else Y[0].tolist())
    step = compile_batched(per_example, params, example)
    pdata = np.array([p.data for p in params])
    layers = weights(model)
    mb, _ = step.run_arrays(X, Y, pdata)
    mh, _ = hand_numpy(layers, act, loss, X, Y)
    assert abs(mb - mh) <= 1e-12 * abs(mh), (mb, mh)
    times = {"batched": [], "numpy": []}
    reps = max(3, 3000 // n)
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(reps):
            step.run_arrays(X, Y, pdata)
        times["batched"].append((time.perf_counter() - t) / reps)
        t = time.perf_counter()
        for _ in range(reps):
            hand_numpy(layers, act, loss, X, Y)
        times["numpy"].append((time.perf_counter() - t) / reps)
    b, h = statistics.median(times["batched"]), statistics.median(times["numpy"])
    bm, hm = min(times["batched"]), min(times["numpy"])
    print(
        f"{name:<60} {n:>5} {b * 1e6:7.0f} us {h * 1e6:7.0f} us {b / h:5.2f}x"
        f" | {bm * 1e6:6.0f} us {hm * 1e6:6.0f} us {bm / hm:5.2f}x"
    )


def trace_and_optimize(model, nin):
    params = model.parameters()

    def f(*xs):
        out = model(list(xs))
        zs = out if isinstance(out, list) else [out]
        return sum(z.exp() for z in zs).log() - zs[0] + ALPHA * sum(p * p for p in params)

    best = []
    for _ in range(3):
        t0 = time.perf_counter()
        program = make_program(f, [0.1] * nin, params)
        t1 = time.perf_counter()
        optimized = optimize(program)
        t2 = time.perf_counter()
        best.append((t2 - t0, t1 - t0, t2 - t1))
    total, tr, op = min(best)
    print(
        f"{program.count():>7} equations -> {optimized.count():>3}: trace {tr * 1e3:7.1f} ms, "
        f"optimize {op * 1e3:7.1f} ms, total {total * 1e3:7.1f} ms"
    )


def main() -> None:
    print(f"numpy {np.__version__}, BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    print(
        f"{'per-example code [target]':<60} {'n':>5} {'batched':>10} {'NumPy':>10} ratio"
        "   (medians | minimums of 15 rounds)"
    )
    for n in (100, 1000):
        case(
            "micrograd-style 2-16-16-1 hinge, L2 inside [4x/2x]",
            ScalarMLP(2, [16, 16, 1]),
            "relu",
            "hinge",
            n,
            1,
        )
    for n in (100, 1000):
        case(
            "nn.MLP 2-16-16-1 hinge, L2 inside [3x/1.5x]",
            MLP(2, [16, 16, 1]),
            "relu",
            "hinge",
            n,
            1,
        )
    case("nn.MLP 2-256-256-1 hinge, L2 inside [3x]", MLP(2, [256, 256, 1]), "relu", "hinge", 100, 1)
    for n in (100, 1000):
        case(
            "micrograd-style tanh 2-16-16-3, softmax CE (exp/log) [3x]",
            ScalarMLP(2, [16, 16, 3], act="tanh"),
            "tanh",
            "ce",
            n,
            3,
        )
    print("trace + optimize [< 50 ms for ~1,000 nodes, < 5 s for 100k]:")
    trace_and_optimize(ScalarMLP(2, [16, 16, 1]), 2)
    trace_and_optimize(ScalarMLP(64, [128, 128, 10]), 64)
    trace_and_optimize(ScalarMLP(64, [256, 128, 10]), 64)


if __name__ == "__main__":
    main()
