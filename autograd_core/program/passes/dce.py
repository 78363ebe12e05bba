"""Dead-code elimination: drop equations no output reads."""

from __future__ import annotations

from autograd_core.program.core import Eqn, Program, Var
from autograd_core.program.passes._util import record


def eliminate_dead_code(program: Program) -> Program:
    """The program without the equations whose results no output needs."""
    needed: set[Var] = {o for o in program.outputs if o.__class__ is Var}
    keep: set[int] = set()
    everything = program.all_eqns()
    for k in range(len(everything) - 1, -1, -1):
        e = everything[k]
        if e.out in needed:
            keep.add(k)
            needed.update(e.vars())
    n_once = len(program.once)
    once = [e for k, e in enumerate(program.once) if k in keep]
    eqns = [e for k, e in enumerate(program.eqns, n_once) if k in keep]
    removed: list[Eqn] = [e for k, e in enumerate(everything) if k not in keep]
    rec = record("eliminate_dead_code", program, eqns, once, [])
    rec.items = [("removed ", program, e) for e in removed]
    return program.rewritten(eqns, once, None, rec)
