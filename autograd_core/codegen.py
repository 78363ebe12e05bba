"""Straight-line Python source for one traced program: forward values, then gradients.

`compiled.py` traces a function once into a `Program`; this module turns the
program into the source of one function of plain floats. No derivative formula is written here: each
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

from autograd_core.engine import Value, _backward_order
from autograd_core.errors import cut, describe
from autograd_core.ops import FLOAT
from autograd_core.program.core import Eqn, Program, Var
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


def engine_backward_order(root: Value) -> list[Value]:
    """The non-leaf nodes behind `root` in the order `backward()` reverses: the engine's walk."""
    return _backward_order(root)


def generate(
    program: Program,
    guards: Sequence[tuple[Any, str, Any, bool]],
    backward_order: Sequence[Var],
    traced: dict[Var, float],
) -> GraphCode:
    """Source of `run(inputs, params) -> (value, input grads, param grads, extra values)`.

    `program` is the trace's (unoptimized) program: its first output is
    differentiated, the others are returned as numbers. `guards` are recorded
    comparisons `(left, op, right, outcome)` (Vars or floats) that the code
    re-checks, raising GuardFailed when one differs. `backward_order` is the
    order in which the engine's backward() visits the equations (reversed),
    so that every gradient adds its contributions in the engine's order;
    `traced` holds each value at trace time, to check the symbolic code.
    """
    w = _Writer(program, traced)
    w.forward(guards)
    root = program.outputs[0]
    grads = w.backward(root, backward_order, set(program.inputs) | set(program.params))
    w.returns(root, grads, program.outputs[1:])
    body = "\n".join("    " + line for line in w.lines)
    return GraphCode(f"def run(inputs, params):\n{body}\n", w.namespace, w.n_symbolic, w.n_calls)


