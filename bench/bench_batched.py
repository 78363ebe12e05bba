"""Issue 18's Targets, each as a ratio to a hand-written NumPy forward+backward of the same net.

Every row trains the same net from the same weights on the same data, and
every contender's losses are checked equal (to 1e-12 relative) over the
first steps before anything is timed. Then the contenders of a row take
turns, a few steps each, round after round, in this one process (a slow
spell of the shared machine hits all of them), garbage collected outside
the timed span; the median ms per step is reported, and its ratio to the
hand-written NumPy step (a matrix forward, a hand-derived matrix backward,
the SGD update; what nobody can beat by much from Python).

Rows (issue 18, "Targets"):

- micrograd-style 2-16-16-1 (`sum((wi * xi for ...), b)`, relu), hinge with
  the L2 term `1e-4 * sum(p * p)` inside `per_example`, at 100 and 1,000
  points: `compile_batched` + `run_arrays` + the SGD update on the array
  (what `nn.train(batched=True)` does with it). Target <= 4x at 100, <= 2x at 1,000.
- `nn.MLP` through `nn.train(batched=True)` (L2 outside, the whole train
  step: accuracy and history included), at 100 and 1,000. Target <= 3x, <= 1.5x.
- width 256, `nn.MLP(2, [256, 256, 1])` through `nn.train(batched=True)`,
  100 points. Target <= 3x. (`--long` adds the micrograd-style width-256 net.)
- a tanh net (2-16-16-3) with softmax cross-entropy written with `exp` and
  `log` (no max trick), micrograd-style, 1,000 points. Target <= 3x.
- trace + optimize of a ~1,000-node and a ~100k-node example graph:
  `make_program` + `optimize` when `autograd_core` has them, otherwise
  `compile_batched` (trace, plan and its dry run); the output says which.
  Target < 50 ms and < 5 s.

Extra rows, for context: the issue's "nn.MLP with L2 inside per_example", and
at width 256 the same nn.train step with the parameters updated through the
Values (an SGD subclass makes nn.train take that path, as every step did
before issue 18): what keeping them in arrays saves.

BLAS: one thread (OPENBLAS_NUM_THREADS etc. set before NumPy loads, unless
set already); the line above the table says what threadpoolctl found. On
some machines here OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) are set, which
pins an older, slower OpenBLAS kernel; to measure a current NumPy, unset
both in that command alone:

    python bench/bench_batched.py                 # under a minute
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_batched.py
    python bench/bench_batched.py --long          # more rounds, the micrograd-style width 256
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from bench_compiled import NNTrain as CompiledNNTrain  # noqa: E402  (one contender protocol)
from bench_compiled import Stepper, lr_at  # noqa: E402

from autograd_core import Value, compile_batched, make_program, optimize  # noqa: E402
from nn.data import moons  # noqa: E402
from nn.layers import MLP  # noqa: E402
from nn.optim import SGD  # noqa: E402
from nn.train import train  # noqa: E402

ALPHA = 1e-4  # the L2 weight of micrograd's demo


# ---------------------------------------------------------------------------
# Shared weights and data.

Weights = list[list[tuple[list[float], float]]]  # layers -> neurons -> (w, b)


def initial_weights(sizes: tuple[int, ...], seed: int = 1337, scaled: bool = False) -> Weights:
    """uniform(-1, 1) weights and zero biases as micrograd; `scaled` divides by sqrt(fan-in)."""
    rng = random.Random(seed)
    out = []
    for nin, nout in zip(sizes, sizes[1:]):
        s = 1 / math.sqrt(nin) if scaled else 1.0
        out.append([([s * rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)])
    return out


def blobs(n: int, classes: int = 3, seed: int = 2) -> tuple[list[list[float]], list[int]]:
    """n 2-D points in `classes` noisy blobs around the unit circle; labels 0..classes-1."""
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        c = i % classes
        t = 2 * math.pi * c / classes
        X.append([math.cos(t) + rng.gauss(0, 0.5), math.sin(t) + rng.gauss(0, 0.5)])
        y.append(c)
    return X, y


# ---------------------------------------------------------------------------
# micrograd-style code: what users write (sum of products, no fused linear).


class MNeuron:
    def __init__(self, w: list[float], b: float, act: str | None) -> None:
        self.w = [Value(v) for v in w]
        self.b = Value(b)
        self.act = act

    def __call__(self, x: list) -> Value:
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        if self.act == "relu":
            return z.relu()
        if self.act == "tanh":
            return z.tanh()
        return z

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class MMLP:
    """micrograd's MLP, layer by layer; `act` on the hidden layers, the last one linear."""

    def __init__(self, weights: Weights, act: str = "relu") -> None:
        last = len(weights) - 1
        self.layers = [
            [MNeuron(w, b, act if i < last else None) for w, b in layer]
            for i, layer in enumerate(weights)
        ]

    def __call__(self, x: list) -> list[Value]:
        for layer in self.layers:
            x = [n(x) for n in layer]
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def hinge_l2_inside(model, params):
    """micrograd's demo loss, one example: relu(1 - y*score) + 1e-4 * sum(p*p)."""

    def per_example(x, y):
        score = model(x)[0]
        return (1 + -y * score).relu() + ALPHA * sum(p * p for p in params)

    return per_example


