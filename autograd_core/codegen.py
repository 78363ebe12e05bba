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

from autograd_core.engine import Value, _backward_order, walk
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
    return _backward_order(root)


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
    order: Sequence[Value] | None = None,
) -> GraphCode:
    """Source of `run(inputs, params) -> (root value, input grads, param grads, aux values)`.

    `guards` are recorded comparisons `(left, op, right, outcome)` (Values or
    floats) that the code re-checks, raising GuardFailed when one differs.
    `constants` are leaves frozen at their data. `aux` are other nodes whose
    values are returned too (a model's predictions), not differentiated.
    `order` is the forward order (the engine's, recorded while tracing);
    by default the graph walk's, target by target.
    """
    w = _Writer(inputs, params, constants)
    if order is None:
        targets = [t for g in guards for t in g[::2] if t.__class__ is Value]
        order = forward_order([*targets, root, *(a for a in aux if a.__class__ is Value)])
    order = w.forward(list(order), guards)
    grads = w.backward(root, order, set(inputs) | set(params))
    w.returns(root, grads, aux)
    body = "\n".join("    " + line for line in w.lines)
    return GraphCode(f"def run(inputs, params):\n{body}\n", w.namespace, w.n_symbolic, w.n_calls)


class _Writer:
    """The state of one `generate`: variable names, statements, each node's local code."""

    def __init__(
        self, inputs: Sequence[Value], params: Sequence[Value], constants: set[Value]
    ) -> None:
        self.names: dict[Value, str] = {}
        self.namespace: dict[str, Any] = dict(FUNCTIONS)
        self.namespace.update(_F=FLOAT, _inf=math.inf, _nan=math.nan, _GuardFailed=GuardFailed)
        self.lines: list[str] = []
        self.emit = self.lines.append
        self.rules: dict[Any, str] = {}  # a rule called at run time -> its name in the code
        self.local_code: dict[Value, list[Any]] = {}  # each derivative: Sym, number or code
        self.constants = constants
        self.inputs, self.params = list(inputs), list(params)
        self.n_symbolic = self.n_calls = 0
        for prefix, leaves, source in (("x", inputs, "inputs"), ("p", params, "params")):
            names = [f"{prefix}{i}" for i in range(len(leaves))]
            self.names.update(zip(leaves, names))
            if names:
                self.emit(f"{', '.join(names)}, = {source}")

    def operand(self, x: Any) -> Any:
        """A node's operand in the code: its variable, or a number for constants."""
        if x.__class__ is not Value:
            return x
        if x in self.names:
            return Sym("var", self.names[x])
        return x.data  # a constant leaf (checked by the caller)

    # -- forward: every node the outputs and guards need, guards as soon as they can run

    def forward(
        self, order: list[Value], guards: Sequence[tuple[Any, str, Any, bool]]
    ) -> list[Value]:
        emitted: set[Value] = set()
        pending = list(range(len(guards)))
        self._emit_guards(guards, pending, emitted)
        for k, node in enumerate(order):
            if node._op is None:
                if node not in self.names and node not in self.constants:
                    raise AssertionError("an unexpected leaf reached code generation")
            else:
                self._emit_node(k, node)
            emitted.add(node)
            self._emit_guards(guards, pending, emitted)
        if pending:
            raise AssertionError("a comparison's operands were never computed")
        return order

    def _emit_guards(self, guards: Sequence, pending: list[int], emitted: set[Value]) -> None:
        """Re-check each recorded comparison once both its sides are computed."""

        def ready(side: Any) -> bool:
            return side.__class__ is not Value or side in emitted or side in self.constants

        while pending and all(ready(side) for side in guards[pending[0]][::2]):
            i = pending.pop(0)
            left, op, right, outcome = guards[i]
            test = f"{render(self.operand(left))[0]} {op} {render(self.operand(right))[0]}"
            self.emit(f"if {'not ' if outcome else ''}({test}): raise _GuardFailed({i})")

    def _emit_node(self, k: int, node: Value) -> None:
        """`v{k} = ...` from the rule's symbols, or a call of the rule if it branches with if."""
        name = self.names[node] = f"v{k}"
        syms = [self.operand(x) for x in node.operands]
        result = _try_symbolic(node, syms)
        if result is not None:
            self.n_symbolic += 1
            out, derivs = result
            emit_shared(out, derivs, name, k, self.emit)
            self.local_code[node] = derivs
            return
        self.n_calls += 1
        rule = node._op.rule
        if rule not in self.rules:
            self.rules[rule] = f"_r{len(self.rules)}"
            self.namespace[self.rules[rule]] = rule
        args = ", ".join(render(s)[0] for s in syms)
        self.emit(f"t{k} = {self.rules[rule]}(_F, {args})")
        self.emit(f"{name} = t{k}[0]")
        self.local_code[node] = [(f"t{k}[{i + 1}]", ATOM) for i in range(len(syms))]

    # -- backward: the engine's node order and contribution order -------------------

    def backward(self, root: Value, order: list[Value], wanted: set[Value]) -> dict[Value, str]:
        """Gradient statements for every node between `root` and the wanted leaves."""
        needs: set[Value] = set()
        for node in order:  # operands come first, so one pass suffices
            if node in wanted or any(
                x.__class__ is Value and x in needs for x in node.operands if node._op is not None
            ):
                needs.add(node)
        grads: dict[Value, str] = {}
        names = _GradNames()
        if root._op is not None and root in needs:
            grads[root] = names.take()
            self.emit(f"{grads[root]} = 1.0")
        for node in reversed(engine_backward_order(root)):
            if node in needs:
                self._emit_contributions(node, needs, grads, names)
                names.free(grads[node])  # no contribution reaches `node` any more
        if root._op is None and root in wanted:
            grads[root] = "1.0"
        return grads

    def _emit_contributions(
        self, node: Value, needs: set[Value], grads: dict[Value, str], names: _GradNames
    ) -> None:
        g = grads[node]
        for operand, local, engine_local in zip(
            node.operands, self.local_code[node], _local_grads(node)
        ):
            if engine_local is None or operand not in needs:
                continue  # a constant operand, or nothing wanted behind it
            contribution = product_code(local, g)
            target = grads.get(operand)
            if target is not None:
                self.emit(f"{target} += {contribution}")
            elif operand._op is None:  # a leaf starts from 0.0, as after zero_grad()
                target = grads[operand] = "g" + self.names[operand]
                self.emit(f"{target} = 0.0 + {contribution}")
            else:
                target = grads[operand] = names.take()
                self.emit(f"{target} = {contribution}")

    def returns(self, root: Value, grads: dict[Value, str], aux: Sequence[Value]) -> None:
        """`return value, input grads, param grads, aux values`."""
        out_grads = ", ".join(grads.get(v, "0.0") for v in self.inputs)
        par_grads = ", ".join(grads.get(v, "0.0") for v in self.params)
        aux_code = "".join(render(self.operand(a))[0] + ", " for a in aux)
        self.emit(
            f"return {render(self.operand(root))[0]}, [{out_grads}], [{par_grads}], ({aux_code})"
        )


class _GradNames:
    """Variable names for intermediate gradients, reused once a node's are emitted.

    An intermediate node's gradient is read only while its own contributions
    are emitted; after that its variable is free for the next one, so a few
    names serve all of them (a smaller frame; measured speed about equal).
    """

    def __init__(self) -> None:
        self._free: list[str] = []
        self._count = 0

    def take(self) -> str:
        if self._free:
            return self._free.pop()
        self._count += 1
        return f"g{self._count - 1}"

    def free(self, name: str) -> None:
        self._free.append(name)


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
