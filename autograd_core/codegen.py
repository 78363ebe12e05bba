"""Straight-line Python source for one traced graph: forward values, then gradients.

`compiled.py` records a graph once; this module turns it into the source of
one function of plain floats. No derivative formula is written here: each
node's rule is called once with `SYM`, the symbolic namespace generated from
the op table, whose objects are expression builders, so the rule itself
writes the code for its output and its local derivatives (`m.where` becomes a
conditional expression, evaluated lazily as on floats). A user rule that
branches with `if` on an operand, or converts it with `float()` or `math.*`,
cannot be written as symbols; it is called at run time with `FLOAT`, exactly
as the engine calls it (counted in `stats["rule_calls"]`). Anything else
that stops a rule here is a CodegenError naming the op.

Every symbolic result is checked against the engine's own numbers for that
node at trace time, bit for bit; a difference is a CodegenError, never a
quiet fallback. The backward pass visits nodes in the engine's own order
(its one graph walk) and adds contributions in the engine's order, so
gradients come out bit for bit equal to `backward()` on a fresh graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autograd_core.engine import Value, walk
from autograd_core.errors import cut, describe
from autograd_core.ops import FLOAT
from autograd_core.symbolic import (
    ATOM,
    FUNCTIONS,
    SYM,
    NeedsNumbers,
    Sym,
    emit_shared,
    evaluate,
    is_number,
    product_code,
    render,
    same,
)

__all__ = ["SYM", "CodegenError", "GraphCode", "GuardFailed", "NeedsNumbers", "Sym", "generate"]


class GuardFailed(Exception):
    """Raised by generated code when a recorded comparison comes out the other way."""


class CodegenError(TypeError):
    """A rule cannot run in the symbolic namespace; the message names the op."""


# ---------------------------------------------------------------------------
# The generator.


class GraphCode:
    """The source of one compiled graph and what its variables stand for."""

    def __init__(self, source: str, namespace: dict[str, Any], n_symbolic: int, n_calls: int):
        self.source = source
        self.namespace = namespace
        self.n_symbolic = n_symbolic
        self.n_calls = n_calls


def _local_grads(node: Value) -> list[Any]:
    """The engine's local derivative for each operand of `node` (None for a constant)."""
    pairs = iter(node.parents)  # one per Value operand, in operand order
    return [next(pairs)[1] if x.__class__ is Value else None for x in node.operands]


def engine_backward_order(root: Value) -> list[Value]:
    """The non-leaf nodes behind `root` in the order `backward()` reverses: the engine's walk."""
    return walk((root,), leaves=False)


def forward_order(targets: Sequence[Value]) -> list[Value]:
    """Every node the targets need, each after its operands, target by target (the engine's walk).

    Nodes for the first target come first, so code checking a comparison can
    run as soon as the values it compares exist, before anything computed on
    the strength of its outcome (which could fail on the other branch).
    """
    return walk(targets)


