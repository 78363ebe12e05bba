"""The digits check: MLP(64, [32, 10]) with softmax cross-entropy, batched vs the engine.

Trains `python -m nn train --data digits --init xavier --batched --steps 300`'s
run in-process (1,438 training images, 359 held out, seed 0, full batch, lr
1.0 - 0.9*k/300, l2 1e-4), reports the wall time and the test accuracy (the
issue asks for >= 95%), then times steps of the same training with the engine
and with batched replay, side by side in this process (median ms per step; a
full engine run would take the better part of an hour here). Per-step times
include what `train()` does per step, test accuracy included.

    python bench/bench_digits.py
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nn.data import digits, train_test_split  # noqa: E402
from nn.layers import MLP  # noqa: E402
from nn.train import train  # noqa: E402


def run(steps: int, batched: bool, timed_steps: int | None = None) -> tuple:
    X, y = digits()
    X, y, Xt, yt = train_test_split(X, y, 0.2, seed=0)
    model = MLP(64, [32, 10], init="xavier", seed=0)
    stamps: list[float] = []

    def stamp(k, history):
        stamps.append(time.perf_counter())
        return timed_steps is not None and k + 1 >= timed_steps

    start = time.perf_counter()
    history = train(
        model,
        X,
        y,
        loss="softmax-ce",
        steps=steps,
        lr=lambda k: 1.0 - 0.9 * k / steps,
        l2=1e-4,
        batched=batched,
        test=(Xt, yt),
        seed=0,
        progress=False,
        callback=stamp,
    )
    wall = time.perf_counter() - start
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]
    return wall, history, per_step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--engine-steps", type=int, default=4, help="engine steps timed")
    args = parser.parse_args(argv)

    wall, history, per_step = run(args.steps, True)
    print(
        f"batched: {args.steps} steps in {wall:.1f} s wall (trace, final evaluation included); "
        f"train accuracy {100 * history.final_accuracy:.1f}%, "
        f"test accuracy {100 * history.final_test_accuracy:.1f}% (target >= 95%)"
    )
    _, _, engine_steps = run(args.steps, False, timed_steps=args.engine_steps)
    _, _, batched_steps = run(args.steps, True, timed_steps=args.engine_steps * 5)
    e, b = statistics.median(engine_steps), statistics.median(batched_steps)
    print(
        f"per step (1,438 images, full batch, test accuracy on 359 each step): engine "
        f"{1000 * e:.0f} ms, batched {1000 * b:.1f} ms ({e / b:.0f}x); the engine would take "
        f"about {e * args.steps / 60:.0f} min for the {args.steps} steps"
    )


if __name__ == "__main__":
    main()
