"""The digits check: the `--batched` CLI, whole run, against NumPy by hand on the same training.

The training is `python -m nn train --data digits --init xavier --batched
--steps 300`: MLP(64, [32, 10]) with relu, softmax cross-entropy + 1e-4 *
sum(p*p), full batch over 1,438 training images (359 held out, seed 0), lr
1.0 - 0.9*k/300. The NumPy-by-hand run trains the same net from the same
initial weights (nn's seeded xavier init) with a matrix forward and a
hand-derived backward; its losses are checked equal to nn.train's (1e-12
relative) over the first steps before anything is timed.

Printed, the contenders interleaved, BLAS on one thread:

1. Whole runs, each in a fresh interpreter (start-up, imports, loading the
   data, training, and for the CLI its summary and files): the CLI with
   `--batched`, and `python bench/bench_digits.py --numpy-run`. Issue 18's
   target: the CLI within 2x of NumPy by hand, test accuracy >= 95%.
2. Training alone, in this process: `nn.train(batched=True)` as the CLI
   calls it (test accuracy recorded every step, trace included) against
   the NumPy loop.
3. With `--engine-steps N`: N steps of the engine (`nn.train()`), to show
   what batched replay saves (about 1.5 s a step here).

    python bench/bench_digits.py                  # under a minute
    python bench/bench_digits.py --repeats 3 --engine-steps 3
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 300
L2 = 1e-4


def data() -> tuple:
    from nn.data import digits, train_test_split

    X, y = digits()
    return train_test_split(X, y, 0.2, seed=0)  # X, y, X_test, y_test, as the CLI splits


def fresh_model():
    from nn.layers import MLP

    return MLP(64, [32, 10], init="xavier", seed=0)  # the CLI's model for digits


# ---------------------------------------------------------------------------
# NumPy by hand.


def numpy_training(steps: int, X, y, Xt, yt, weights=None) -> dict:
    """The same training, matrix forward and hand-derived backward; losses and accuracies."""
    import numpy as np

    if weights is None:
        weights = [
            (
                np.array([[w.data for w in n.w] for n in layer.neurons]),
                [n.b.data for n in layer.neurons],
            )
            for layer in fresh_model().layers
        ]
    W = [np.array(w, dtype=np.float64) for w, _ in weights]  # [out, in]
    B = [np.array(b, dtype=np.float64) for _, b in weights]
    X, Xt = np.asarray(X, dtype=np.float64), np.asarray(Xt, dtype=np.float64)
    y, yt = np.asarray(y), np.asarray(yt)
    n = X.shape[0]
    onehot = np.eye(10)[y]
    losses, accs = [], []
    for k in range(steps):
        # forward: relu hidden layer, logits, softmax cross-entropy with the max taken out
        Z1 = X @ W[0].T + B[0]
        H = np.maximum(Z1, 0.0)
        Z = H @ W[1].T + B[1]
        m = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - m)
        S = E.sum(axis=1, keepdims=True)
        data_loss = float((np.log(S) + m - (onehot * Z).sum(axis=1, keepdims=True)).sum()) / n
        reg = sum(float((w * w).sum() + (b * b).sum()) for w, b in zip(W, B))
        losses.append(data_loss + L2 * reg)
        accs.append(float(np.mean(Z.argmax(axis=1) == y)))
        # backward: d loss / d logits = (softmax - onehot) / n, then layer by layer
        dZ = (E / S - onehot) / n
        gW1, gB1 = dZ.T @ H, dZ.sum(axis=0)
        dZ1 = (dZ @ W[1]) * (Z1 > 0)
        gW0, gB0 = dZ1.T @ X, dZ1.sum(axis=0)
        lr = 1.0 - 0.9 * k / steps
        for w, b, gw, gb in ((W[0], B[0], gW0, gB0), (W[1], B[1], gW1, gB1)):
            w -= lr * (gw + 2 * L2 * w)
            b -= lr * (gb + 2 * L2 * b)

    def accuracy(A, labels) -> float:
        logits = np.maximum(A @ W[0].T + B[0], 0.0) @ W[1].T + B[1]
        return float(np.mean(logits.argmax(axis=1) == labels))

    return {
        "losses": losses,
        "accuracy": accs,
        "final_accuracy": accuracy(X, y),
        "final_test_accuracy": accuracy(Xt, yt),
    }


def numpy_run() -> None:
    """The whole NumPy-by-hand run, for timing in a fresh interpreter (--numpy-run)."""
    X, y, Xt, yt = data()
    result = numpy_training(STEPS, X, y, Xt, yt)
    print(f"test accuracy {100 * result['final_test_accuracy']:.1f}%")


# ---------------------------------------------------------------------------
# nn.train, as the CLI calls it.


def nn_training(steps: int, X, y, Xt, yt, batched: bool = True, stop: int | None = None):
    from nn.train import train

    stamps: list[float] = []

    def stamp(k, history):
        stamps.append(time.perf_counter())
        return stop is not None and k + 1 >= stop

    history = train(
        fresh_model(),
        X,
        y,
        loss="softmax-ce",
        steps=steps,
        lr=lambda k: 1.0 - 0.9 * k / steps,
        l2=L2,
        batched=batched,
        test=(Xt, yt),
        seed=0,
        progress=False,
        callback=stamp if stop is not None else None,
    )
    return history, [b - a for a, b in zip(stamps, stamps[1:])]


# ---------------------------------------------------------------------------


def whole_run(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if out.returncode:
        sys.exit(f"{' '.join(command)} failed: {out.stderr.strip()}")
    return seconds, out.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (default 2)")
    parser.add_argument("--engine-steps", type=int, default=0, help="engine steps timed (0: none)")
    parser.add_argument("--numpy-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.numpy_run:
        return numpy_run()

    X, y, Xt, yt = data()
    # Same start, same losses, before any timing.
    check = 5
    hand = numpy_training(check, X, y, Xt, yt)
    ours, _ = nn_training(check, X, y, Xt, yt)
    for k, (a, b) in enumerate(zip(ours.loss, hand["losses"])):
        if not math.isclose(a, b, rel_tol=1e-12):
            sys.exit(f"loss mismatch at step {k}: nn.train {a!r} vs NumPy by hand {b!r}")
    print(
        f"losses of the first {check} steps equal to 1e-12: nn.train(batched=True), NumPy by hand"
    )

    # 1. Whole runs, fresh interpreters, interleaved.
    cli_times, hand_times, cli_train = [], [], []
    with tempfile.TemporaryDirectory() as out:
        cli = [
            sys.executable, "-m", "nn", "train", "--data", "digits", "--init", "xavier",
            "--batched", "--steps", str(STEPS), "--no-progress", "--out", out,
        ]  # fmt: skip
        by_hand = [sys.executable, str(Path(__file__).resolve()), "--numpy-run"]
        for _ in range(args.repeats):
            seconds, text = whole_run(cli)
            cli_times.append(seconds)
            cli_train.append(float(re.search(r"steps in ([\d.]+) s", text).group(1)))
            cli_acc = re.search(r"test accuracy ([\d.]+)%", text).group(1)
            seconds, text = whole_run(by_hand)
            hand_times.append(seconds)
            hand_acc = re.search(r"test accuracy ([\d.]+)%", text).group(1)
    c, h = statistics.median(cli_times), statistics.median(hand_times)
    print(
        f"whole run, {STEPS} steps (median of {args.repeats}): CLI --batched {c:.2f} s "
        f"(its own training time {statistics.median(cli_train):.1f} s), test accuracy {cli_acc}%; "
        f"NumPy by hand {h:.2f} s, test accuracy {hand_acc}%; CLI / NumPy = {c / h:.1f}x "
        "(target <= 2x, >= 95%)"
    )

    # 2. Training alone, in this process, interleaved.
    ours_t, hand_t = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        history, _ = nn_training(STEPS, X, y, Xt, yt)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = numpy_training(STEPS, X, y, Xt, yt)
        hand_t.append(time.perf_counter() - start)
    o, h = statistics.median(ours_t), statistics.median(hand_t)
    print(
        f"training alone: nn.train(batched=True) {o:.2f} s (trace and test accuracy every step "
        f"included), test accuracy {100 * history.final_test_accuracy:.1f}%; NumPy by hand "
        f"{h:.2f} s, test accuracy {100 * result['final_test_accuracy']:.1f}%; {o / h:.1f}x"
    )

    # 3. The engine, a few steps.
    if args.engine_steps:
        _, engine = nn_training(STEPS, X, y, Xt, yt, batched=False, stop=args.engine_steps + 1)
        e = statistics.median(engine)
        print(
            f"engine: {1000 * e:.0f} ms per step, about {e * STEPS / 60:.0f} min for {STEPS} steps "
            f"({e * STEPS / o:.0f}x nn.train(batched=True))"
        )
    print()
    print("Reproduce: python bench/bench_digits.py   (--repeats N, --engine-steps N)")


if __name__ == "__main__":
    main()