def generate(
    root: Value,
    inputs: Sequence[Value],
    params: Sequence[Value],
    guards: Sequence[tuple[Any, str, Any, bool]],
    constants: set[Value],
    aux: Sequence[Value] = (),
) -> GraphCode:
    """Source of `run(inputs, params) -> (root value, input grads, param grads, aux values)`.

    `guards` are recorded comparisons `(left, op, right, outcome)` (Values or
    floats) that the code re-checks, raising GuardFailed when one differs.
    `constants` are leaves frozen at their data. `aux` are other nodes whose
    values are returned too (a model's predictions), not differentiated.
    """
    names: dict[Value, str] = {}
    namespace: dict[str, Any] = dict(FUNCTIONS)
    namespace.update(_F=FLOAT, _inf=math.inf, _nan=math.nan, _GuardFailed=GuardFailed)
    lines: list[str] = []
    emit = lines.append
    rules: dict[Any, str] = {}
    n_symbolic = n_calls = 0

    in_names = [f"x{i}" for i in range(len(inputs))]
    par_names = [f"p{i}" for i in range(len(params))]
    for v, name in zip(inputs, in_names):
        names[v] = name
    for v, name in zip(params, par_names):
        names[v] = name
    if in_names:
        emit(f"{', '.join(in_names)}, = inputs")
    if par_names:
        emit(f"{', '.join(par_names)}, = params")

    # Each node's local derivatives as code: a number, or (code, level).
    local_code: dict[Value, list[Any]] = {}

    def operand_sym(x: Any) -> Any:
        if x.__class__ is not Value:
            return x
        if x in names:
            return Sym("var", names[x])
        return x.data  # a constant leaf (checked by the caller)

    targets: list[Value] = []
    for left, _, right, _ in guards:
        targets.extend(t for t in (left, right) if t.__class__ is Value)
    emitted: set[Value] = set()
    order = forward_order([*targets, root, *(a for a in aux if a.__class__ is Value)])

    def ready(i: int) -> bool:
        left, _, right, _ = guards[i]
        return all(
            t.__class__ is not Value or t in emitted or t in constants for t in (left, right)
        )

    pending = list(range(len(guards)))

    def emit_guards() -> None:
        while pending and ready(pending[0]):
            i = pending.pop(0)
            left, op, right, outcome = guards[i]
            test = f"{render(operand_sym(left))[0]} {op} {render(operand_sym(right))[0]}"
            emit(f"if {'not ' if outcome else ''}({test}): raise _GuardFailed({i})")

    emit_guards()
    for k, node in enumerate(order):
        if node._op is None:
            emitted.add(node)
            if node not in names and node not in constants:
                raise AssertionError("an unexpected leaf reached code generation")
            emit_guards()
            continue
        name = names[node] = f"v{k}"
        operands = node.operands
        syms = [operand_sym(x) for x in operands]
        result = _try_symbolic(node, syms)
        if result is None:
            n_calls += 1
            rule = node._op.rule
            if rule not in rules:
                rules[rule] = f"_r{len(rules)}"
                namespace[rules[rule]] = rule
            args = ", ".join(render(s)[0] for s in syms)
            emit(f"t{k} = {rules[rule]}(_F, {args})")
            emit(f"{name} = t{k}[0]")
            local_code[node] = [(f"t{k}[{i + 1}]", ATOM) for i in range(len(operands))]
        else:
            n_symbolic += 1
            out, derivs = result
            emit_shared(out, derivs, name, k, emit)
            local_code[node] = derivs
        emitted.add(node)
        emit_guards()
    if pending:
        raise AssertionError("a comparison's operands were never computed")

    # -- backward: the engine's node order and contribution order -------------
    wanted = set(inputs) | set(params)
    needs: set[Value] = set()
    for node in order:  # operands come first, so one pass suffices
        if node in wanted or any(
            x.__class__ is Value and x in needs for x in node.operands if node._op is not None
        ):
            needs.add(node)
    # An intermediate node's gradient is read only while its own contributions
    # are emitted; after that its variable is free for the next one, so a few
    # names serve all of them (a smaller frame; measured speed about equal).
    grads: dict[Value, str] = {}
    free: list[str] = []
    n_grad_names = 0

    def grad_name() -> str:
        nonlocal n_grad_names
        if free:
            return free.pop()
        n_grad_names += 1
        return f"g{n_grad_names - 1}"

    if root._op is not None and root in needs:
        grads[root] = grad_name()
        emit(f"{grads[root]} = 1.0")
    for node in reversed(engine_backward_order(root)):
        if node not in needs:
            continue
        g = grads[node]
        for operand, local, engine_local in zip(
            node.operands, local_code[node], _local_grads(node)
        ):
            if engine_local is None or operand not in needs:
                continue  # a constant operand, or nothing wanted behind it
            contribution = product_code(local, g)
            target = grads.get(operand)
            if target is None:
                if operand._op is None:  # a leaf starts from 0.0, as after zero_grad()
                    target = grads[operand] = "g" + names[operand]
                    emit(f"{target} = 0.0 + {contribution}")
                else:
                    target = grads[operand] = grad_name()
                    emit(f"{target} = {contribution}")
            else:
                emit(f"{target} += {contribution}")
        free.append(g)  # no contribution reaches `node` any more
    if root._op is None and root in wanted:
        grads[root] = "1.0"
    out_grads = [grads.get(v, "0.0") for v in inputs]
    par_grads = [grads.get(v, "0.0") for v in params]
    aux_code = "".join(render(operand_sym(a))[0] + ", " for a in aux)
    emit(
        f"return {render(operand_sym(root))[0]}, [{', '.join(out_grads)}], "
        f"[{', '.join(par_grads)}], ({aux_code})"
    )
    body = "\n".join("    " + line for line in lines)
    source = f"def run(inputs, params):\n{body}\n"
    return GraphCode(source, namespace, n_symbolic, n_calls)


def _try_symbolic(node: Value, syms: list[Any]) -> tuple[Any, list[Any]] | None:
    """The rule's output and derivatives as Syms; None if the rule branches with `if`.

    Anything else that stops the rule in the symbolic namespace, or a result
    that differs from the same rule run on floats, is a CodegenError naming the op.
    (Compared with a fresh float run, not with the node's stored numbers: another
    thread may have changed a weight's data since the trace.)
    """
    op = node._op
    try:
        result = op.rule(SYM, *syms)
    except NeedsNumbers:
        return None
    except Exception as e:
        raise CodegenError(
            f"the rule of {op.name!r} cannot run in the symbolic namespace: "
            f"{type(e).__name__}: {cut(str(e))}. Write it with the functions of the namespace "
            "it receives (m.exp, m.where, ...)."
        ) from e
    if not isinstance(result, tuple) or len(result) != len(syms) + 1:
        raise CodegenError(
            f"the rule of {op.name!r} returned {describe(result)} in the symbolic namespace; "
            f"expected the output and {len(syms)} local derivative(s)"
        )
    for r in result:
        if not (r.__class__ is Sym or is_number(r)):
            raise CodegenError(
                f"the rule of {op.name!r} returned {describe(r)} in the symbolic namespace"
            )
    env: dict[str, float] = {}
    numbers = []
    for s, x in zip(syms, node.operands):
        numbers.append(x._data if x.__class__ is Value else x)
        if s.__class__ is Sym:
            env[s.name] = numbers[-1]
    try:
        expected = op.rule(FLOAT, *numbers)
    except Exception:
        return result[0], list(result[1:])  # it fails at these numbers: nothing to compare
    for r, want in zip(result, expected):
        try:
            got = evaluate(r, env)
        except Exception as e:
            got = e
        if not same(got, want):
            raise CodegenError(
                f"the rule of {op.name!r} gives {got!r} in the symbolic namespace where the "
                f"engine gave {want!r}: please report this"
            )
    return result[0], list(result[1:])
