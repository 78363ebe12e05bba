"""Hoisting the parameter-only part: equations of params and constants only run once per batch.

An L2 penalty written inside a per-example loss (`loss + 1e-4 * sum(p*p)`)
is the same for every example. Moved to `once`, batched replay computes it
once per batch; its gradient is added once, the per-example contributions
summed over the batch first (the mean of a constant is the constant).
Nothing is reordered within a section and no sum regrouped: values keep
their bits. A param's gradient contributions can be added in another order
(the hoisted part's last), which moves the gradient's last bit or so.
"""

from __future__ import annotations

from autograd_core.program.core import Program
from autograd_core.program.passes._util import record


def hoist_parameter_only(program: Program) -> Program:
    """Move every equation that reads only params, constants and hoisted values to `once`."""
    free = set(program.params) | set(program.constants)
    once = list(program.once)
    free.update(e.out for e in once)
    eqns = []
    moved = []
    for e in program.eqns:
        if all(v in free for v in e.vars()):
            once.append(e)
            moved.append(e)
            free.add(e.out)
        else:
            eqns.append(e)
    rec = record("hoist_parameter_only", program, eqns, once, [])
    rec.items = [("once: ", program, e) for e in moved]
    return program.rewritten(eqns, once, None, rec)
