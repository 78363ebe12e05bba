"""micrograd's demo training step, side by side: engine, compiled, micrograd, floats, PyTorch.

The step is the one in micrograd's demo notebook: MLP(2, [16, 16, 1]) on 100
two-moons points, hinge loss mean(relu(1 - y*score)) + 1e-4 * sum(p*p),
forward, backward and an SGD update with lr = 1.0 - 0.9*k/100. Every
contender starts from the same weights, and their losses are checked equal
(to 1e-12) at the first steps before anything is timed.

Timing: each contender runs one step in turn, round after round (interleaved,
so a slow spell of this shared machine hits all of them), and the median ms
per step is reported. Tracing the compiled loss is a one-off cost, reported
separately. Run from the repository root:

    PYTHONPATH=. python bench/bench_compiled.py
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

from autograd_core.compiled import compile_loss
from autograd_core.engine import Value, linear

SIZES = (2, 16, 16, 1)
ALPHA = 1e-4


# ---------------------------------------------------------------------------
# Data and initial weights, shared by everyone.


def two_moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list, list]:
    """Two interleaved half circles with Gaussian noise, labels -1/+1 (no sklearn)."""
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        upper = i < n // 2
        k = i if upper else i - n // 2
        m = n // 2 if upper else n - n // 2
        t = math.pi * k / (m - 1)
        if upper:
            px, py = math.cos(t), math.sin(t)
        else:
            px, py = 1.0 - math.cos(t), 0.5 - math.sin(t)
        X.append([px + rng.gauss(0.0, noise), py + rng.gauss(0.0, noise)])
        y.append(1.0 if upper else -1.0)
    return X, y


def initial_weights(seed: int = 1337) -> list[list[tuple[list[float], float]]]:
    """layers -> neurons -> (weights, bias), uniform(-1, 1) weights and zero bias, as micrograd."""
    rng = random.Random(seed)
    return [
        [([rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)]
        for nin, nout in zip(SIZES, SIZES[1:])
    ]


def lr_at(k: int) -> float:
    return 1.0 - 0.9 * k / 100


# ---------------------------------------------------------------------------
# The contenders. Each has step(k) -> loss before the update.


class Micrograd:
    name = "micrograd 0.1.0"

    def __init__(self, weights, X, y):
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


class EngineMLP:
    """An MLP as our nn builds it: one `linear` node per neuron, then relu."""

    def __init__(self, weights):
        self.layers = [[([Value(x) for x in w], Value(b)) for w, b in ws] for ws in weights]
        self.params = [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = [linear(w, x, b) for w, b in layer]
            if i < last:
                x = [v.relu() for v in x]
        return x[0]


def engine_loss(model: EngineMLP, X, y) -> Value:
    inputs = [list(map(Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.params)
    return data_loss + reg_loss


class Engine:
    name = "autograd_core engine"

    def __init__(self, weights, X, y):
        self.model = EngineMLP(weights)
        self.X, self.y = X, y

    def step(self, k: int) -> float:
        total = engine_loss(self.model, self.X, self.y)
        for p in self.model.params:
            p.grad = 0.0
        total.backward()
        lr = lr_at(k)
        for p in self.model.params:
            p.data -= lr * p.grad
        return total.data


class Compiled:
    name = "autograd_core compiled"

    def __init__(self, weights, X, y):
        self.model = EngineMLP(weights)
        start = time.perf_counter()
        self.loss = compile_loss(self.model.params, lambda: engine_loss(self.model, X, y))
        self.trace_seconds = time.perf_counter() - start

    def step(self, k: int) -> float:
        loss, _, grads = self.loss()
        lr = lr_at(k)
        for p, g in zip(self.model.params, grads):
            p.data -= lr * g
        return loss


class Floats:
    """Hand-written forward and hand-derived backward on plain float lists."""

    name = "hand-written floats"

    def __init__(self, weights, X, y):
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


class Torch:
    """PyTorch with one scalar tensor per number, as micrograd's own test does."""

    name = "PyTorch (scalar tensors)"

    def __init__(self, weights, X, y):
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
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--fast-repeats",
        type=int,
        default=5,
        help="steps per round for the fast contenders (median taken over all)",
    )
    parser.add_argument("--check-steps", type=int, default=3, help="steps compared for equality")
    args = parser.parse_args(argv)

    X, y = two_moons()
    weights = initial_weights()
    kinds = [Micrograd, Engine, Compiled, Floats]
    torch_note = ""
    try:
        import torch  # noqa: F401

        kinds.append(Torch)
    except ImportError:
        torch_note = "not installed"

    # Same start, same losses: check before timing.
    checkers = [kind(weights, X, y) for kind in kinds]
    bitwise = True
    for k in range(args.check_steps):
        losses = {c.name: c.step(k) for c in checkers}
        reference = losses[Micrograd.name]
        for name, loss in losses.items():
            if abs(loss - reference) > 1e-12:
                sys.exit(f"loss mismatch at step {k}: {name} {loss!r} vs micrograd {reference!r}")
        bitwise = bitwise and losses[Compiled.name] == losses[Engine.name]
        print(f"step {k}: loss {reference:.15f}, equal to 1e-12 in all {len(kinds)}")
    print(f"compiled loss equals the engine's bit for bit at every checked step: {bitwise}")

    # Fresh instances for timing, started from the same weights.
    runners = [kind(weights, X, y) for kind in kinds]
    compiled = next(r for r in runners if isinstance(r, Compiled))
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    step_no = {r.name: 0 for r in runners}
    for _ in range(args.rounds):
        for r in runners:
            repeats = 1 if isinstance(r, (Micrograd, Engine, Torch)) else args.fast_repeats
            for _ in range(repeats):
                k = step_no[r.name] % 100
                gc.collect()  # nobody pays for another's garbage
                start = time.perf_counter()
                r.step(k)
                times[r.name].append(time.perf_counter() - start)
                step_no[r.name] += 1

    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    micro = ms[Micrograd.name]
    floats = ms[Floats.name]
    print()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; median of "
        f"{args.rounds} interleaved rounds; compiled trace (one-off): "
        f"{compiled.trace_seconds * 1000:.0f} ms"
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
    print("Reproduce: PYTHONPATH=. python bench/bench_compiled.py")


if __name__ == "__main__":
    main()
