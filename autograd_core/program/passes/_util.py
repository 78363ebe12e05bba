"""What the passes share: use counts, which values are the same for every example."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autograd_core.engine import OPS
from autograd_core.program.core import Eqn, PassRecord, Program, Var

_ADD = OPS["add"]


def uses(program: Program) -> dict[Var, int]:
    """How many times each Var is read (by equations and as an output)."""
    count: dict[Var, int] = {}
    for e in program.all_eqns():
        for v in e.vars():
            count[v] = count.get(v, 0) + 1
    for o in program.outputs:
        if o.__class__ is Var:
            count[o] = count.get(o, 0) + 1
    return count


def batch_free(program: Program) -> set[Var]:
    """Params, constants and what depends on nothing else: the same for every example."""
    free: set[Var] = set(program.params) | set(program.constants)
    for e in program.all_eqns():
        if all(v in free for v in e.vars()):
            free.add(e.out)
    return free


def record(
    name: str,
    before: Program,
    eqns: list[Eqn],
    once: list[Eqn],
    written: Iterable[Eqn],
    show: Program | None = None,
) -> PassRecord:
    """The record of a pass: counts and the equations it wrote, printed with the names."""
    p = show or before
    return PassRecord(
        name,
        len(before.once) + len(before.eqns),
        len(once) + len(eqns),
        items=[("", p, e) for e in written],
    )


def value_of(program: Program, x: Any) -> Any:
    """A constant Var as its number; anything else unchanged."""
    if x.__class__ is Var and x.kind == "const":
        return program.constants[x]
    return x


def sum_terms(root: Eqn, defs: dict[Var, Eqn], count: dict[Var, int]) -> list[Any]:
    """The terms of the chain of adds ending at `root`, left to right.

    An add read only by the chain is opened; anything else is a term.
    """
    terms: list[Any] = []
    stack: list[Any] = [root.operands[1], root.operands[0]]
    while stack:
        x = stack.pop()
        d = defs.get(x) if x.__class__ is Var else None
        if d is not None and d.op is _ADD and count.get(x) == 1:
            stack.append(d.operands[1])
            stack.append(d.operands[0])
        else:
            terms.append(x)
    return terms