class _Writer:
    """The state of one `generate`: variable names, statements, each equation's local code."""

    def __init__(self, program: Program, traced: dict[Var, float]) -> None:
        self.program = program
        self.traced = traced
        self.names: dict[Var, str] = {}
        self.namespace: dict[str, Any] = dict(FUNCTIONS)
        self.namespace.update(_F=FLOAT, _inf=math.inf, _nan=math.nan, _GuardFailed=GuardFailed)
        self.lines: list[str] = []
        self.emit = self.lines.append
        self.rules: dict[Any, str] = {}  # a rule called at run time -> its name in the code
        self.local_code: dict[Var, list[Any]] = {}  # each derivative: Sym, number or code
        self.inputs, self.params = list(program.inputs), list(program.params)
        self.n_symbolic = self.n_calls = 0
        for prefix, leaves, source in (("x", self.inputs, "inputs"), ("p", self.params, "params")):
            names = [f"{prefix}{i}" for i in range(len(leaves))]
            self.names.update(zip(leaves, names))
            if names:
                self.emit(f"{', '.join(names)}, = {source}")

    def operand(self, x: Any) -> Any:
        """An operand in the code: its variable, or a number for constants."""
        if x.__class__ is not Var:
            return x
        if x in self.names:
            return Sym("var", self.names[x])
        return self.program.constants[x]  # a constant leaf

    def number(self, x: Any) -> float:
        """An operand's number at trace time."""
        if x.__class__ is not Var:
            return x
        if x.kind == "const":
            return self.program.constants[x]
        return self.traced[x]

    # -- forward: every equation, guards as soon as they can run

    def forward(self, guards: Sequence[tuple[Any, str, Any, bool]]) -> None:
        emitted: set[Var] = set()
        pending = list(range(len(guards)))
        self._emit_guards(guards, pending, emitted)
        for k, e in enumerate(self.program.eqns):
            self._emit_eqn(k, e)
            emitted.add(e.out)
            self._emit_guards(guards, pending, emitted)
        if pending:
            raise AssertionError("a comparison's operands were never computed")

    def _emit_guards(self, guards: Sequence, pending: list[int], emitted: set[Var]) -> None:
        """Re-check each recorded comparison once both its sides are computed."""

        def ready(side: Any) -> bool:
            return side.__class__ is not Var or side.kind != "eqn" or side in emitted

        while pending and all(ready(side) for side in guards[pending[0]][::2]):
            i = pending.pop(0)
            left, op, right, outcome = guards[i]
            test = f"{render(self.operand(left))[0]} {op} {render(self.operand(right))[0]}"
            self.emit(f"if {'not ' if outcome else ''}({test}): raise _GuardFailed({i})")

    def _emit_eqn(self, k: int, e: Eqn) -> None:
        """`v{k} = ...` from the rule's symbols, or a call of the rule if it branches with if."""
        name = self.names[e.out] = f"v{k}"
        syms = [self.operand(x) for x in e.operands]
        result = _try_symbolic(e.op, syms, [self.number(x) for x in e.operands])
        if result is not None:
            self.n_symbolic += 1
            out, derivs = result
            emit_shared(out, derivs, name, k, self.emit)
            self.local_code[e.out] = derivs
            return
        self.n_calls += 1
        rule = e.op.rule
        if rule not in self.rules:
            self.rules[rule] = f"_r{len(self.rules)}"
            self.namespace[self.rules[rule]] = rule
        args = ", ".join(render(s)[0] for s in syms)
        self.emit(f"t{k} = {self.rules[rule]}(_F, {args})")
        self.emit(f"{name} = t{k}[0]")
        self.local_code[e.out] = [(f"t{k}[{i + 1}]", ATOM) for i in range(len(syms))]

    # -- backward: the engine's node order and contribution order -------------------

    def backward(self, root: Any, order: Sequence[Var], wanted: set[Var]) -> dict[Var, str]:
        """Gradient statements for every equation between `root` and the wanted leaves."""
        needs: set[Var] = set(wanted)
        eqn_of: dict[Var, Eqn] = {}
        for e in self.program.eqns:  # operands come first, so one pass suffices
            eqn_of[e.out] = e
            if any(x.__class__ is Var and x in needs for x in e.operands):
                needs.add(e.out)
        grads: dict[Var, str] = {}
        names = _GradNames()
        if root.__class__ is not Var:
            return grads
        if root.kind == "eqn" and root in needs:
            grads[root] = names.take()
            self.emit(f"{grads[root]} = 1.0")
        for v in reversed(order):
            if v in needs:
                self._emit_contributions(eqn_of[v], needs, grads, names)
                names.free(grads[v])  # no contribution reaches `v` any more
        if root.kind != "eqn" and root in wanted:
            grads[root] = "1.0"
        return grads

    def _emit_contributions(
        self, e: Eqn, needs: set[Var], grads: dict[Var, str], names: _GradNames
    ) -> None:
        g = grads[e.out]
        for operand, local in zip(e.operands, self.local_code[e.out]):
            if operand.__class__ is not Var or operand not in needs:
                continue  # a number, or nothing wanted behind it
            contribution = product_code(local, g)
            target = grads.get(operand)
            if target is not None:
                self.emit(f"{target} += {contribution}")
            elif operand.kind != "eqn":  # a leaf starts from 0.0, as after zero_grad()
                target = grads[operand] = "g" + self.names[operand]
                self.emit(f"{target} = 0.0 + {contribution}")
            else:
                target = grads[operand] = names.take()
                self.emit(f"{target} = {contribution}")

    def returns(self, root: Any, grads: dict[Var, str], aux: Sequence[Any]) -> None:
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


def _try_symbolic(op: Any, syms: list[Any], numbers: list[Any]) -> tuple[Any, list[Any]] | None:
    """The rule's output and derivatives as Syms; None if the rule branches with `if`.

    Anything else that stops the rule in the symbolic namespace, or a result
    that differs from the same rule run on floats, is a CodegenError naming the op.
    (Compared with a fresh float run, not with the node's stored numbers: another
    thread may have changed a weight's data since the trace.)
    """
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
    for s, x in zip(syms, numbers):
        if s.__class__ is Sym:
            assert s.name is not None  # an operand's Sym is a named "var"
            env[s.name] = x
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
