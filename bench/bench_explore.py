"""The explorer's budgets (issue 21), measured and printed, never asserted.

- the page `python -m nn train --html` writes for the demo: its size (budget 2 MB);
- a step's redraw on a graph of about 300 Values, measured in headless
  Chromium: `render()`'s own time (the page records it in
  `agExplorer.renderMs`) and the time of `go(k)` plus the layout it forces,
  for every step of the pass (budget 50 ms);
- `explore()` itself on graphs of growing size, up to the `max_values` refusal:
  seconds, page size and peak memory (the figures docs/explorer.md quotes).

Run: python bench/bench_explore.py  (needs Chromium and chromedriver, as the
browser tests do; without them the browser part is skipped with a message).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from autograd_core import Value, explore, topological_order  # noqa: E402
from nn.layers import MLP  # noqa: E402

STEP_JS = """
var k = arguments[0], t0 = performance.now();
agExplorer.go(k);
document.getElementById('ag-graph').getBoundingClientRect();  // force the layout
var t1 = performance.now();
return [agExplorer.renderMs, t1 - t0];
"""


def mlp_loss(points: int) -> Value:
    """MLP(2, [8, 8, 1]) (tanh), mean squared error over `points` points."""
    model = MLP(2, [8, 8, 1], "tanh", seed=0)
    X = [[(i % 7) / 3 - 1, (i % 5) / 2 - 1] for i in range(points)]
    y = [1.0 if i % 2 else -1.0 for i in range(points)]
    loss = sum(((model(x) - t) ** 2 for x, t in zip(X, y)), Value(0.0)) * (1 / points)
    loss.label = "loss"
    return loss


def cli_page_size(folder: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nn", "train", "--html", "--no-progress", "--out", "run"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    size = (folder / "run" / "explorer.html").stat().st_size
    print(
        f"CLI demo page (python -m nn train --html): {size / 1e6:.2f} MB (budget 2 MB), "
        f"whole run {seconds:.1f} s"
    )


def redraw(folder: Path) -> None:
    import pytest
    from browser import chromium_driver

    root = mlp_loss(5)
    n = len(topological_order(root))
    page = explore(root, folder / "bench.html")
    try:
        driver = chromium_driver(folder)
    except pytest.skip.Exception as e:
        print(f"browser redraw: skipped ({e})")
        return
    try:
        driver.get(page.resolve().as_uri())
        driver.execute_script("agExplorer.smooth = false")
        total = int(driver.find_element("id", "ag-counter").get_attribute("data-steps"))
        render, step = [], []
        for k in range(1, total + 1):
            r, s = driver.execute_script(STEP_JS, k)
            render.append(r)
            step.append(s)
    finally:
        driver.quit()
    for what, xs in (("render()", render), ("go(k) + layout", step)):
        xs = sorted(xs)
        print(
            f"{n} Values, {total} steps, {what}: median {statistics.median(xs):.1f} ms, "
            f"p95 {xs[int(0.95 * (len(xs) - 1))]:.1f} ms, max {xs[-1]:.1f} ms (budget 50 ms)"
        )


def sizes(folder: Path) -> None:
    for points in (4, 40, 80):
        root = mlp_loss(points)
        n = len(topological_order(root))
        tracemalloc.start()
        started = time.perf_counter()
        page = explore(root, folder / f"size{points}.html")
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"explore() on {n} Values: {seconds:.2f} s, page {page.stat().st_size / 1e6:.1f} MB, "
            f"Python peak {peak / 1e6:.0f} MB"
        )


def refusal() -> None:
    x = Value(1.0, label="x")
    for _ in range(100_000):
        x = x + 1.0
    started = time.perf_counter()
    try:
        explore(x)
    except ValueError as e:
        print(f"explore() on 100,001 Values: refused in {time.perf_counter() - started:.2f} s: {e}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cli_page_size(folder)
        redraw(folder)
        sizes(folder)
        refusal()


if __name__ == "__main__":
    main()
