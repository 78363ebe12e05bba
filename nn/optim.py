"""`SGD`: stochastic gradient descent with momentum and weight decay.

The update follows PyTorch's `torch.optim.SGD` (dampening 0, no Nesterov),
so numbers can be checked against it by hand:

    g   = p.grad + weight_decay * p.data
    buf = g                         on the first step
    buf = momentum * buf + g        afterwards
    p.data -= lr * buf              (buf is g itself when momentum is 0)

Updates write `.data` directly: they are not part of any graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from autograd_core.engine import Value
from autograd_core.errors import as_float, describe, is_number

__all__ = ["SGD"]

LearningRate = float | Callable[[int], float]


def _rate(lr: object, what: str) -> float:
    if not is_number(lr):
        raise TypeError(f"{what} must be a finite number >= 0, got {describe(lr)}")
    rate = as_float(lr, what)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {describe(lr)}")
    return rate


class SGD:
    """Gradient descent over a list of parameters; `lr` may be a schedule `lr(step)`."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 0.1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD got an empty parameter list")
        seen: set[Value] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"SGD parameters must be Values, item {i} is {describe(p)}")
            if p in seen:
                raise ValueError(f"SGD parameter {i} ({p.label or p!r}) is listed twice")
            seen.add(p)
        if not callable(lr):
            _rate(lr, "lr")
            if lr == 0:
                raise ValueError("lr must be positive, got 0")
        self.lr = lr
        self.momentum = _rate(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.weight_decay = _rate(weight_decay, "weight_decay")
        self.steps = 0  # how many steps were taken; the schedule's argument
        self._buffers: list[float] | None = None

    def current_lr(self) -> float:
        """The learning rate the next `step()` will use."""
        if callable(self.lr):
            return _rate(self.lr(self.steps), f"lr({self.steps})")
        return float(self.lr)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to 0 (`backward()` accumulates)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Move every parameter against its gradient, once."""
        lr, mu, wd = self.current_lr(), self.momentum, self.weight_decay
        params = self.params
        if mu == 0.0 and wd == 0.0:  # plain descent, micrograd's update
            for p in params:
                p.data -= lr * p.grad
        else:
            grads = [p.grad + wd * p.data for p in params] if wd else [p.grad for p in params]
            if mu:
                if self._buffers is None:
                    self._buffers = grads
                else:
                    self._buffers = [mu * b + g for b, g in zip(self._buffers, grads)]
                grads = self._buffers
            for p, g in zip(params, grads):
                p.data -= lr * g
        self.steps += 1

    def __repr__(self) -> str:
        lr = "schedule" if callable(self.lr) else self.lr
        return (
            f"SGD({len(self.params)} parameters, lr={lr}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay})"
        )
