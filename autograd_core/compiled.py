"""Record a function of Values once, then replay it on new numbers at float speed.

A training loop builds the same graph every step with new numbers. Here the
function is run once with the engine (tracing), the graph it built becomes a
`Program` (`cf.program`), the program is turned into one straight-line
Python function of floats for the forward and backward passes (`codegen.py`),
and later calls run only that function: no Value, no node, no graph per call.
Outputs and gradients equal the engine's bit for bit.

A trace is only valid while the graph has the same shape. Two things can
change it:

- *Data-dependent branches*: the function compares Values (`if v > 0:`,
  `max(values)`), so other numbers could build another graph. While tracing,
  every comparison on a Value (and `bool(v)`) is recorded by a `Tracer`, an
  observer of the engine in the tracing thread only (`trace.py`). By
  default (`retrace=False`) a recorded comparison is a `TracingError` naming
  it and where it was made. With `retrace=True` each comparison becomes a
  guard re-checked on every call, and when one comes out the other way the
  function is traced again with each comparison answered at the new numbers
  (no Value is written; up to `max_traces` traces are kept and reused).
- *The number of inputs*: with `retrace=False` a call with another number of
  inputs is a ValueError saying how many were expected; with `retrace=True`
  it is traced for that number.

Only what the output (and any extra outputs and comparisons) depends on is
replayed: a node the function builds but never uses is not computed again,
so an error it would raise at other numbers (log of a negative) is not
raised either. The nodes that are replayed run in the graph walk's order,
which can differ from the order the engine computed them in (the tracer
does not watch every node, so that other threads run at full speed while one
traces): where several nodes would fail at the same numbers, the replay
raises one of their errors, not always the engine's first. Reading `.data`
inside the function freezes that number into the compiled code; it is
reported as a `TracingWarning`. A leaf Value that the function uses but did
not create (a captured weight) must be passed in `params`, or it is a
`TracingError`; Values made inside the function (`Value(2.0)`, `detach()`)
are constants.
"""

from __future__ import annotations

import linecache
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from autograd_core.codegen import GuardFailed, engine_backward_order, generate
from autograd_core.engine import Value, is_grad_enabled
from autograd_core.errors import as_float, describe, is_number, type_name
from autograd_core.program.core import Program, Var
from autograd_core.program.make import check_params, convert
from autograd_core.trace import Tracer, TracingError, TracingWarning

__all__ = [
    "CompiledFunction",
    "TracingError",
    "TracingWarning",
    "compile_function",
    "compile_loss",
]


# ---------------------------------------------------------------------------
# One trace: the generated function and what it was made from.


class _Trace:
    __slots__ = (
        "run",
        "source",
        "n_nodes",
        "n_symbolic",
        "n_calls",
        "guards",
        "has_aux",
        "program",
    )

    def __init__(
        self,
        run: Callable,
        source: str,
        n_nodes: int,
        code: Any,
        guards: list,
        has_aux: bool,
        program: Program,
    ) -> None:
        self.program = program
        self.has_aux = has_aux
        self.run = run
        self.source = source
        self.n_nodes = n_nodes
        self.n_symbolic = code.n_symbolic
        self.n_calls = code.n_calls
        self.guards = guards


_counter = 0
_counter_lock = threading.Lock()


def _trace(
    f: Callable[..., Value | tuple[Value, Sequence[Value | float]]],
    input_data: Sequence[float],
    params: Sequence[Value],
    retrace: bool,
    at: dict[Value, float] | None = None,
) -> _Trace:
    """Trace `f` at `input_data`; comparisons answered at `at` (params' numbers) if given."""
    global _counter
    if not is_grad_enabled():
        raise RuntimeError(
            "compiling traces the function by building its graph, which no_grad() prevents; "
            "compile outside no_grad()"
        )
    with Tracer(at) as tracer:
        inputs = [Value(x, f"input {i}") for i, x in enumerate(input_data)]
        out = f(*inputs)
    out, aux = _split_result(out)
    if not retrace:
        tracer.refuse_comparisons()
    comparisons = tracer.comparisons
    guards = [(left, op, right, outcome) for left, op, right, outcome, _ in comparisons]
    tracer.warn_data_reads("the compiled code", stacklevel=4)

    # The program: leaves are inputs, params, or constants made inside the function
    # (a captured leaf is refused); the nodes the comparisons read come first.
    targets = [t for g in guards for t in (g[0], g[2]) if t.__class__ is Value]
    program, var_of = convert(inputs, params, [out, *(aux or ())], tracer.created, first=targets)
    vguards = [
        (var_of[left], op, var_of[right] if right.__class__ is Value else right, outcome)
        for left, op, right, outcome in guards
    ]
    traced = {v: node._data for node, v in var_of.items()}
    order: list[Var] = (
        [var_of[n] for n in engine_backward_order(out)] if out._op is not None else []
    )
    code = generate(program, vguards, order, traced)
    leaves = {v for e in program.eqns for v in e.vars() if v.kind != "eqn"}
    n_nodes = len(program.eqns) + (len(leaves) if program.eqns else 1)
    with _counter_lock:
        _counter += 1
        filename = f"<autograd_core.compiled #{_counter}>"
    linecache.cache[filename] = (len(code.source), None, code.source.splitlines(True), filename)
    namespace = code.namespace
    exec(compile(code.source, filename, "exec"), namespace)
    where = [w for *_, w in comparisons]
    return _Trace(namespace["run"], code.source, n_nodes, code, where, aux is not None, program)


