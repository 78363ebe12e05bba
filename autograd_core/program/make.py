"""Tracing a function of Values into a `Program`: the one place tracing happens.

The function runs once with the engine under a `Tracer` (see `trace.py`);
its graph, walked from the outputs, becomes the equations. Refused as in
compiled replay: a comparison of Values (a branch on data) and a leaf the
function uses without creating it and that is not in `params` (a captured
weight). Reading `.data` is a TracingWarning: the number read is frozen in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from autograd_core.engine import Value, is_grad_enabled, walk
from autograd_core.errors import as_float, describe, is_number, type_name
from autograd_core.program.core import Eqn, Program, Var
from autograd_core.trace import Tracer, TracingError, describe_node

__all__ = ["make_program", "program_from_graph"]


def captured_error(node: Value, what: str = "the function") -> TracingError:
    return TracingError(
        f"{what} uses {describe_node(node)}, a leaf Value it did not create and that is not "
        "in params (a captured Value, or a result computed under no_grad()). Its number would "
        "be frozen into the program. Pass it in params to read its data and get its gradient "
        "on every call, or call .detach() on it inside the function to freeze it on purpose."
    )


def check_params(params: Any, what: str) -> list[Value]:
    """`params` as a list of distinct leaf Values, or the TypeError/ValueError saying why not."""
    if params is None:
        return []
    if isinstance(params, str | bytes | dict | set | Value) or not isinstance(params, Iterable):
        raise TypeError(f"{what}: params must be a list of Values, got {describe(params)}")
    params = list(params)
    for i, p in enumerate(params):
        if p.__class__ is not Value:
            raise TypeError(f"{what}: params[{i}] must be a Value, got {type_name(p)}")
        if p._op is not None:
            raise ValueError(
                f"{what}: params[{i}] must be a leaf Value (a weight or an input), got a node "
                f"made by {p._op.name!r}"
            )
    if len(set(params)) != len(params):
        first = next(i for i, p in enumerate(params) if params.index(p) != i)
        raise ValueError(
            f"{what}: params lists the same Value more than once (params[{first}] is "
            f"params[{params.index(params[first])}]); list each parameter once"
        )
    return params


def program_from_graph(
    inputs: Sequence[Value],
    params: Sequence[Value],
    outputs: Sequence[Any],
    created: set[Value],
    *,
    captured: str = "refuse",
    what: str = "the function",
) -> Program:
    """The program of a traced graph: one equation per node, in the walk's order.

    `captured="params"` makes a captured leaf one more param (ONNX export
    writes those as named weights) instead of a TracingError.
    """
    return convert(inputs, params, outputs, created, captured=captured, what=what)[0]


def convert(
    inputs: Sequence[Value],
    params: Sequence[Value],
    outputs: Sequence[Any],
    created: set[Value],
    *,
    captured: str = "refuse",
    what: str = "the function",
    first: Sequence[Value] = (),
) -> tuple[Program, dict[Value, Var]]:
    """`program_from_graph`, and the Var of each node. Nodes behind `first` come first."""
    var_of: dict[Value, Var] = {}
    in_vars = []
    for i, v in enumerate(inputs):
        var_of[v] = Var("input", i, label=v.label)
        in_vars.append(var_of[v])
    params = list(params)
    par_vars = []
    for i, p in enumerate(params):
        if p not in var_of:
            var_of[p] = Var("param", i, label=p.label)
        par_vars.append(var_of[p])
    constants: dict[Var, float] = {}
    eqns: list[Eqn] = []
    extra: list[Value] = []
    for node in walk([*first, *(o for o in outputs if o.__class__ is Value)]):
        if node in var_of:
            continue
        op = node._op
        if op is None:
            if node in created:
                c = var_of[node] = Var("const", len(constants), label=node.label)
                constants[c] = node._data
            elif captured == "params":
                pv = var_of[node] = Var("param", len(params) + len(extra), label=node.label)
                extra.append(node)
                par_vars.append(pv)
            else:
                raise captured_error(node, what)
            continue
        out = var_of[node] = Var("eqn", len(eqns))
        operands = tuple(var_of[x] if x.__class__ is Value else float(x) for x in node.operands)
        eqns.append(Eqn(out, op.name, op, operands))
    outs = [var_of[o] if o.__class__ is Value else float(o) for o in outputs]
    program = Program(
        in_vars,
        par_vars,
        constants,
        eqns,
        outs,
        param_data=[p._data for p in (*params, *extra)],
    )
    program.captured = extra  # type: ignore[attr-defined]
    return program, var_of


def make_program(
    fn: Callable[..., Any],
    example_inputs: Sequence[float] = (),
    params: Sequence[Value] | None = None,
) -> Program:
    """Trace `fn(*inputs)` once at `example_inputs` and return its `Program`.

    `fn` takes one Value per example input and returns a Value, or a tuple or
    list of Values and numbers (several outputs). `params` are the leaf Values
    it uses without receiving them (model weights); their numbers at tracing
    time are `program.param_data`. A comparison of Values inside `fn`, or a
    captured leaf not in `params`, is a TracingError; reading `.data` warns.
    """
    if not callable(fn):
        raise TypeError(f"make_program needs a callable, got {type_name(fn)}")
    if isinstance(example_inputs, str | bytes | dict | set) or not isinstance(
        example_inputs, Sequence
    ):
        raise TypeError(
            "make_program: example_inputs must be a list of numbers, got "
            f"{describe(example_inputs)}"
        )
    numbers = [
        as_float(x, f"make_program: example_inputs[{i}]") for i, x in enumerate(example_inputs)
    ]
    plist = check_params(params, "make_program")
    if not is_grad_enabled():
        raise RuntimeError(
            "make_program traces the function by building its graph, which no_grad() "
            "prevents; call it outside no_grad()"
        )
    with Tracer() as tracer:
        leaves = [Value(x, f"x{i}") for i, x in enumerate(numbers)]
        result = fn(*leaves)
    tracer.refuse_comparisons(retrace_hint=False)
    tracer.warn_data_reads("the program", stacklevel=3)
    results = list(result) if isinstance(result, tuple | list) else [result]
    if not results:
        raise ValueError("make_program: the function returned no outputs (an empty tuple)")
    for i, r in enumerate(results):
        if r.__class__ is not Value and not is_number(r):
            raise TypeError(
                f"make_program: output {i} of the function must be a Value or a number, "
                f"got {describe(r)}"
            )
    return program_from_graph(leaves, plist, results, tracer.created)
