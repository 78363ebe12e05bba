"""Watching a function of Values run once: what it compared, created and read.

Compiled replay, batched replay and ONNX export all start the same way: run
the user's function once with the engine and keep the graph it built. A
`Tracer` is an observer of the engine (see `engine.Observer`): it changes
nothing on the `Value` class, watches only the thread that traces, and
records

- every comparison on a Value (`<`, `<=`, `>`, `>=`, `bool(v)`): a branch on
  data, after which other numbers could build another graph;
- every leaf Value created inside the function (constants it made itself);
- every read of `.data` (a number frozen into whatever is built from the trace).

Tracing at other numbers. `Tracer(at={leaf: number})` answers each comparison
as the function would at those numbers, by evaluating both sides from the
leaves with each node's float rule, without writing into any Value. A retrace
of a compiled function at explicit parameters uses this, so other threads
never see foreign numbers in shared weights. The nodes still hold the numbers
of the Values as they are; only the branches taken follow `at`.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any

from autograd_core.engine import FLOAT, Observer, Value, observing, walk
from autograd_core.symbolic import BINARY

__all__ = ["Tracer", "TracingError", "TracingWarning"]


class TracingError(Exception):
    """The function cannot be traced as a fixed graph; the message says why and what to do."""


class TracingWarning(UserWarning):
    """The function read a Value's `.data` while traced: that number is frozen in."""


_MECHANISM = {os.path.join(os.path.dirname(__file__), name) for name in ("engine.py", "trace.py")}


def where_called() -> str:
    """File, line and function of the code that made the comparison or read."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _MECHANISM:
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def describe_node(v: Any) -> str:
    """A Value as a message shows it: label and data."""
    if v.__class__ is not Value:
        return repr(v)
    label = f" {v.label!r}" if v.label else ""
    return f"Value{label} (data={v._data!r})"


class Tracer(Observer):
    """Records what a function does with Values while it runs in this thread.

    Use as `with Tracer() as tr: out = f(*leaves)`.
    """

    def __init__(self, at: dict[Value, float] | None = None) -> None:
        self.comparisons: list[tuple[Value, str, Any, bool, str]] = []
        self.created: set[Value] = set()
        self.data_reads: list[str] = []
        self._at = dict(at or {})
        self._memo: dict[Value, float] = {}
        self._context: Any = None

    def __enter__(self) -> Tracer:
        self._context = observing(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)

    # -- the observer's side ---------------------------------------------------

    def leaf_created(self, leaf: Value) -> None:
        self.created.add(leaf)

    def compared(self, left: Value, symbol: str, right: Any, outcome: bool) -> bool:
        if self._at:
            outcome = BINARY[symbol](self._value_at(left), self._value_at(right))
        right = right if right.__class__ is Value else float(right)
        self.comparisons.append((left, symbol, right, outcome, where_called()))
        return outcome

    def data_read(self, value: Value) -> None:
        self.data_reads.append(where_called())

    # -- what the caller asks afterwards -----------------------------------------

    def refuse_comparisons(self, retrace_hint: bool = True) -> None:
        """Raise TracingError if the function branched on data (naming compiled's retrace)."""
        if not self.comparisons:
            return
        left, op, right, outcome, where = self.comparisons[0]
        more = f" (and {len(self.comparisons) - 1} more)" if len(self.comparisons) > 1 else ""
        test = (
            f"bool({describe_node(left)})"
            if op == "!="
            else (f"{describe_node(left)} {op} {describe_node(right)}")
        )
        raise TracingError(
            f"the function compared Values at {where}: {test} was {outcome}{more}. With other "
            "numbers it could build another graph, so it is not traced. Remove the comparison "
            "(relu, abs and m.where in a primitive are fine: they branch inside one node)"
            + (
                ", or pass retrace=True to re-check every comparison on each call and trace "
                "again when one changes."
                if retrace_hint
                else "."
            )
        )

    def warn_data_reads(self, frozen_into: str, stacklevel: int = 3) -> None:
        """A TracingWarning naming where the function read `.data` (if it did)."""
        if not self.data_reads:
            return
        reads = self.data_reads
        more = f" (and {len(reads) - 1} more)" if len(reads) > 1 else ""
        warnings.warn(
            TracingWarning(
                f"the function read .data at {reads[0]}{more}: the number read is frozen into "
                f"{frozen_into}. If it decided anything (a branch, a constant), results for "
                "other numbers will be wrong; compare Values instead, which is detected. A read "
                "only for display is harmless."
            ),
            stacklevel=stacklevel + 1,
        )

    def _value_at(self, x: Any) -> float:
        """`x` as the function would compute it at the numbers in `at`."""
        if x.__class__ is not Value:
            return float(x)
        memo, at = self._memo, self._at
        if x in memo:
            return memo[x]
        for node in walk((x,)):
            if node in memo:
                continue
            if node._op is None:
                memo[node] = at.get(node, node._data)
            else:
                args = [memo[a] if a.__class__ is Value else a for a in node.operands]
                memo[node] = node._op.rule(FLOAT, *args)[0]
        return memo[x]
