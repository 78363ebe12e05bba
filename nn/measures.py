"""What the training loop measures and checks after each step: accuracy and finiteness.

Separate from `train` so that the plain loop (`nn.train`) and the batched one
(`nn.batched`) share them without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autograd_core.engine import Value
from autograd_core.errors import is_number

__all__ = ["accuracy"]


def _score(p: Any) -> float:
    return p.data if isinstance(p, Value) else float(p)


def _argmax(p: Sequence[Any]) -> int:
    """Index of the first largest score (plain floats, as batched training gives, the fast way)."""
    if all(v.__class__ is float for v in p):
        top = max(p)
        if top == top:  # not NaN
            return p.index(top)
    return max(range(len(p)), key=lambda j: _score(p[j]))


def accuracy(loss: str, predictions: Sequence[Any], targets: Sequence[Any]) -> float | None:
    """Fraction of examples classified right, read the way `loss` reads its predictions.

    hinge: sign of the score against -1/+1; bce-logits: sign of the logit;
    bce: probability above 0.5; softmax-ce: the largest logit; mse/sse: the
    output above 0.5, only when every target is 0 or 1 (classification by
    regression, as the XOR of Brandon Brown's backpropagation tutorial), otherwise None.
    """
    if loss != "softmax-ce" and any(isinstance(p, (list, tuple)) for p in predictions):
        return None  # several outputs, read as one class by softmax-ce only
    if loss == "softmax-ce":
        right = [_argmax(p) == t for p, t in zip(predictions, targets)]
    elif loss in ("hinge", "bce-logits"):
        right = [(_score(p) > 0) == (t > 0) for p, t in zip(predictions, targets)]
    elif loss == "bce" or (
        loss in ("mse", "sse") and all(not isinstance(t, Sequence) and t in (0, 1) for t in targets)
    ):
        right = [(_score(p) > 0.5) == (t > 0.5) for p, t in zip(predictions, targets)]
    else:
        return None
    return sum(right) / len(right)


class _NotFinite(FloatingPointError):
    """The loss or a gradient is NaN or infinite; `train` adds the step number."""

    def __init__(self, what: str, value: float) -> None:
        super().__init__(_not_finite_message(what, value, None))
        self.what, self.value = what, value


def _not_finite_message(what: str, value: float, step: int | None, culprit: str = "") -> str:
    where = "" if step is None else f" at step {step}"
    hint = (
        f"The data holds one: {culprit}."
        if culprit
        else "Look for NaN or infinite values in the data, or lower the learning rate if the "
        "loss was growing."
    )
    return (
        f"{what} became {value}{where}, so training stopped before updating the weights "
        f"(they are those of the previous step). {hint}"
    )


def _first_not_finite(X: Sequence[Any], y: Sequence[Any], index: Sequence[int] | None) -> str:
    """`X[3][1] = nan`: the first NaN or infinite number in the examples, or ""."""
    for j in range(len(X)):
        i = index[j] if index is not None else j
        for name, item in ((f"X[{i}]", X[j]), (f"y[{i}]", y[j])):
            parts = item if isinstance(item, Sequence) and not isinstance(item, str) else [item]
            for d, x in enumerate(parts):
                x = x.data if isinstance(x, Value) else x
                if is_number(x) and not math.isfinite(x):
                    place = name if parts is not item else f"{name}[{d}]"
                    return f"{place} = {x}"
    return ""


def _check_finite(loss: float, parameters: Sequence[Value]) -> None:
    """Refuse to take a step from a NaN or infinite loss or gradient: it would ruin every weight."""
    if not math.isfinite(loss):
        raise _NotFinite("the loss", loss)
    for i, p in enumerate(parameters):
        if not math.isfinite(p.grad):
            raise _NotFinite(f"the gradient of {p.label or f'parameter {i}'}", p.grad)
