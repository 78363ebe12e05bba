"""The demo training step at 100 and 1,000 points: engine, compiled, batched, floats, NumPy.

The step is micrograd's demo step (see bench_compiled.py): MLP(2, [16, 16, 1])
on two-moons points, hinge loss mean(relu(1 - y*score)) + 1e-4 * sum(p*p),
forward, backward and an SGD update. Contenders, all from the same weights:

- engine: `nn.train()`; compiled: `nn.train(compiled=True)` (the scalar
  replay, `compile_loss`, which traces the whole batch); batched:
  `nn.train(batched=True)` (`compile_batched`: one example traced, replayed
  over the batch with NumPy);
- hand-written floats (bench_compiled.Floats) and a hand-written NumPy
  forward/backward of the same MLP with matrix products.

Their losses are checked equal (to 1e-12 relative) over the first steps
before anything is timed. Steps are timed in interleaved rounds, median ms
per step; tracing is reported separately. BLAS is limited to one thread
(OPENBLAS_NUM_THREADS etc., unless set): on a small shared machine a second
thread costs more than it gives at these sizes, for batched and NumPy alike.

    python bench/bench_batched.py
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_compiled import ALPHA, SIZES, NNTrain, Stepper, initial_weights, lr_at  # noqa: E402
from bench_compiled import Floats as _Floats  # noqa: E402

from autograd_core import compile_batched  # noqa: E402
from nn.batched import per_example_loss  # noqa: E402
from nn.data import moons  # noqa: E402
from nn.layers import MLP  # noqa: E402


class _Train(NNTrain):
    pass


class Engine(_Train):
    name = "engine (nn.train)"


class Compiled(_Train):
    name = "scalar compiled replay (compiled=True)"
    compiled = True


class Batched(_Train):
    name = "batched replay (batched=True)"
    mode = {"batched": True}


class Floats(_Floats):
    name = "hand-written floats"


class NumPy(Stepper):
    """The same MLP by hand with NumPy: matrix forward, hand-derived matrix backward."""

    name = "hand-written NumPy"

    def __init__(self, weights, X, y):
        super().__init__(weights, X, y)
        self.W = [np.array([w for w, _ in layer]) for layer in weights]  # [out, in]
        self.B = [np.array([b for _, b in layer]) for layer in weights]
        self.X = np.array(X, dtype=np.float64)
        self.y = np.array(y, dtype=np.float64)

    def step(self, k: int) -> float:
        W, B, X, y = self.W, self.B, self.X, self.y
        n = X.shape[0]
        acts, pres = [], []
        h = X
        last = len(W) - 1
        for i, (w, b) in enumerate(zip(W, B)):
            acts.append(h)
            z = h @ w.T + b
            pres.append(z)
            h = np.maximum(z, 0.0) if i < last else z
        margin = 1.0 - y * h[:, 0]
        data_loss = np.where(margin > 0, margin, 0.0).sum() / n
        reg = sum(float((w * w).sum() + (b * b).sum()) for w, b in zip(W, B))
        total = data_loss + ALPHA * reg
        dz = np.where(margin > 0, -y / n, 0.0)[:, None]
        lr = lr_at(k)
        for i in range(last, -1, -1):
            if i < last:
                dz = dz * (pres[i] > 0)
            gw = dz.T @ acts[i]
            gb = dz.sum(axis=0)
            if i:
                da = dz @ W[i]
            W[i] -= lr * (gw + 2 * ALPHA * W[i])
            B[i] -= lr * (gb + 2 * ALPHA * B[i])
            if i:
                dz = da
        return float(total)


def trace_ms(repeats: int = 7) -> float:
    """Median time of compile_batched on the demo model and loss (one example)."""
    X, y = moons(100, noise=0.1, seed=1, signed=True)
    model = MLP(SIZES[0], list(SIZES[1:]))
    hinge = per_example_loss("hinge")
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        compile_batched(lambda x, t: hinge(model(x), t), model.parameters(), (X[0], y[0]))
        out.append(time.perf_counter() - start)
    return 1000 * statistics.median(out)


def bench(n: int, rounds: int, steps: int, check: int, slow_kinds: tuple) -> dict[str, float]:
    X, y = moons(n, noise=0.1, seed=1, signed=True)
    weights = initial_weights()
    kinds = [Engine, Compiled, Batched, Floats, NumPy]
    losses = {kind.name: kind(weights, X, y).losses(check) for kind in kinds}
    reference = losses[Engine.name]
    for name, got in losses.items():
        for k, (a, b) in enumerate(zip(got, reference)):
            if not math.isclose(a, b, rel_tol=1e-12):
                sys.exit(f"{n} points: loss mismatch at step {k}: {name} {a!r} vs engine {b!r}")
    runners = [kind(weights, X, y) for kind in kinds]
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name].extend(r.times(1 if isinstance(r, slow_kinds) else steps))
    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    compiled = next(r for r in runners if isinstance(r, Compiled))
    batched = next(r for r in runners if isinstance(r, Batched))
    ms["compiled first step"] = 1000 * compiled.first_step
    ms["batched first step"] = 1000 * batched.first_step
    return ms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--steps", type=int, default=10, help="steps per round, fast ones")
    parser.add_argument("--check-steps", type=int, default=3, help="steps compared for equality")
    parser.add_argument("--sizes", default="100,1000", help="numbers of points (default 100,1000)")
    args = parser.parse_args(argv)

    traced = trace_ms()
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()}; "
        f"BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}; median ms per step over "
        f"{args.rounds} interleaved rounds; losses of the first {args.check_steps} steps equal "
        "to 1e-12 in all five."
    )
    print(f"compile_batched trace of the demo model: {traced:.1f} ms (target < 50 ms)")
    print()
    print("| points | implementation | ms per step | vs batched |")
    print("|---:|---|---:|---:|")
    results = {}
    for n in (int(s) for s in args.sizes.split(",")):
        ms = bench(n, args.rounds, args.steps, args.check_steps, (Engine, Floats))
        results[n] = ms
        for kind in (Engine, Compiled, Batched, Floats, NumPy):
            t = ms[kind.name]
            print(f"| {n} | {kind.name} | {t:.3f} | {t / ms[Batched.name]:.2f}x |")
        print(
            f"| {n} | (first step with the trace: compiled {ms['compiled first step']:.0f} ms, "
            f"batched {ms['batched first step']:.1f} ms) | | |"
        )
    print()
    for n, ms in results.items():
        b = ms[Batched.name]
        print(
            f"{n} points: batched is {ms[Compiled.name] / b:.1f}x faster than the scalar "
            f"compiled replay, {ms[Engine.name] / b:.0f}x faster than the engine, and "
            f"{b / ms[NumPy.name]:.1f}x the time of hand-written NumPy"
        )
    print("targets: >= 4x the scalar replay at 100 points; within 4x of NumPy at 1,000 points")
    print()
    print("Reproduce: python bench/bench_batched.py")


if __name__ == "__main__":
    main()
