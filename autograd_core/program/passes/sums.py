"""Sums over a layer: `v[0] + v[1] + ... + v[n-1]` (a softmax's denominator) as one product.

A chain of `add` equations whose terms are columns of one vector (and at most
one other term, a param or a number) is a dense layer with one row of ones:
`dense[1xn]` of that vector, then its column 0. Batched replay computes it as
one matrix product instead of n - 1 additions of arrays; ONNX writes one Gemm.

Rounding: the terms are added in BLAS's order rather than the chain's: the
sum moves by at most about n * 2**-53 * sum(|terms|).
"""

from __future__ import annotations

from typing import Any

from autograd_core.engine import OPS
from autograd_core.program.core import COLUMN, DENSE, Eqn, Program, Var
from autograd_core.program.passes._util import record, uses

_ADD, _LINEAR = OPS["add"], OPS["linear"]


def recognize_column_sums(program: Program) -> Program:
    """Every sum of two or more columns of one vector as a one-row dense layer."""
    count = uses(program)
    defs = {e.out: e for e in program.eqns}
    cols = {e.out: (e.operands[0], e.attrs["j"]) for e in program.eqns if e.prim == COLUMN}
    inner = {
        x
        for e in program.eqns
        if e.op is _ADD
        for x in e.operands
        if x.__class__ is Var and x in defs and defs[x].op is _ADD and count.get(x) == 1
    }
    made: dict[Var, list[Eqn]] = {}
    written: list[Eqn] = []
    for e in program.eqns:
        if e.op is not _ADD or e.out in inner:
            continue
        found = _column_sum(e, defs, count, cols)
        if found is None:
            continue
        vec, sel, bias = found
        out = program.new_var(1)
        full = sel == tuple(range(vec.width or 0))
        dense = Eqn(
            out,
            DENSE,
            _LINEAR,
            (vec,),
            {"W": [[1.0] * len(sel)], "b": [bias], "cols": None if full else sel},
        )
        made[e.out] = [dense, Eqn(e.out, COLUMN, None, (out,), {"j": 0})]
        written.append(dense)
    eqns: list[Eqn] = []
    for e in program.eqns:
        eqns.extend(made.get(e.out, [e]))
    rec = record("recognize_column_sums", program, eqns, program.once, written)
    return program.rewritten(eqns, None, None, rec)


def _column_sum(
    root: Eqn, defs: dict[Var, Eqn], count: dict[Var, int], cols: dict[Var, tuple[Var, int]]
) -> tuple[Var, tuple[int, ...], Any] | None:
    """(vector, columns, bias) when the chain ending at `root` sums columns of one vector."""
    terms: list[Any] = []
    stack: list[Any] = [root.operands[1], root.operands[0]]
    while stack:
        x = stack.pop()
        d = defs.get(x) if x.__class__ is Var else None
        if d is not None and d.op is _ADD and count.get(x) == 1:
            stack.extend((d.operands[1], d.operands[0]))
        else:
            terms.append(x)
    picked, others = [], []
    for t in terms:
        if t.__class__ is Var and t in cols:
            picked.append(cols[t])
        elif t.__class__ is float and t == 0.0 and str(t) == "0.0":
            continue
        else:
            others.append(t)
    if len(picked) < 2 or len(others) > 1 or len({v for v, _ in picked}) != 1:
        return None
    bias = others[0] if others else 0.0
    if bias.__class__ is Var and bias.kind not in ("param", "const"):
        return None
    return picked[0][0], tuple(j for _, j in picked), bias
