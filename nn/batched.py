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

`BatchedTrainer` takes the steps. With nn's `SGD` it keeps the parameters
and the momentum buffer in NumPy arrays (one float64 vector each) and does
SGD's update on them, so a step has no Python loop over parameters; the
Values are written back by `sync()` (`train` says when). Accuracy is read
from the outputs' array, and mini-batches are rows of the training set's
arrays, converted once.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core.engine import OPS, Value
from autograd_core.errors import as_float, describe, is_number
from nn.losses import LOSSES, bce_with_logits_term, softmax_ce_term
from nn.measures import _check_finite, _NotFinite, accuracy

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
    """The batched training step for `train`: replayed forward/backward, then the update.

    With nn's `SGD` over exactly the trained parameters (what `train` builds),
    the parameters live in one float64 vector `pdata` and the momentum buffer
    in another, and the update is `SGD.step`'s arithmetic on those arrays:
    a step has no Python loop over parameters. The `Value`s (`.data`, and
    `.grad` = the last step's gradient) and the optimizer's `steps` and
    momentum buffers are written back by `sync()` only; `train` calls it at
    the end, before callbacks and every `sync_every` steps. Numbers written
    into `Value.data` in between are not read (`pdata` is the truth until
    `sync()`), unless `reload()` is called.

    Any other optimizer (a subclass of SGD, another class, or one over other
    parameters) takes the Values' way: read `.data` each step, add into
    `.grad`, call `optimizer.step()`. The Values are then always current.
    """

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
        import numpy as np

        from autograd_core.batched import compile_batched
        from nn.optim import SGD

        self.optimizer = optimizer
        self.params = list(params)
        self.l2 = l2
        self.name = loss if isinstance(loss, str) else None
        self.scale_by_batch = loss == "sse"  # a sum over examples, not a mean
        if isinstance(loss, str):  # self.name is loss
            if loss not in LOSSES:
                raise ValueError(f"unknown loss {loss!r}")
            one = per_example_loss(loss)
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
        self._full = self._arrays(X, y, keep=True)  # mini-batches are rows of these
        run_arrays = getattr(self.step, "run_arrays", None)
        self._outputs_from_run_arrays = run_arrays is not None and (
            "outputs" in inspect.signature(run_arrays).parameters
        )
        # The parameters in arrays, when the update is plain SGD over exactly these params.
        self.in_arrays = type(optimizer) is SGD and len(optimizer.params) == len(self.params)
        self.in_arrays = self.in_arrays and all(
            a is b for a, b in zip(optimizer.params, self.params)
        )
        self.pdata = np.array([p.data for p in self.params], dtype=np.float64)
        self.grad = np.zeros(len(self.params))  # the last step's gradient (`.grad` at sync)
        self.buffer: Any = None  # SGD's momentum buffer, once a step with momentum was taken
        if self.in_arrays and optimizer._buffers is not None:
            self.buffer = np.array(optimizer._buffers, dtype=np.float64)

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

    def _accuracy(self, aux: Any, Y: Any) -> float | None:
        """`nn.train.accuracy` of the outputs [B, k] against the target array, with NumPy.

        The same fractions as `accuracy` on the lists (which it falls back to
        where they could differ: NaN logits, targets given as rows).
        """
        import numpy as np

        name = self.name
        if name is None or (self.multi and name != "softmax-ce"):
            return None  # no loss to read classes by, or several outputs that are no logits
        if name == "softmax-ce":
            if np.isnan(aux).any():
                return accuracy(name, aux.tolist(), np.argmax(Y, axis=1).tolist())
            right = np.argmax(aux, axis=1) == np.argmax(Y, axis=1)  # the first largest, as _argmax
        elif Y.ndim != 1:
            return accuracy(name, self._predictions(aux), Y.tolist())
        elif name in ("hinge", "bce-logits"):
            right = (aux[:, 0] > 0) == (Y > 0)
        elif name == "bce" or np.isin(Y, (0.0, 1.0)).all():  # mse, sse: classes 0/1 only
            right = (aux[:, 0] > 0.5) == (Y > 0.5)
        else:
            return None
        return int(np.count_nonzero(right)) / len(right)

    def _data(self, X: Sequence[Any], y: Sequence[Any], index: Sequence[int] | None) -> tuple:
        """The batch as arrays: rows `index` of the training set's, or X and y converted."""
        if index is None:
            return self._arrays(X, y)
        import numpy as np

        rows = np.asarray(index, dtype=np.intp)
        return self._full[0][rows], self._full[1][rows]

    def _gradient(self, X_: Any, Y_: Any, pdata: Any) -> tuple[float, Any, Any]:
        """Mean loss (l2 term included), its gradient as an array, and the outputs [B, k]."""
        import numpy as np

        if self._outputs_from_run_arrays:
            mean, g, aux = self.step.run_arrays(X_, Y_, pdata, outputs=True)
        else:  # a run_arrays without the outputs: `run` gives them, the gradient as a list
            mean, grads, aux = self.step.run(X_, Y_, param_data=pdata)
            g = np.asarray(grads, dtype=np.float64)
        if self.scale_by_batch:
            n = len(X_)
            mean, g = mean * n, g * n
        l2 = self.l2
        if l2:
            mean = mean + l2 * float(pdata @ pdata)
            g = g + l2 * pdata  # d/dp of l2 * p*p = l2*p + l2*p, added as the engine adds them
            g += l2 * pdata
        return float(mean), g, aux

    def __call__(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, list]:
        """One step on X, y: the loss and the predictions (a NaN or infinity: no update)."""
        mean, aux, _ = self._step(*self._data(X, y, None))
        return mean, self._predictions(aux)

    def step_accuracy(
        self, X: Sequence[Any], y: Sequence[Any], index: Sequence[int] | None = None
    ) -> tuple[float, float | None]:
        """One step: the loss and the accuracy (`index`: the rows of the training set, or None)."""
        mean, aux, Y_ = self._step(*self._data(X, y, index))
        return mean, self._accuracy(aux, Y_)

    def _step(self, X_: Any, Y_: Any) -> tuple[float, Any, Any]:
        if not self.in_arrays:
            return self._step_values(X_, Y_)
        mean, g, aux = self._gradient(X_, Y_, self.pdata)
        self.grad = g
        self._check_finite(mean, g)  # before the update, as train_step does
        # SGD.step's arithmetic, elementwise on arrays (so the same numbers bit for bit):
        # g += weight_decay * p; buf = g, then momentum * buf + g; p -= lr * buf
        opt = self.optimizer
        lr, mu, wd = opt.current_lr(), opt.momentum, opt.weight_decay
        if wd:
            g = g + wd * self.pdata
        if mu:
            self.buffer = g.copy() if self.buffer is None else mu * self.buffer + g
            g = self.buffer
        self.pdata = self.pdata - lr * g
        opt.steps += 1
        return mean, aux, Y_

    def _check_finite(self, mean: float, g: Any) -> None:
        import numpy as np

        if not math.isfinite(mean):
            raise _NotFinite("the loss", mean)
        bad = ~np.isfinite(g)
        if bad.any():
            i = int(np.argmax(bad))
            p = self.params[i]
            raise _NotFinite(f"the gradient of {p.label or f'parameter {i}'}", float(g[i]))

    def _step_values(self, X_: Any, Y_: Any) -> tuple[float, Any, Any]:
        """The step through the Values, for an optimizer that only knows them."""
        import numpy as np

        self.optimizer.zero_grad()
        params = self.params
        data = np.array([p.data for p in params], dtype=np.float64)
        mean, g, aux = self._gradient(X_, Y_, data)
        for p, gi in zip(params, g.tolist()):
            p.grad += gi

        _check_finite(mean, params)  # before the update, as train_step does
        self.optimizer.step()
        return mean, aux, Y_

    # -- the Values --------------------------------------------------------------

    def sync(self) -> None:
        """Write the parameters, the last gradient and SGD's state back into the Values.

        One pass over the parameters. After it, `p.data`, `p.grad`,
        `optimizer.steps` and the momentum buffer are what `SGD.step` on the
        Values would have left after the same steps, bit for bit.
        """
        if not self.in_arrays:
            return  # the Values are the parameters: always current
        for p, v, gi in zip(self.params, self.pdata.tolist(), self.grad.tolist()):
            p._data = v
            p.grad = gi
        if self.buffer is not None:
            self.optimizer._buffers = self.buffer.tolist()

    def reload(self) -> None:
        """Read the parameters back from the Values (after changing `p.data` by hand)."""
        import numpy as np

        if self.in_arrays:
            self.pdata = np.array([p._data for p in self.params], dtype=np.float64)

    def _current(self) -> Any:
        import numpy as np

        if self.in_arrays:
            return self.pdata
        return np.array([p.data for p in self.params], dtype=np.float64)

    def evaluate(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, float | None]:
        """Loss (with the l2 term) and accuracy on X, y: one replayed forward pass, no update."""
        pdata = self._current()
        X_, Y_ = self._arrays(X, y, keep=True)
        mean, _, aux = self.step.run(X_, Y_, backward=False, param_data=pdata)
        if self.scale_by_batch:
            mean *= len(X)
        if self.l2:
            mean += self.l2 * float(pdata @ pdata)
        return mean, self._accuracy(aux, Y_)

    def accuracy(self, X: Sequence[Any], y: Sequence[Any]) -> float | None:
        """Accuracy on X, y at the current parameters (one replayed forward pass)."""
        return self.evaluate(X, y)[1]
