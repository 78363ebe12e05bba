"""micrograd's demo training step, side by side: engine, compiled, micrograd, floats, PyTorch.

The step is the one in micrograd's demo notebook: MLP(2, [16, 16, 1]) on 100
two-moons points, hinge loss mean(relu(1 - y*score)) + 1e-4 * sum(p*p),
forward, backward and an SGD update with lr = 1.0 - 0.9*k/100. Our engine
and compiled rows are nn's own `train()` (compiled=False / True) on an
`nn.MLP`; micrograd is micrograd 0.1.0's MLP; the floats row is written by
hand, forward and hand-derived backward. Every contender starts from the
same weights, and their losses are checked equal (to 1e-12) over the first
steps before anything is timed.

Timing: the contenders take turns, a few steps each, round after round
(interleaved, so a slow spell of this shared machine hits all of them), with
garbage collected between steps outside the timed span; the median ms per
step is reported. Tracing the compiled loss is a one-off cost, reported
separately. Run from the repository root:

    python bench/bench_compiled.py
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import statistics
import sys
import time
from operator import mul
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nn.data import moons  # noqa: E402
from nn.layers import MLP  # noqa: E402
from nn.train import train  # noqa: E402

SIZES = (2, 16, 16, 1)
ALPHA = 1e-4


# ---------------------------------------------------------------------------
# Data and initial weights, shared by everyone.


def demo_data() -> tuple[list[list[float]], list[int]]:
    """100 two-moons points with labels -1/+1, from nn's seeded generator (no sklearn)."""
    return moons(100, noise=0.1, seed=1, signed=True)