def _split_result(out: Any) -> tuple[Value, list[Any] | None]:
    """The function's result as (output, extras or None), each checked."""
    aux: list[Any] | None = None
    if isinstance(out, tuple) and len(out) == 2 and out[0].__class__ is Value:
        out, extras = out
        if isinstance(extras, str | bytes | Mapping) or not isinstance(extras, Sequence):
            raise TypeError(
                "the compiled function returned (Value, extras): extras must be a list or tuple "
                f"of Values or numbers, got {describe(extras)}"
            )
        aux = list(extras)
        for i, a in enumerate(aux):
            if a.__class__ is not Value and not is_number(a):
                raise TypeError(
                    f"the function's extra outputs must be Values or numbers, got "
                    f"{describe(a)} at index {i}"
                )
    if out.__class__ is not Value:
        raise TypeError(
            "the compiled function must return a Value (or a Value and a list of Values), "
            f"got {describe(out)}"
        )
    return out, aux


def _floats(values: Any, what: str) -> list[float]:
    """`values` as a list of floats; a dict, set or string is a TypeError, not its keys."""
    if isinstance(values, str | bytes | Mapping | Set) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list or tuple of numbers, got {describe(values)}")
    return [as_float(x, f"{what}[{i}]") for i, x in enumerate(values)]


# ---------------------------------------------------------------------------
# The public objects.


