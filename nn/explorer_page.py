"""The training page `python -m nn train --html` writes: out/explorer.html.

`Recorder` is `train()`'s callback: at a few chosen steps it copies the
parameters and, for 2-D data, a small grid of the model's predictions (the
decision boundary). `Recorder.write` then draws the loss and accuracy curves
and the boundaries as inline SVG (plain Python, no plotting library), and puts
them above `autograd_core.explore`'s stepper, with a slider over the recorded
steps: the graph of one example (the first) for the model at that step.
Everything is inline, so the page opens offline from disk.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograd_core.engine import Value, no_grad
from autograd_core.explore import explorer_bundle, page, share_drawing
from autograd_core.files import atomic_write
from nn.module import Module
from nn.train import History

__all__ = ["Recorder"]

GRID = 24  # decision-boundary cells per side
SNAPSHOTS = 5  # recorded steps: the start, the end and three between


def _chosen(total: int, n: int) -> list[int]:
    """n steps spread evenly over 0..total (0: before training; total: after the last update)."""
    return sorted({round(i * total / (n - 1)) for i in range(n)})


def _root(out: Any) -> Value:
    return out if isinstance(out, Value) else sum(out)  # several outputs: one graph for all


class Recorder:
    """train()'s callback: the parameters (and a boundary grid) at a few chosen steps.

    Snapshot "step j" holds the parameters after j updates, the ones step j's
    loss was measured with (`History.loss[j]`); step 0 is before training.
    """

    def __init__(
        self,
        model: Module,
        X: Sequence[Sequence[float]],
        y: Sequence[Any],
        *,
        steps: int,
        loss: str = "hinge",
        snapshots: int = SNAPSHOTS,
    ) -> None:
        self.model, self.X, self.y = model, list(X), list(y)
        self.params = model.parameters()
        self.wanted = set(_chosen(steps, max(2, snapshots)))
        # scores and logits split at 0; probabilities and 0/1 regression at 0.5
        self.threshold = 0.0 if loss in ("hinge", "bce-logits") else 0.5
        self.boundary = (
            len(self.X[0]) == 2
            and isinstance(model(list(self.X[0])), Value)
            and all(not isinstance(t, Sequence) and t in (-1, 0, 1) for t in self.y)
        )
        self.snaps: list[dict[str, Any]] = []
        self._record(0)

    def __call__(self, k: int, history: History) -> None:
        if k + 1 in self.wanted:
            self._record(k + 1)

    def _record(self, step: int) -> None:
        snap: dict[str, Any] = {"step": step, "params": [p.data for p in self.params]}
        if self.boundary:
            snap["grid"] = self._grid()
        self.snaps.append(snap)

    def _extent(self) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in self.X], [p[1] for p in self.X]
        mx, my = 0.1 * (max(xs) - min(xs) or 1), 0.1 * (max(ys) - min(ys) or 1)
        return min(xs) - mx, max(xs) + mx, min(ys) - my, max(ys) + my

    def _grid(self) -> list[list[float]]:
        x0, x1, y0, y1 = self._extent()
        with no_grad():
            return [
                [
                    self._score(
                        [x0 + (i + 0.5) * (x1 - x0) / GRID, y1 - (j + 0.5) * (y1 - y0) / GRID]
                    )
                    for i in range(GRID)
                ]
                for j in range(GRID)
            ]

    # -----------------------------------------------------------------------
    # The page.

    def write(
        self, path: str | os.PathLike[str], history: History, title: str = "training"
    ) -> Path:
        """Write the page to `path` (atomically); returns the Path."""
        if self.snaps[-1]["step"] != history.steps:
            self._record(history.steps)  # stopped early: the final model is the last snapshot
        bundles = self._bundles()
        # The explorer first; the curves and boundaries below it.
        intro = (
            '<p class="ag-hint">The graph of one example (the first point): the model\'s output '
            "for it, with the parameters after the number of updates the slider shows, drawn "
            "neuron by neuron. Training curves and decision boundaries are below the explorer.</p>"
        )
        extra = (
            '<section id="ag-training"><h2>training</h2>'
            + _curves(history, [s["step"] for s in self.snaps])
            + (self._boundaries() if self.boundary else "")
            + "</section>"
        )
        text = page(
            bundles,
            title=f"backpropagation explorer: {title}",
            extra_html=intro,
            extra_after=extra,
        )
        return atomic_write(Path(path), text.encode("utf-8"))

    def _score(self, point: list[float]) -> float:
        out = self.model(point)
        assert isinstance(out, Value)  # only with self.boundary: the model has one output
        return out.data

    def _bundles(self) -> list[dict[str, Any]]:
        """The explorer's trace of the first example at every snapshot's parameters."""
        final = [p.data for p in self.params]
        bundles = []
        try:
            for snap in self.snaps:
                for p, v in zip(self.params, snap["params"]):
                    p.data = v
                root = _root(self.model(list(self.X[0])))
                bundle = explorer_bundle(root)
                bundle["step_label"] = f"{snap['step']} (after {snap['step']} updates)"
                bundles.append(bundle)
        finally:
            for p, v in zip(self.params, final):
                p.data = v
        share_drawing(bundles)  # one graph at several steps: one layout (the page is 2 MB less)
        return bundles

    def _boundaries(self) -> str:
        x0, x1, y0, y1 = self._extent()
        size, cell = 160, 160 / GRID
        figures = []
        for i, snap in enumerate(self.snaps):
            rects = []
            for j, row in enumerate(snap["grid"]):
                for k, score in enumerate(row):
                    fill = "#cfe0f5" if score > self.threshold else "#f7d4c9"
                    rects.append(
                        f'<rect x="{k * cell:.1f}" y="{j * cell:.1f}" width="{cell + 0.3:.1f}" '
                        f'height="{cell + 0.3:.1f}" fill="{fill}"/>'
                    )
            dots = []
            for (px, py), t in zip(self.X, self.y):
                cx = (px - x0) / (x1 - x0) * size
                cy = (y1 - py) / (y1 - y0) * size
                color = "#1f5fbf" if t > self.threshold else "#d0502a"
                dots.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.2" fill="{color}"/>')
            figures.append(
                f'<figure class="ag-snap" data-bundle-index="{i}"><svg width="{size}" '
                f'height="{size}" viewBox="0 0 {size} {size}">{"".join(rects)}{"".join(dots)}'
                f"</svg><figcaption>step {snap['step']}</figcaption></figure>"
            )
        return (
            "<h3>decision boundary (blue: class 1 / +1), at the recorded steps</h3>"
            '<div class="ag-snaps">' + "".join(figures) + "</div>"
        )


def _curves(history: History, marks: list[int]) -> str:
    """Loss and accuracy against the step, as two small inline SVG line charts.

    Every loss shown says when it was measured: step k's curve point in its
    forward pass, before its update; the final loss after the last update
    (the number the CLI prints), which is why the two differ.
    """
    charts = [_chart("loss", history.loss, marks)]
    acc = history.accuracy
    if acc and all(a is not None for a in acc):
        charts.append(
            _chart("accuracy", [float(a) for a in acc if a is not None], marks, lo=0.0, hi=1.0)
        )
    n = len(history.loss)
    when = (
        f'<p class="ag-hint" id="ag-loss-when">Curves: step k\'s loss and accuracy, measured in '
        f"its forward pass, before its update (steps 0 to {n - 1}). "
    )
    if math.isfinite(history.final_loss):
        when += (
            f"Final loss {history.final_loss:.6g}, measured on the whole data set after the "
            f"last update (step {n}), as the command line prints it: it differs from the "
            f"curve's last point ({history.loss[-1]:.6g}, before that update)."
        )
    return '<div class="ag-charts">' + "".join(charts) + "</div>" + when + "</p>"


def _chart(
    name: str, ys: list[float], marks: list[int], lo: float | None = None, hi: float | None = None
) -> str:
    w, h, pad = 420, 180, 36
    finite = [y for y in ys if math.isfinite(y)] or [0.0]
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    hi = hi if hi > lo else lo + 1.0
    n = max(len(ys) - 1, 1)

    def sx(k: float) -> float:
        return pad + k / n * (w - pad - 8)

    def sy(v: float) -> float:
        return h - pad + (lo - v) / (hi - lo) * (h - pad - 10)

    points = " ".join(f"{sx(k):.1f},{sy(v):.1f}" for k, v in enumerate(ys) if math.isfinite(v))
    lines = [
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 8}" y2="{h - pad}" stroke="#999"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h - pad}" stroke="#999"/>',
    ]
    for m in marks:
        if m < len(ys):
            lines.append(
                f'<line x1="{sx(m):.1f}" y1="10" x2="{sx(m):.1f}" y2="{h - pad}" '
                'stroke="#ddd" stroke-dasharray="3,3"/>'
            )
    labels = [
        f'<text x="{pad - 4}" y="{sy(hi) + 4:.1f}" text-anchor="end">{hi:.3g}</text>',
        f'<text x="{pad - 4}" y="{sy(lo) + 4:.1f}" text-anchor="end">{lo:.3g}</text>',
        f'<text x="{sx(0):.1f}" y="{h - pad + 14}" text-anchor="middle">0</text>',
        f'<text x="{sx(n):.1f}" y="{h - pad + 14}" text-anchor="middle">{n}</text>',
        f'<text x="{w / 2:.0f}" y="{h - 6}" text-anchor="middle">step</text>',
    ]
    return (
        f'<figure class="ag-chart" data-series="{html.escape(name)}" data-points="{len(ys)}">'
        f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-size="11">'
        + "".join(lines)
        + f'<polyline fill="none" stroke="#1565c0" stroke-width="1.8" points="{points}"/>'
        + "".join(labels)
        + f"</svg><figcaption>{html.escape(name)}: first {ys[0]:.4g} (step 0, before any "
        f"update), last {ys[-1]:.4g} (step {len(ys) - 1}, before its update)"
        "</figcaption></figure>"
    )
