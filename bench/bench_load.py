"""Saving and loading a ~100k-parameter MLP: `Module.save`, `Module.load`, `nn.load`.

Loading used to check for unexpected names with a dict rebuilt per name,
quadratic in the number of parameters (MLP(2, [200, 200, 1]) took 90 s);
it is linear now. Prints the median of a few runs of each and the time per
parameter. Run: python bench/bench_load.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nn  # noqa: E402
from nn import MLP  # noqa: E402


def median_seconds(run, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    model = MLP(2, [316, 316, 1], seed=0)
    n = len(model.parameters())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.json"
        save = median_seconds(lambda: model.save(path))
        size = path.stat().st_size
        target = MLP(2, [316, 316, 1], seed=1)
        load = median_seconds(lambda: target.load(path))
        rebuild = median_seconds(lambda: nn.load(path))
        assert target.state_dict() == model.state_dict()
    print(f"{model!r}: {n:,} parameters, weights file {size / 1e6:.1f} MB")
    for name, seconds in (
        ("Module.save", save),
        ("Module.load", load),
        ("nn.load (rebuild + load)", rebuild),
    ):
        print(f"{name:26s} {1000 * seconds:8.1f} ms  ({1e6 * seconds / n:.2f} us per parameter)")


if __name__ == "__main__":
    main()
