"""Pictures of a training run: the loss curve, the decision boundary, the network's graph.

Matplotlib is imported only when a picture is drawn, and through its
object-oriented API (`Figure` + the Agg canvas), so the library never
switches a user's pyplot backend. Every file is written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograd_core.engine import Value, no_grad
from autograd_core.files import atomic_write
from autograd_core.optional import require
from nn.module import Module
from nn.train import History

__all__ = ["decision_boundary", "loss_curve", "network_svg"]


def _figure(what: str, width: float = 6.0, height: float = 4.0) -> Any:
    agg = require("matplotlib.backends.backend_agg", "plots", what)
    figure = require("matplotlib.figure", "plots", what)
    fig = figure.Figure(figsize=(width, height), dpi=100)
    agg.FigureCanvasAgg(fig)
    return fig


def _save_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write(path, buffer.getvalue())


def loss_curve(history: History, path: str | os.PathLike[str], title: str = "training") -> Path:
    """Loss (and accuracy, with held-out test accuracy when recorded) against the step, as a PNG."""
    fig = _figure("loss_curve()")
    ax = fig.add_subplot(1, 1, 1)
    steps = range(len(history.loss))
    ax.plot(steps, history.loss, color="tab:blue", label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    ax.set_title(title)
    if history.loss and min(history.loss) > 0:
        ax.set_yscale("log")
    if history.accuracy and all(a is not None for a in history.accuracy):
        ax2 = ax.twinx()
        ax2.plot(
            steps,
            [100 * a for a in history.accuracy if a is not None],
            color="tab:orange",
            label="accuracy",
        )
        tests = history.test_accuracy
        if tests and len(tests) == len(history.loss) and all(a is not None for a in tests):
            ax2.plot(
                steps,
                [100 * a for a in tests if a is not None],
                color="tab:green",
                linestyle="--",
                label="test accuracy",
            )
            ax2.legend(loc="lower right", fontsize="small")
        ax2.set_ylabel("accuracy (%)", color="tab:orange")
        ax2.set_ylim(0, 105)
    # Fixed margins that fit both axes' labels: tight_layout measures every tick label
    # first, which took longer than drawing the picture (0.2 s of the CLI's run).
    fig.subplots_adjust(left=0.17, right=0.88, bottom=0.12, top=0.92)
    return _save_png(fig, path)


def decision_boundary(
    model: Callable[[Any], Any],
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    path: str | os.PathLike[str],
    *,
    threshold: float = 0.0,
    resolution: int = 60,
    title: str = "decision boundary",
) -> Path:
    """The model's output over the plane, its `threshold` contour, and the points, as a PNG.

    For 2-D inputs and one output; `threshold` is 0 for scores and logits,
    0.5 for probabilities.
    """
    if not X or any(len(row) != 2 for row in X):
        raise ValueError("decision_boundary needs 2-D inputs")
    np = require("numpy", "plots", "decision_boundary()")
    fig = _figure("decision_boundary()", 5.5, 5.0)

    xs = [row[0] for row in X]
    ys = [row[1] for row in X]
    pad_x = 0.25 * (max(xs) - min(xs) or 1.0)
    pad_y = 0.25 * (max(ys) - min(ys) or 1.0)
    gx = np.linspace(min(xs) - pad_x, max(xs) + pad_x, resolution)
    gy = np.linspace(min(ys) - pad_y, max(ys) + pad_y, resolution)
    with no_grad():  # thousands of forward passes, none to differentiate
        z = np.array([[_output(model([float(a), float(b)])) for a in gx] for b in gy])
    ax = fig.add_subplot(1, 1, 1)
    ax.contourf(gx, gy, z > threshold, levels=[-0.5, 0.5, 1.5], colors=["#f4c7a1", "#a9c8e8"])
    if z.min() < threshold < z.max():
        ax.contour(gx, gy, z, levels=[threshold], colors="k", linewidths=1)
    labels = np.array([float(t) for t in y])
    positive = labels > (0.5 if labels.min() >= 0 else 0.0)
    ax.scatter(
        np.array(xs)[~positive],
        np.array(ys)[~positive],
        c="tab:orange",
        s=18,
        edgecolors="k",
        linewidths=0.4,
        label="class 0 / -1",
    )
    ax.scatter(
        np.array(xs)[positive],
        np.array(ys)[positive],
        c="tab:blue",
        s=18,
        edgecolors="k",
        linewidths=0.4,
        label="class 1 / +1",
    )
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return _save_png(fig, path)


def _output(out: Any) -> float:
    if isinstance(out, list):
        raise ValueError("decision_boundary needs a model with one output")
    return out.data if isinstance(out, Value) else float(out)


def network_svg(
    model: Module,
    X: Sequence[Sequence[float]] | Sequence[float],
    path: str | os.PathLike[str],
) -> Path:
    """The network as SVG: one box per layer, and one neuron's graph with its gradients.

    `X` is the training inputs (or one input); the neuron is drawn on the
    first of them that it is active on. See `nn.picture` for what is drawn
    and why; the picture has at most `nn.picture.MAX_DRAWN_NODES` nodes.
    """
    from nn.picture import render_network

    rows: list[Sequence[float]]
    if X and not isinstance(X[0], Sequence):
        rows = [X]  # type: ignore[list-item]  # one input
    else:
        rows = list(X)  # type: ignore[arg-type]
    return render_network(model, rows, path)
