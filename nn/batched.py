"""`train(..., batched=True)`: each built-in loss written for ONE example, replayed over batches.

`autograd_core.compile_batched` traces a function of one example's features
and target. The losses in `nn.losses` take whole batches and check their
targets in Python (`if y not in (-1, 1)`, `zs[k]`), which a trace of one
example cannot replay for others, so here each loss is written per example
with the target as a Value, and the checks run once on the whole data:

- hinge: relu(1 - y*s); mse: mean over outputs of (p - t)**2; sse: 0.5 * sum
  over outputs of (t - p)**2 (times B afterwards: sse is a sum, not a mean);
  bce: -(y*log p + (1-y)*log(1-p)); bce-logits and softmax-ce: the stable
  formulas of `nn.losses` (`bce_with_logits_term`, `softmax_ce_term`), the
  latter with z_k = sum_j onehot_j * z_j, the class index turned into a
  one-hot row; both are built on op-table primitives (softplus, logsumexp)
  whose rules decide elementwise, so they trace and batch.
- The L2 term l2 * sum(p*p) depends on the parameters only: it is added once
  per step, outside the mean over examples, as `train_step` adds it.

Each per-example loss equals, averaged over a batch, the batch loss of
`nn.losses` on the same data (to rounding: the engine adds terms in order,
NumPy pairwise).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core.engine import OPS, Value
from autograd_core.errors import as_float, describe, is_number
from nn.losses import LOSSES, bce_with_logits_term, softmax_ce_term

__all__ = ["BatchedTrainer", "maximum", "per_example_loss"]

maximum = OPS["maximum"]  # max(a, b) as one node: now a primitive of the op table


def _outputs(p: Any) -> list:
    return list(p) if isinstance(p, (list, tuple)) else [p]


def per_example_loss(name: str) -> Callable[[Any, Any], Value]:
    """`loss(prediction, target)` for one example, the target a Value (or list of Values)."""

    def hinge(p: Any, y: Any) -> Value:
        return (1 + -y * p).relu()

    def mse(p: Any, y: Any) -> Value:
        ps, ys = _outputs(p), _outputs(y)
        return sum((pi - yi) ** 2 for pi, yi in zip(ps, ys)) * (1.0 / len(ps))

    def sse(p: Any, y: Any) -> Value:
        return 0.5 * sum((yi - pi) ** 2 for pi, yi in zip(_outputs(p), _outputs(y)))

    def bce(p: Any, y: Any) -> Value:
        return -(y * p.log() + (1 - y) * (1 - p).log())

    def bce_logits(z: Any, y: Any) -> Value:
        return bce_with_logits_term(z, y)

    def softmax_ce(zs: Any, onehot: Any) -> Value:
        zs = _outputs(zs)
        picked = sum((t * z for t, z in zip(onehot, zs)), 0.0)
        return softmax_ce_term(zs, picked)

    table = {
        "hinge": hinge,
        "mse": mse,
        "sse": sse,
        "bce": bce,
        "bce-logits": bce_logits,
        "softmax-ce": softmax_ce,
    }
    return table[name]


class BatchedTrainer:
    """The batched training step for `train`: zero_grad, replayed forward/backward, step."""

    def __init__(
        self,
        model: Callable[[Any], Any],
        optimizer: Any,
        loss: str | Callable,
        X: Sequence[Sequence[float]],
        y: Sequence[Any],
        l2: float,
        params: Sequence[Value],
    ) -> None:
        from autograd_core.batched import compile_batched

        self.optimizer = optimizer
        self.params = list(params)
        self.l2 = l2
        self.name = loss if isinstance(loss, str) else None
        self.scale_by_batch = loss == "sse"  # a sum over examples, not a mean
        if self.name is not None:
            if self.name not in LOSSES:
                raise ValueError(f"unknown loss {self.name!r}")
            one = per_example_loss(self.name)
        else:
            custom = loss

            def one(p: Any, t: Any) -> Value:
                return custom([p], [t])

        def per_example(x: list[Value], t: Any) -> tuple[Value, list[Value]]:
            p = model(x)
            return one(p, t), _outputs(p)

        first = model(list(X[0]))
        self.multi = isinstance(first, (list, tuple))
        self.classes = len(first) if self.multi else 1
        target = self.targets([y[0]])[0]
        self.step = compile_batched(per_example, self.params, (list(X[0]), target))
        self._cache: dict[int, tuple] = {}  # id(data) -> (data, arrays): the full and test sets
        self._arrays(X, y, keep=True)

    def _arrays(self, X: Sequence[Any], y: Sequence[Any], keep: bool = False) -> tuple:
        """X and the targets as float arrays, converted once for data sets used every step."""
        import numpy as np

        hit = self._cache.get(id(X))
        if hit is not None and hit[0] is X and hit[1] is y:
            return hit[2]
        arrays = (np.asarray(X, dtype=np.float64), np.asarray(self.targets(y), dtype=np.float64))
        if keep:
            self._cache[id(X)] = (X, y, arrays)
        return arrays

    # -- targets ---------------------------------------------------------------

    def targets(self, y: Sequence[Any]) -> list:
        """Targets checked as `nn.losses` checks them, in the form the trace takes."""
        name = self.name
        if name == "softmax-ce":
            rows = []
            for k in y:
                index = isinstance(k, numbers.Integral) and not isinstance(k, bool)
                if not index or not 0 <= k < self.classes:
                    raise ValueError(
                        f"softmax_cross_entropy targets must be class indices "
                        f"0..{self.classes - 1}, got {describe(k)}"
                    )
                row = [0.0] * self.classes
                row[k] = 1.0
                rows.append(row)
            return rows
        out = []
        for t in y:
            ts = t if isinstance(t, (list, tuple)) else [t]
            for v in ts:
                if not is_number(v):
                    raise TypeError(f"{name or 'loss'} targets must be numbers, got {describe(v)}")
                if not math.isfinite(v):
                    raise ValueError(f"{name or 'loss'} targets must be finite, got {describe(v)}")
                if name == "hinge" and v not in (-1, 1):
                    raise ValueError(f"hinge targets must be -1 or +1, got {float(v)!r}")
                if name in ("bce", "bce-logits") and not 0 <= v <= 1:
                    raise ValueError(f"{name} targets must be in [0, 1], got {float(v)!r}")
            out.append([as_float(v, "target") for v in ts] if ts is t else as_float(t, "target"))
        return out

    # -- one step --------------------------------------------------------------

    def _predictions(self, aux: Any) -> list:
        if self.multi:
            return aux.tolist()
        return aux[:, 0].tolist()

    def __call__(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, list]:
        import numpy as np

        self.optimizer.zero_grad()
        params = self.params
        data = np.array([p.data for p in params], dtype=np.float64)
        mean, grads, aux = self.step.run(*self._arrays(X, y), param_data=data)
        g = np.array(grads)
        if self.scale_by_batch:
            n = len(X)
            mean, g = mean * n, g * n
        l2 = self.l2
        if l2:
            mean = mean + l2 * float(data @ data)
            g += l2 * data  # d/dp of l2 * p*p = l2*p + l2*p, added as the engine adds them
            g += l2 * data
        for p, gi in zip(params, g.tolist()):
            p.grad += gi
        from nn.train import _check_finite

        _check_finite(float(mean), params)  # before the update, as train_step does
        self.optimizer.step()
        return mean, self._predictions(aux)

    def evaluate(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, float | None]:
        """Loss (with the l2 term) and accuracy on X, y: one replayed forward pass, no update."""
        from nn.train import accuracy

        mean, _, aux = self.step.run(*self._arrays(X, y, keep=True), backward=False)
        if self.scale_by_batch:
            mean *= len(X)
        if self.l2:
            mean += self.l2 * sum(p.data * p.data for p in self.params)
        acc = accuracy(self.name, self._predictions(aux), list(y)) if self.name else None
        return mean, acc

    def accuracy(self, X: Sequence[Any], y: Sequence[Any]) -> float | None:
        """Accuracy on X, y at the current parameters (one replayed forward pass)."""
        return self.evaluate(X, y)[1]