class CompiledFunction:
    """A function of Values traced once, replayed on floats: `(output, input grads, param grads)`.

    Call it as `cf(inputs, params=None)`: `inputs` are the numbers for the
    function's arguments, `params` the numbers for the parameter Values it was
    compiled with (None reads their current `.data`). Gradients are those of
    one fresh `backward()` from the output; nothing is written to `.grad`
    (see `accumulate`). A function returning `(out, extras)`, a Value and a
    list of Values (a model's predictions, say), gets a fourth item: the
    extras' numbers, not differentiated.
    """

    def __init__(
        self,
        f: Callable[..., Value | tuple[Value, Sequence[Value | float]]],
        example_inputs: Sequence[float] = (),
        params: Sequence[Value] = (),
        *,
        retrace: bool = False,
        max_traces: int = 8,
    ) -> None:
        if not callable(f):
            raise TypeError(f"compile_function needs a callable, got {type_name(f)}")
        params = check_params(params, "compile_function")
        if not isinstance(max_traces, int) or max_traces < 1:
            raise ValueError(f"max_traces must be a positive int, got {max_traces!r}")
        self._f = f
        self._params = params
        self._retrace = bool(retrace)
        self._max_traces = max_traces
        self._traces: dict[int, list[_Trace]] = {}
        self.n_traces = 0  # how many times the function was traced
        inputs = _floats(example_inputs, "example_inputs")
        self._n_inputs = len(inputs)
        self._add_trace(_trace(f, inputs, params, self._retrace), len(inputs))

    def _add_trace(self, trace: _Trace, n_inputs: int) -> _Trace:
        if self.n_traces == 0:
            self._has_aux = trace.has_aux
        elif trace.has_aux != self._has_aux:
            raise TracingError(
                "the function returned extra outputs on one trace and not on another; "
                "return the same kind of result every time"
            )
        traces = self._traces.setdefault(n_inputs, [])
        traces.insert(0, trace)
        del traces[self._max_traces :]
        self.n_traces += 1
        self._last = trace
        return trace

    @property
    def program(self) -> Program:
        """The Program of the most recent trace (the equations the generated code computes).

        Generated code runs no pass that regroups a sum, so it stays bit for bit
        equal to the engine; `optimize(cf.program)` shows what the passes would do.
        """
        return self._last.program

    @property
    def source(self) -> str:
        """The generated Python of the most recent trace, to read or debug."""
        return self._last.source

    @property
    def stats(self) -> dict[str, int]:
        """Nodes in the most recent trace, and how many were written as code or as rule calls."""
        t = self._last
        return {
            "nodes": t.n_nodes,
            "symbolic": t.n_symbolic,
            "rule_calls": t.n_calls,
            "guards": len(t.guards),
            "traces": self.n_traces,
        }

    def __call__(
        self, inputs: Sequence[float] = (), params: Sequence[float] | None = None
    ) -> tuple:
        if params is None:
            param_data = [p.data for p in self._params]
        else:
            param_data = _floats(params, "params")
            if len(param_data) != len(self._params):
                raise ValueError(
                    f"expected {len(self._params)} parameter values, got {len(param_data)}"
                )
        if inputs.__class__ is not list or not all(x.__class__ is float for x in inputs):
            inputs = _floats(inputs, "inputs")
        result = self._run(inputs, params, param_data)
        return result if self._has_aux else result[:3]

    def _run(self, inputs: list[float], params: Any, param_data: list[float]) -> tuple:
        traces = self._traces.get(len(inputs))
        if traces is None:
            if not self._retrace:
                raise ValueError(
                    f"expected {self._n_inputs} input values, got {len(inputs)} (the function "
                    "was traced for that many; compile with retrace=True to trace it again for "
                    "another number of inputs)"
                )
            return self._trace_again(inputs, params, param_data)
        try:
            return traces[0].run(inputs, param_data)
        except GuardFailed:
            pass
        for i, trace in enumerate(traces[1:], 1):
            try:
                result = trace.run(inputs, param_data)
            except GuardFailed:
                continue
            traces.insert(0, traces.pop(i))  # most recently used first
            return result
        return self._trace_again(inputs, params, param_data)

    def _trace_again(self, inputs: list[float], params: Any, param_data: list[float]) -> tuple:
        # Trace with comparisons answered at these numbers; the parameter
        # Values are never written (other threads may be reading them).
        at = dict(zip(self._params, param_data)) if params is not None else None
        trace = _trace(self._f, inputs, self._params, self._retrace, at)
        self._add_trace(trace, len(inputs))
        try:
            return trace.run(inputs, param_data)
        except GuardFailed:
            raise TracingError(
                "a fresh trace at these numbers disagrees with itself (a comparison's outcome "
                "depends on more than the inputs and params, e.g. on captured Values or .data "
                "read as a number); compile without retrace or pass every such Value in params"
            ) from None

    def accumulate(self, inputs: Sequence[float] = ()) -> float:
        """Evaluate at the params' current data and add the gradients to their `.grad`.

        What `out.backward()` does for the params, after building the graph:
        call `zero_grad()` first, as with the engine. Returns the output.
        """
        value, _, grads, *_ = self(inputs)
        for p, g in zip(self._params, grads):
            p.grad += g
        return value


def compile_function(
    f: Callable[..., Value | tuple[Value, Sequence[Value | float]]],
    example_inputs: Sequence[float] = (),
    params: Sequence[Value] = (),
    *,
    retrace: bool = False,
    max_traces: int = 8,
) -> CompiledFunction:
    """Trace `f(*inputs)` once so later calls skip the graph and run at float speed.

    `f` takes one Value per number in `example_inputs` and returns a Value;
    `params` are leaf Values it uses (model weights) whose numbers may change
    between calls. See `CompiledFunction` for the call and the module
    docstring for what `retrace` does.
    """
    return CompiledFunction(f, example_inputs, params, retrace=retrace, max_traces=max_traces)


def compile_loss(
    params: Sequence[Value],
    loss_fn: Callable[[], Value],
    *,
    retrace: bool = False,
) -> CompiledFunction:
    """Trace a model's loss once, for training loops that rebuild the same graph each step.

    `loss_fn()` computes the loss from the parameter Values (the data it
    uses is frozen in). `cf.accumulate()` then does forward and backward at the
    parameters' current data, adding gradients to their `.grad`;
    `cf((), param_data)` returns `(loss, [], grads)` without touching them.
    """
    if not callable(loss_fn):
        raise TypeError(f"compile_loss needs a callable loss_fn, got {type_name(loss_fn)}")
    return CompiledFunction(lambda: loss_fn(), (), params, retrace=retrace)