def initial_weights(seed: int = 1337) -> list[list[tuple[list[float], float]]]:
    """layers -> neurons -> (weights, bias), uniform(-1, 1) weights and zero bias, as micrograd."""
    rng = random.Random(seed)
    return [
        [([rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)]
        for nin, nout in zip(SIZES, SIZES[1:])
    ]


def lr_at(k: int) -> float:
    """The demo's schedule, wrapped every 100 steps so long timing runs stay positive."""
    return 1.0 - 0.9 * (k % 100) / 100


# ---------------------------------------------------------------------------
# The contenders. `losses(n)` trains n steps from the initial weights and
# returns the loss of each; `times(n)` returns n step times in seconds.


class Stepper:
    """A contender written as one `step(k) -> loss` function (bench_batched's too)."""

    name = ""

    def __init__(self, *_: object) -> None:  # subclasses take what they need
        self.k = 0

    def step(self, k: int) -> float:
        raise NotImplementedError

    def losses(self, n: int) -> list[float]:
        return [self.step(k) for k in range(n)]

    def times(self, n: int) -> list[float]:
        out = []
        for _ in range(n):
            gc.collect()  # nobody pays for another's garbage
            start = time.perf_counter()
            self.step(self.k)
            out.append(time.perf_counter() - start)
            self.k += 1
        return out


class Micrograd(Stepper):
    name = "micrograd 0.1.0"

    def __init__(self, weights, X, y):
        super().__init__(weights, X, y)
        from micrograd.engine import Value as MValue
        from micrograd.nn import MLP

        self.Value = MValue
        self.model = MLP(SIZES[0], list(SIZES[1:]))
        for layer, ws in zip(self.model.layers, weights):
            for neuron, (w, b) in zip(layer.neurons, ws):
                for p, x in zip(neuron.w, w):
                    p.data = x
                neuron.b.data = b
        self.X, self.y = X, y

    def step(self, k: int) -> float:
        model, V = self.model, self.Value
        inputs = [list(map(V, row)) for row in self.X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(self.y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        lr = lr_at(k)
        for p in model.parameters():
            p.data -= lr * p.grad
        return total.data


class NNTrain:
    """nn's own `train()` on an `nn.MLP`: the ordinary engine loop, or compiled=True.

    Each step is timed between two calls of train's callback, so it includes
    everything train does per step (zero_grad, forward, loss, backward, SGD
    update, accuracy, history). A compiled run traces once before step 0.
    """

    compiled = False
    mode: dict = {}  # more keyword arguments for train() (batched=True in bench_batched)

    def __init__(self, weights, X, y):
        self.model = MLP(SIZES[0], list(SIZES[1:]))
        for layer, ws in zip(self.model.layers, weights):
            for neuron, (w, b) in zip(layer.neurons, ws):
                for p, x in zip(neuron.w, w):
                    p.data = x
                neuron.b.data = b
        self.X, self.y = X, y
        self.first_step = math.nan  # seconds to the end of step 0, trace included

    def _train(self, steps: int, callback) -> list[float]:
        history = train(
            self.model,
            self.X,
            self.y,
            loss="hinge",
            steps=steps,
            lr=lr_at,
            l2=ALPHA,
            progress=False,
            callback=callback,
            compiled=self.compiled,
            **self.mode,
        )
        return history.loss

    def losses(self, n: int) -> list[float]:
        return self._train(n, None)

    def times(self, n: int) -> list[float]:
        ends: list[float] = []
        starts: list[float] = []

        def stamp(k, history) -> None:
            ends.append(time.perf_counter())  # step k ends here
            gc.collect()  # outside the timed span, as for the other contenders
            starts.append(time.perf_counter())  # step k+1 starts here

        start = time.perf_counter()
        self._train(n + 1, stamp)
        self.first_step = ends[0] - start
        return [end - begin for begin, end in zip(starts, ends[1:])]


class Engine(NNTrain):
    name = "autograd_core engine (nn.train)"


class Compiled(NNTrain):
    name = "autograd_core compiled (nn.train, compiled=True)"
    compiled = True


class Floats(Stepper):
    """Hand-written forward and hand-derived backward on plain float lists."""

    name = "hand-written floats"

    def __init__(self, weights, X, y):
        super().__init__(weights, X, y)
        self.W = [[list(w) for w, _ in layer] for layer in weights]
        self.B = [[b for _, b in layer] for layer in weights]
        self.X, self.y = X, y

    def step(self, k: int) -> float:
        W, B = self.W, self.B
        n = len(self.X)
        last = len(W) - 1
        gW = [[[0.0] * len(w) for w in ws] for ws in W]
        gB = [[0.0] * len(bs) for bs in B]
        data_loss = 0.0
        scale = 1.0 / n
        for x, yi in zip(self.X, self.y):
            # forward, keeping every layer's input and pre-activation
            acts, pres = [], []
            h = x
            for i, (ws, bs) in enumerate(zip(W, B)):
                acts.append(h)
                z = [sum(map(mul, w, h), b) for w, b in zip(ws, bs)]
                pres.append(z)
                h = [v if v > 0 else 0.0 for v in z] if i < last else z
            margin = 1 + -yi * h[0]
            data_loss += margin if margin > 0 else 0.0
            if not margin > 0:
                continue  # relu'(margin) = 0: this point adds no gradient
            # backward: d loss / d score = -y / n, then layer by layer
            dz = [-yi * scale]
            for i in range(last, -1, -1):
                if i < last:
                    dz = [d if v > 0 else 0.0 for d, v in zip(dz, pres[i])]
                a = acts[i]
                gws, gbs, ws = gW[i], gB[i], W[i]
                for j, d in enumerate(dz):
                    gbs[j] += d
                    gw = gws[j]
                    for q, av in enumerate(a):
                        gw[q] += av * d
                if i:
                    dz = [sum(w[q] * d for w, d in zip(ws, dz)) for q in range(len(a))]
        reg = sum(v * v for ws, bs in zip(W, B) for w, b in zip(ws, bs) for v in (*w, b))
        total = data_loss * scale + ALPHA * reg
        # SGD, with the penalty's gradient 2 * alpha * p added here
        lr = lr_at(k)
        for ws, bs, gws, gbs in zip(W, B, gW, gB):
            for j, (w, gw) in enumerate(zip(ws, gws)):
                for q in range(len(w)):
                    w[q] -= lr * (gw[q] + 2 * ALPHA * w[q])
                bs[j] -= lr * (gbs[j] + 2 * ALPHA * bs[j])
        return total


class Torch(Stepper):
    """PyTorch with one scalar tensor per number, as micrograd's own test does."""

    name = "PyTorch (scalar tensors)"

    def __init__(self, weights, X, y):
        super().__init__(weights, X, y)
        import torch

        self.torch = torch
        t = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
        self.layers = [[([t(x) for x in w], t(b)) for w, b in ws] for ws in weights]
        self.params = [p for layer in self.layers for w, b in layer for p in (*w, b)]
        self.X, self.y = X, y

    def step(self, k: int) -> float:
        torch = self.torch
        last = len(self.layers) - 1
        losses = []
        for row, yi in zip(self.X, self.y):
            h = [torch.tensor(v, dtype=torch.float64) for v in row]
            for i, layer in enumerate(self.layers):
                h = [sum((wi * xi for wi, xi in zip(w, h)), b) for w, b in layer]
                if i < last:
                    h = [v.relu() for v in h]
            losses.append((1 + -yi * h[0]).relu())
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in self.params)
        for p in self.params:
            p.grad = None
        total.backward()
        lr = lr_at(k)
        with torch.no_grad():
            for p in self.params:
                p -= lr * p.grad
        return total.item()


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--fast-steps", type=int, default=5, help="steps per round for the fast ones (default 5)"
    )
    parser.add_argument("--check-steps", type=int, default=3, help="steps compared for equality")
    args = parser.parse_args(argv)

    X, y = demo_data()
    weights = initial_weights()
    kinds = [Micrograd, Engine, Compiled, Floats]
    torch_note = ""
    try:
        import torch  # noqa: F401

        kinds.append(Torch)
    except ImportError:
        torch_note = "not installed"

    # Same start, same losses: checked before anything is timed.
    losses = {kind.name: kind(weights, X, y).losses(args.check_steps) for kind in kinds}
    reference = losses[Micrograd.name]
    for name, got in losses.items():
        for k, (a, b) in enumerate(zip(got, reference)):
            if abs(a - b) > 1e-12:
                sys.exit(f"loss mismatch at step {k}: {name} {a!r} vs micrograd {b!r}")
    print(f"losses of steps 0..{args.check_steps - 1}: {', '.join(f'{v:.15f}' for v in reference)}")
    print(f"equal to 1e-12 in all {len(kinds)} implementations")
    bitwise = losses[Compiled.name] == losses[Engine.name]
    print(f"compiled losses equal the engine's bit for bit: {bitwise}")

    # Fresh instances, timed in interleaved rounds.
    runners = [kind(weights, X, y) for kind in kinds]
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(args.rounds):
        for r in runners:
            slow = isinstance(r, (Micrograd, Torch))
            times[r.name].extend(r.times(1 if slow else args.fast_steps))

    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    micro, floats = ms[Micrograd.name], ms[Floats.name]
    compiled = next(r for r in runners if isinstance(r, Compiled))
    print()
    print(
        f"MLP(2, [16, 16, 1]), 100 points, full batch. Python {platform.python_version()} on "
        f"{platform.machine()}; median ms per step over {args.rounds} interleaved rounds. "
        f"compiled=True's first step, trace included: {compiled.first_step * 1000:.0f} ms."
    )
    print()
    print("| implementation | ms per step | speed-up vs micrograd | time vs hand-written floats |")
    print("|---|---:|---:|---:|")
    order = [Engine.name, Compiled.name, Micrograd.name, Torch.name, Floats.name]
    for name in order:
        if name == Torch.name and torch_note:
            print(f"| {name} | {torch_note} | | |")
            continue
        t = ms[name]
        print(f"| {name} | {t:.2f} | {micro / t:.0f}x | {t / floats:.2f}x |")
    print()
    print("Reproduce: python bench/bench_compiled.py")


if __name__ == "__main__":
    main()