def hinge(model):
    """relu(1 - y*score), one example, no L2 term."""
    return lambda x, y: (1 + -y * model(x)[0]).relu()


def softmax_ce_elementary(model):
    """log(sum(exp(z_j))) - z_y, the target a one-hot row: exp and log only."""

    def per_example(x, onehot):
        zs = model(x)
        return sum(z.exp() for z in zs).log() - sum(t * z for t, z in zip(onehot, zs))

    return per_example


# ---------------------------------------------------------------------------
# The contenders: `step(k) -> loss`; `losses(n)` and `times(n)` around it.


class HandNumPy(Stepper):
    """The net by hand in NumPy: matrix forward, hand-derived matrix backward, SGD."""

    name = "hand-written NumPy"

    def __init__(self, weights: Weights, X, y, act: str, loss: str, l2: float) -> None:
        super().__init__()
        self.W = [np.array([w for w, _ in layer]) for layer in weights]  # [out, in]
        self.B = [np.array([b for _, b in layer]) for layer in weights]
        self.X = np.array(X, dtype=np.float64)
        self.y = np.array(y)
        self.act, self.loss, self.l2 = act, loss, l2
        if loss == "softmax-ce":
            self.onehot = np.eye(len(weights[-1]))[self.y]

    def step(self, k: int) -> float:
        W, B, X = self.W, self.B, self.X
        n = X.shape[0]
        last = len(W) - 1
        acts, outs = [], []
        h = X
        for i, (w, b) in enumerate(zip(W, B)):
            acts.append(h)
            z = h @ w.T + b
            h = z if i == last else (np.maximum(z, 0.0) if self.act == "relu" else np.tanh(z))
            outs.append(h)
        if self.loss == "hinge":
            margin = 1.0 - self.y * h[:, 0]
            data_loss = np.maximum(margin, 0.0).sum() / n
            dz = ((margin > 0) * (-self.y / n))[:, None]
        else:  # softmax cross-entropy, as written: log(sum(exp(z))) - z_y
            e = np.exp(h)
            s = e.sum(axis=1)
            data_loss = float((np.log(s) - (self.onehot * h).sum(axis=1)).sum()) / n
            dz = (e / s[:, None] - self.onehot) / n
        reg = sum(float((w * w).sum() + (b * b).sum()) for w, b in zip(W, B)) if self.l2 else 0.0
        total = data_loss + self.l2 * reg
        lr = lr_at(k)
        for i in range(last, -1, -1):
            if i < last:
                dz = dz * (outs[i] > 0) if self.act == "relu" else dz * (1.0 - outs[i] ** 2)
            gw = dz.T @ acts[i]
            gb = dz.sum(axis=0)
            if i:
                da = dz @ W[i]
            if self.l2:
                gw += 2 * self.l2 * W[i]
                gb += 2 * self.l2 * B[i]
            W[i] -= lr * gw
            B[i] -= lr * gb
            if i:
                dz = da
        return float(total)


class Replay(Stepper):
    """`compile_batched` of per-example code, stepped as nn.train(batched=True) steps it.

    `run_arrays(X, Y, pdata)` gives the mean loss and the gradient as an
    array; the update is on the parameter array (no Python loop over params).
    """

    def __init__(self, name: str, model, per_example, X, Y) -> None:
        super().__init__()
        self.name = name
        params = model.parameters()
        self.X = np.array(X, dtype=np.float64)
        self.Y = np.array(Y, dtype=np.float64)
        start = time.perf_counter()
        self.replay = compile_batched(per_example, params, (list(X[0]), Y[0]))
        self.trace_s = time.perf_counter() - start
        self.pdata = np.array([p.data for p in params])

    def step(self, k: int) -> float:
        mean, g = self.replay.run_arrays(self.X, self.Y, self.pdata)
        self.pdata -= lr_at(k) * g
        return mean


