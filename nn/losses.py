"""Losses, written only with Value operations.

No loss here has a derivative of its own: each is a formula over engine ops,
so its gradient comes from the engine's op rules and nothing else. The
numerically careful ones (cross-entropy from logits, softmax) are written
with the op table's stable primitives `softplus` and `logsumexp`, so that no
intermediate overflows and no digits cancel.

Every loss takes predictions (a Value or number, or a list of them, one per
example) and targets of the same length, and returns one Value. Means are
`sum(terms) * (1.0 / n)`, the way micrograd's demo writes them, so results
match it to the last bit.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from autograd_core.engine import Value, linear
from autograd_core.errors import as_float, describe, is_number
from autograd_core.stable import logsumexp, softplus

__all__ = [
    "LOSSES",
    "binary_cross_entropy",
    "bce_with_logits_term",
    "binary_cross_entropy_with_logits",
    "hinge",
    "l2_penalty",
    "log_sum_exp",
    "mse",
    "softmax_ce_term",
    "softmax_cross_entropy",
    "sse",
]

Number = int | float
Scalar = Value | Number


def _batch(predictions: Any, targets: Any, name: str) -> tuple[list, list]:
    """Predictions and targets as two equal-length, non-empty lists."""
    if isinstance(predictions, Value) or is_number(predictions):
        predictions = [predictions]
    if is_number(targets):
        targets = [targets]
    if not isinstance(predictions, Sequence) or not isinstance(targets, Sequence):
        raise TypeError(
            f"{name} needs predictions and targets as Values/numbers or lists of them, got "
            f"{type(predictions).__name__} and {type(targets).__name__}"
        )
    if len(predictions) != len(targets):
        raise ValueError(
            f"{name} needs one target per prediction, got {len(predictions)} predictions "
            f"and {len(targets)} targets"
        )
    if not predictions:
        raise ValueError(f"{name} needs at least one prediction")
    return list(predictions), list(targets)


def _target(t: object, name: str) -> float:
    if not is_number(t):
        raise TypeError(f"{name} targets must be numbers, got {describe(t)}")
    t = as_float(t, f"{name} target")
    if not math.isfinite(t):
        raise ValueError(f"{name} targets must be finite, got {t!r}")
    return t


def _pairs(predictions: Any, targets: Any, name: str) -> list[tuple[Value, float]]:
    """(prediction, target) pairs; a model with several outputs gives one pair per output."""
    preds, targs = _batch(predictions, targets, name)
    pairs: list[tuple[Value, float]] = []
    for p, t in zip(preds, targs):
        if isinstance(p, (list, tuple)):  # several outputs, several targets
            if not isinstance(t, (list, tuple)) or len(t) != len(p):
                raise ValueError(
                    f"{name}: a prediction with {len(p)} outputs needs as many targets, "
                    f"got {describe(t)}"
                )
            pairs.extend((_value(pi, name), _target(ti, name)) for pi, ti in zip(p, t))
        else:
            pairs.append((_value(p, name), _target(t, name)))
    return pairs


def _value(p: object, name: str) -> Value:
    """A prediction as a Value (a plain number becomes a leaf), so every loss returns a Value."""
    if isinstance(p, Value):
        return p
    if not is_number(p):
        raise TypeError(f"{name} predictions must be Values or numbers, got {describe(p)}")
    return Value(as_float(p, f"{name} prediction"))


def _mean(terms: list) -> Value:
    return sum(terms) * (1.0 / len(terms))


# ---------------------------------------------------------------------------
# Regression.


def mse(predictions: Any, targets: Any) -> Value:
    """Mean squared error: mean of (prediction - target)**2."""
    return _mean([(p - t) ** 2 for p, t in _pairs(predictions, targets, "mse")])


def sse(predictions: Any, targets: Any) -> Value:
    """Sum of squared errors with the 1/2 of seeds 001 and 002: 0.5 * sum((y - yhat)**2).

    The 1/2 cancels the 2 of the derivative, so d/dyhat = yhat - y.
    """
    # The ignore: with no pair at all (sse([[]], [[]])) sum() gives its start 0 and this
    # returns 0.0, a float, not a Value. Kept as it was; the other losses raise there.
    return 0.5 * sum((t - p) ** 2 for p, t in _pairs(predictions, targets, "sse"))  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Binary classification.


def hinge(scores: Any, targets: Any) -> Value:
    """SVM max-margin loss, mean of relu(1 - y*score) with targets -1 or +1 (micrograd's demo)."""
    terms = []
    for s, y in _pairs(scores, targets, "hinge"):
        if y not in (-1.0, 1.0):
            raise ValueError(f"hinge targets must be -1 or +1, got {y!r}")
        terms.append((1 + -y * s).relu())
    return _mean(terms)


def binary_cross_entropy(probabilities: Any, targets: Any) -> Value:
    """-mean(y*log(p) + (1-y)*log(1-p)) for probabilities p in (0, 1), targets in [0, 1].

    A term whose weight is 0 is left out, so p = 1 with y = 1 costs nothing
    instead of failing on log(0). A confident wrong answer (p = 1 with y = 0)
    is an infinite loss: raised as ValueError, pointing to the logits form.
    """
    terms = []
    for p, y in _pairs(probabilities, targets, "binary_cross_entropy"):
        if not 0.0 <= y <= 1.0:
            raise ValueError(f"binary_cross_entropy targets must be in [0, 1], got {y!r}")
        pd = p.data
        if not 0.0 <= pd <= 1.0:
            raise ValueError(
                f"binary_cross_entropy needs probabilities in [0, 1], got {pd!r}; "
                "for raw scores use binary_cross_entropy_with_logits"
            )
        if (y > 0 and pd == 0.0) or (y < 1 and pd == 1.0):
            raise ValueError(
                f"binary_cross_entropy is infinite for probability {pd!r} with target {y!r}; "
                "binary_cross_entropy_with_logits stays finite"
            )
        term = y * p.log() if y > 0 else None
        if y < 1:
            rest = (1 - y) * (1 - p).log()
            term = rest if term is None else term + rest
        assert term is not None  # y > 0 or y < 1
        terms.append(-term)
    return _mean(terms)


def bce_with_logits_term(z: Any, y: Any) -> Value:
    """One example's loss: (1 - y) * softplus(z) + y * softplus(-z).

    The same function as -y*log(sigmoid(z)) - (1-y)*log(1 - sigmoid(z)) and as
    max(z, 0) - z*y + log(1 + e^-|z|), but both terms are >= 0, so nothing
    cancels (z = 40, y = 1 gives 4.25e-18, not 0), and softplus is one smooth
    primitive: the derivative is sigmoid(z) - y everywhere, 0.5 - y at z = 0
    (no relu or abs kink). `nn.batched` uses it with y a Value.
    """
    return (1 - y) * softplus(z) + y * softplus(-z)


def binary_cross_entropy_with_logits(logits: Any, targets: Any) -> Value:
    """Cross-entropy of sigmoid(z) against y in [0, 1], stable and accurate for any logit z.

    Each term is `bce_with_logits_term`: (1 - y) * softplus(z) + y * softplus(-z),
    with `softplus` a primitive of the op table (derivative: the sigmoid).
    """
    terms = []
    for z, y in _pairs(logits, targets, "binary_cross_entropy_with_logits"):
        if not 0.0 <= y <= 1.0:
            raise ValueError(
                f"binary_cross_entropy_with_logits targets must be in [0, 1], got {y!r}"
            )
        terms.append(bce_with_logits_term(z, y))
    return _mean(terms)


# ---------------------------------------------------------------------------
# Several classes.


def log_sum_exp(logits: Sequence[Scalar]) -> Value:
    """log(sum(exp(z_i))): the op table's `logsumexp`, whose derivative is the softmax.

    One node: it shifts by the largest z_i inside its rule (every exp sees a
    number <= 0, so nothing overflows) and never adds and removes that term's 1.
    """
    zs = list(logits)
    if not zs:
        raise ValueError("log_sum_exp needs at least one logit")
    return logsumexp(zs)


def softmax_ce_term(zs: Sequence[Any], picked: Any) -> Value:
    """One example's -log(softmax(z)[k]), `picked` being z_k: logsumexp(z - z_k).

    Shifting by the target logit, not adding the max back and subtracting z_k,
    keeps the digits: for logits [M, M-1, M-2.5] with M = 1e12 the loss is
    log(1 + e^-1 + e^-2.5), not (M + 0.37) - M. `nn.batched` uses it with z_k
    picked by a one-hot row of Values.
    """
    return logsumexp([z - picked for z in zs])


def _is_index(k: object) -> bool:
    """A class index: any integer (numpy's included) but a bool."""
    return isinstance(k, numbers.Integral) and not isinstance(k, bool)


def softmax_cross_entropy(logits: Any, targets: Any) -> Value:
    """Mean of -log(softmax(z)[target]) = logsumexp(z - z[target]), one class index per example.

    `logits` is one list of Values (one example) or a list of such lists;
    `targets` the class index (an int in range) or a list of them.
    """
    if logits and isinstance(logits, Sequence) and not isinstance(logits[0], Sequence):
        logits = [logits]  # one example
    if _is_index(targets):
        targets = [targets]
    if not isinstance(logits, Sequence) or not isinstance(targets, Sequence):
        raise TypeError("softmax_cross_entropy needs lists of logits and of class indices")
    if len(logits) != len(targets) or not logits:
        raise ValueError(
            f"softmax_cross_entropy needs one class index per example, got {len(logits)} "
            f"examples and {len(targets)} targets"
        )
    terms = []
    for zs, k in zip(logits, targets):
        if not isinstance(zs, Sequence) or len(zs) < 2:
            raise ValueError(
                f"softmax_cross_entropy needs at least 2 logits per example, got {describe(zs)}"
            )
        if not _is_index(k) or not 0 <= k < len(zs):
            raise ValueError(
                f"softmax_cross_entropy targets must be class indices 0..{len(zs) - 1}, "
                f"got {describe(k)}"
            )
        terms.append(softmax_ce_term(zs, zs[k]))
    return _mean(terms)


# ---------------------------------------------------------------------------
# Regularisation.


def l2_penalty(parameters: Iterable[Value], alpha: float = 1.0) -> Value:
    """alpha * sum(p*p): weight decay written as a loss (micrograd's demo uses alpha = 1e-4).

    The sum of squares is one `linear` node with each parameter as both weight
    and input (0 + p0*p0 + p1*p1 + ..., the same additions as `sum()`), so each
    parameter receives 2*p: one node instead of two per parameter.
    """
    params = list(parameters)
    return alpha * linear(params, params, 0.0)


LOSSES: dict[str, Callable[[Any, Any], Value]] = {
    "hinge": hinge,
    "mse": mse,
    "sse": sse,
    "bce": binary_cross_entropy,
    "bce-logits": binary_cross_entropy_with_logits,
    "softmax-ce": softmax_cross_entropy,
}
