"""Anomaly mode: stop at the first operation that makes a NaN or an infinity.

A NaN in a loss says nothing about where it came from; by the time it is
seen, every gradient is NaN too. Inside `detect_anomaly()` (like PyTorch's
`torch.autograd.detect_anomaly`) the engine checks every node it builds and
every gradient contribution it adds, and `AnomalyError` names the first
operation at fault, its operands and the nearest labelled node.

It is opt-in because the checks cost time: the engine runs them only while
some thread is in anomaly mode, through its `_anomaly_mode` hook.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autograd_core.engine import Observer, Value, observing

__all__ = ["AnomalyError", "detect_anomaly", "nearest_label"]


class AnomalyError(ArithmeticError):
    """An operation produced a NaN or an infinity; the message says which and where."""


def _bad(x: Any) -> bool:
    if isinstance(x, Value):
        x = x.data
    return not math.isfinite(x)


def nearest_label(node: Value) -> tuple[str, int] | None:
    """The closest labelled node behind `node` and its distance in edges, for locating errors.

    Breadth-first through parents, starting at `node` itself (distance 0);
    ties go to the earlier operand. None if no labelled node is behind it.
    """
    seen = {node}
    queue = deque([(node, 0)])
    while queue:
        current, dist = queue.popleft()
        if current.label:
            return current.label, dist
        for parent, _ in current.parents:
            if parent not in seen:
                seen.add(parent)
                queue.append((parent, dist + 1))
    return None


def _where(node: Value) -> str:
    found = nearest_label(node)
    if found is None:
        return "no labelled node nearby (label Values with `.label` to locate errors)"
    label, dist = found
    if dist == 0:
        return f"at the node labelled {label!r}"
    steps = "step" if dist == 1 else "steps"
    return f"nearest labelled node: {label!r}, {dist} {steps} back"


def _operand(x: Any) -> str:
    if isinstance(x, Value):
        return f"{x.label!r} = {x.data!r}" if x.label else f"{x.data!r}"
    return f"{x!r} (constant)"


def _describe_op(node: Value) -> str:
    operands = ", ".join(_operand(x) for x in node.operands)
    op = node.op
    assert op is not None  # only computed nodes are described
    name = op.name if op.symbol == op.name else f"{op.name} ({op.symbol})"
    return f"{name} of [{operands}]"


class _Checker(Observer):
    """An observer of the engine: raise at the first non-finite number."""

    wants_backward = True
    wants_nodes = True

    def node_created(self, node: Value) -> None:
        problems = []
        if _bad(node.data):
            problems.append(f"output {node.data!r}")
        for i, (_, local) in enumerate(node.parents):
            if _bad(local):
                problems.append(f"local derivative {local!r} for Value operand #{i}")
        if problems:
            raise AnomalyError(
                f"anomaly in the {self.phase} pass: {_describe_op(node)} gave "
                f"{' and '.join(problems)}; {_where(node)}"
            )

    def backward(self, node: Value, parent: Value, local: Any, contribution: Any) -> None:
        self.backward_edge(node, parent, local, node.grad, contribution)

    def backward_edge(
        self, node: Value, parent: Value, local: Any, upstream: Any, contribution: Any
    ) -> None:
        if _bad(contribution):
            into = f" {parent.label!r}" if parent.label else ""
            raise AnomalyError(
                f"anomaly in the backward pass: the gradient sent by {_describe_op(node)} "
                f"into its operand{into} (data {parent.data!r}) is {contribution!r} = local "
                f"derivative {local!r} * upstream gradient {upstream!r}; {_where(node)}"
            )


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise AnomalyError at the first NaN or infinity, forward or backward (slow; for debugging).

    Checks each node's output and local derivatives as it is built, and each
    gradient contribution during `backward()`. Infinite local derivatives
    count too, so sqrt at 0 (whose slope is infinite by design) is reported,
    and so does the NaN slope of `x ** y` in `y` for a negative base.
    Usable as a `with` block or a decorator; only this thread is checked.
    """
    with observing(_Checker()):
        yield