class NNTrain(CompiledNNTrain):
    """`nn.train(batched=True)` on an nn.MLP, each step timed between two callbacks.

    A step is everything train() does per step: the replayed forward and
    backward, the l2 term, the SGD update on the arrays, accuracy and the
    history. `sync_every` is set past the end, so the callback does not make
    train write the parameters back into the Values on every step.
    """

    optimizer_class: type = SGD

    def __init__(self, name: str, weights: Weights, X, y, act: str, loss: str, l2: float) -> None:
        self.name = name
        self.model = MLP(len(weights[0][0][0]), [len(layer) for layer in weights], activation=act)
        for layer, ws in zip(self.model.layers, weights):
            for neuron, (w, b) in zip(layer.neurons, ws):
                for p, v in zip(neuron.w, w):
                    p.data = v
                neuron.b.data = b
        self.X, self.y, self.loss, self.l2 = X, y, loss, l2
        self.optimizer = self.optimizer_class(self.model.parameters(), lr=lr_at)

    def _train(self, steps: int, callback) -> list[float]:
        history = train(
            self.model,
            self.X,
            self.y,
            loss=self.loss,
            steps=steps,
            optimizer=self.optimizer,  # one optimizer: the schedule goes on from its step count
            l2=self.l2,
            progress=False,
            callback=callback,
            batched=True,
            sync_every=10**9,
        )
        return history.loss


class ValuesSGD(SGD):
    """nn's SGD under another name: nn.train(batched=True) then updates through the Values."""


class NNTrainValues(NNTrain):
    """As before issue 18: each step reads `p.data`, adds into `p.grad`, steps SGD on the Values."""

    optimizer_class = ValuesSGD


# ---------------------------------------------------------------------------
# One row: check the losses, then time the contenders in turns.


def timed(make: list, rounds: int, steps: int, check: int) -> dict[str, tuple[float, float]]:
    """(median, best) ms per step of each contender; their first `check` losses must agree."""
    losses = {c.name: c.losses(check) for c in (m() for m in make)}
    reference = next(iter(losses.values()))
    for name, got in losses.items():
        for k, (a, b) in enumerate(zip(got, reference)):
            if not math.isclose(a, b, rel_tol=1e-12):
                sys.exit(f"loss mismatch at step {k}: {name} {a!r} vs {b!r}")
    runners = [m() for m in make]
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name].extend(r.times(steps))
    return {name: (1000 * statistics.median(t), 1000 * min(t)) for name, t in times.items()}


def hinge_row(n: int, sizes: tuple[int, ...], style: str, args) -> dict:
    X, y = moons(n, noise=0.1, seed=1, signed=True)
    weights = initial_weights(sizes, scaled=sizes[1] > 16)
    make: list = [lambda: HandNumPy(weights, X, y, "relu", "hinge", ALPHA)]
    if style in ("micrograd", "both"):

        def micro():
            model = MMLP(weights)
            per = hinge_l2_inside(model, model.parameters())
            return Replay("micrograd-style, L2 inside", model, per, X, y)

        make.append(micro)
    if style in ("nn", "both"):
        make.append(
            lambda: NNTrain("nn.MLP, nn.train(batched=True)", weights, X, y, "relu", "hinge", ALPHA)
        )
    if style == "nn":  # what keeping the parameters in arrays saves, at width 256
        values = "nn.MLP, through the Values"
        make.append(lambda: NNTrainValues(values, weights, X, y, "relu", "hinge", ALPHA))
    if style == "both":

        def mlp_inside():
            model = NNTrain("", weights, X, y, "relu", "hinge", ALPHA).model
            per = hinge_l2_inside(lambda x: [model(x)], model.parameters())
            return Replay("nn.MLP, L2 inside per_example", model, per, X, y)

        make.append(mlp_inside)
    if style == "micrograd" and sizes[1] > 16:  # ~130k single-node steps: a step each round
        return timed(make, 3, 1, 2)
    return timed(make, args.rounds, args.steps, args.check_steps)


def softmax_row(n: int, args) -> dict:
    sizes = (2, 16, 16, 3)
    X, y = blobs(n)
    weights = initial_weights(sizes, scaled=True)
    onehot = [[1.0 if j == c else 0.0 for j in range(3)] for c in y]

    def micro():
        model = MMLP(weights, act="tanh")
        return Replay(
            "micrograd-style tanh, exp/log CE", model, softmax_ce_elementary(model), X, onehot
        )

    make = [lambda: HandNumPy(weights, X, y, "tanh", "softmax-ce", 0.0), micro]
    return timed(make, args.rounds, args.steps, args.check_steps)


# ---------------------------------------------------------------------------
# Trace + optimize.


def trace_time(sizes: tuple[int, ...], loss: str, repeats: int) -> tuple[float, float, int]:
    """Median seconds for make_program + optimize, and for all of compile_batched; equations."""
    weights = initial_weights(sizes, scaled=True)
    classes = sizes[-1]
    if loss == "hinge":
        x0, y0 = [0.5] * sizes[0], 1.0
    else:
        x0, y0 = [0.5] * sizes[0], [1.0] + [0.0] * (classes - 1)
    n = len(x0)
    flat_example = [*x0, *(y0 if isinstance(y0, list) else [y0])]
    program_times, compile_times, equations = [], [], 0
    for _ in range(repeats):
        model = MMLP(weights)
        per = hinge(model) if loss == "hinge" else softmax_ce_elementary(model)
        params = model.parameters()

        def flat(*v, per=per):  # make_program traces a function of numbers
            return per(list(v[:n]), v[n] if len(v) == n + 1 else list(v[n:]))

        gc.collect()
        start = time.perf_counter()
        program = optimize(make_program(flat, flat_example, params))
        program_times.append(time.perf_counter() - start)
        equations = len(make_program(flat, flat_example, params).equations)
        del program
        gc.collect()
        start = time.perf_counter()
        compile_batched(per, params, (x0, y0))
        compile_times.append(time.perf_counter() - start)
    return statistics.median(program_times), statistics.median(compile_times), equations


# ---------------------------------------------------------------------------


def blas_line() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} (no threadpoolctl)"
    libs = [
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}, "
        f"{i.get('num_threads')} thread(s)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    core = os.environ.get("OPENBLAS_CORETYPE")
    return "BLAS: " + "; ".join(libs) + (f"; OPENBLAS_CORETYPE={core}" if core else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--steps", type=int, default=5, help="steps per round (default 5)")
    parser.add_argument("--check-steps", type=int, default=3, help="steps compared for equality")
    parser.add_argument(
        "--long", action="store_true", help="7 rounds of 10 steps; micrograd-style width 256"
    )
    args = parser.parse_args(argv)
    if args.long:
        args.rounds, args.steps = max(args.rounds, 7), max(args.steps, 10)

    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()}; "
        f"{blas_line()}"
    )
    print(
        f"median ms per step over {args.rounds} interleaved rounds of {args.steps} steps "
        f"(best: the fastest step, less hit by a loaded machine, which stretches long steps "
        f"most); the first {args.check_steps} losses of every contender equal to 1e-12"
    )
    print()
    print("| row | points | ms per step | NumPy ms | vs NumPy | best vs best | target |")
    print("|---|---:|---:|---:|---:|---:|---|")

    def line(row: str, n: int, ours: tuple, numpy: tuple, target: str) -> None:
        (t, best), (base, base_best) = ours, numpy
        print(
            f"| {row} | {n} | {t:.3f} | {base:.3f} | {t / base:.1f}x | {best / base_best:.1f}x "
            f"| {target} |"
        )

    micro, mlp, inside = (
        "micrograd-style, L2 inside",
        "nn.MLP, nn.train(batched=True)",
        "nn.MLP, L2 inside per_example",
    )
    names = {
        micro: "micrograd-style {net} hinge, L2 inside per_example",
        mlp: "nn.MLP {net} hinge, nn.train(batched=True), L2 outside",
        inside: "(context) nn.MLP {net} hinge, L2 inside per_example",
        "nn.MLP, through the Values": "(context) the same, parameters in the Values (SGD subclass)",
    }
    targets = {
        (micro, 100): "<= 4x",
        (micro, 1000): "<= 2x",
        (mlp, 100): "<= 3x",
        (mlp, 1000): "<= 1.5x",
        (inside, 100): "",
        (inside, 1000): "",
    }
    rows = [
        (100, (2, 16, 16, 1), "both"),
        (1000, (2, 16, 16, 1), "both"),
        (100, (2, 256, 256, 1), "nn"),
    ]
    if args.long:
        rows.append((100, (2, 256, 256, 1), "micrograd"))
    for n, sizes, style in rows:
        ms = hinge_row(n, sizes, style, args)
        base = ms.pop(HandNumPy.name)
        net = "-".join(map(str, sizes))
        for name, t in ms.items():
            target = targets[name, n] if sizes[1] == 16 else ("" if "Values" in name else "<= 3x")
            line(names[name].format(net=net), n, t, base, target)
    for n in (1000,):
        ms = softmax_row(n, args)
        base = ms.pop(HandNumPy.name)
        for t in ms.values():
            line("micrograd-style tanh 2-16-16-3, softmax CE by exp/log", n, t, base, "<= 3x")
    print()
    for sizes, loss, target, repeats in (
        ((2, 16, 16, 1), "hinge", "< 50 ms", 7),
        ((64, 160, 128, 10), "softmax-ce", "< 5 s", 1 if not args.long else 3),
    ):
        seconds, compile_seconds, equations = trace_time(sizes, loss, repeats)
        net = "-".join(map(str, sizes))
        print(
            f"trace + optimize, {net} {loss} by elementary ops ({equations:,} equations): "
            f"{1000 * seconds:.0f} ms with make_program + optimize (target {target}); "
            f"all of compile_batched (trace, optimize, plan, dry run): "
            f"{1000 * compile_seconds:.0f} ms"
        )
    print()
    print("Reproduce: python bench/bench_batched.py   (--long: more rounds, more rows)")


if __name__ == "__main__":
    main()
