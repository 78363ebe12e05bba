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
from autograd_core.program.core import COLUMN, DENSE, MAP, PACK, Eqn, Program, Var
from autograd_core.program.passes._util import record, sum_terms, uses

_ADD, _MUL, _LINEAR = OPS["add"], OPS["mul"], OPS["linear"]


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
    picked, others = [], []
    for t in sum_terms(root, defs, count):
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


def recognize_rowwise_dots(program: Program) -> Program:
    """A dot product of two per-example vectors (targets . logits) as a map and a row of ones.

    A `linear` whose weights are not the same for every example (so not a
    dense layer) and whose inputs are columns of one vector becomes
    `map[mul]` of the two vectors (the weights packed side by side unless
    they are one vector's columns too) and a one-row dense layer of ones:
    two matrix operations instead of 2n array operations. Rounding: the sum
    moves by at most about n * 2**-53 * sum(|w_i x_i|).
    """
    cols = {e.out: (e.operands[0], e.attrs["j"]) for e in program.eqns if e.prim == COLUMN}
    made: dict[Var, list[Eqn]] = {}
    written: list[Eqn] = []
    for e in program.eqns:
        if e.op is not _LINEAR or e.prim != "linear":
            continue
        n = (len(e.operands) - 1) // 2
        ws, xs, bias = e.operands[:n], e.operands[n : 2 * n], e.operands[-1]
        if n < 2 or (bias.__class__ is Var and bias.kind not in ("param", "const")):
            continue
        sides = []
        new: list[Eqn] = []
        for side in (ws, xs):
            if not all(x.__class__ is Var and x.kind in ("input", "eqn") for x in side):
                break
            found = _one_vector(side, cols)
            if found is None:
                vec = program.new_var(n)
                new.append(Eqn(vec, PACK, None, tuple(side)))
                found = (vec, None)
            sides.append(found)
        else:
            if not any(_one_vector(side, cols) for side in (ws, xs)):
                continue  # two packs: nothing gained over the linear
            (a, sa), (b, sb) = sides
            prod = program.new_var(n)
            new.append(Eqn(prod, MAP, _MUL, (a, b), {"cols": (sa, sb)}))
            row = program.new_var(1)
            new.append(
                Eqn(row, DENSE, _LINEAR, (prod,), {"W": [[1.0] * n], "b": [bias], "cols": None})
            )
            new.append(Eqn(e.out, COLUMN, None, (row,), {"j": 0}))
            made[e.out] = new
            written.extend(new[:-1])
    eqns: list[Eqn] = []
    for e in program.eqns:
        eqns.extend(made.get(e.out, [e]))
    rec = record("recognize_rowwise_dots", program, eqns, program.once, written)
    return program.rewritten(eqns, None, None, rec)


def _one_vector(side: Any, cols: dict[Var, tuple[Var, int]]) -> tuple[Var, Any] | None:
    """(v, None) when `side` is all of v's columns in order, (v, columns) for some; else None."""
    if not all(x in cols for x in side):
        return None
    vecs = {cols[x][0] for x in side}
    if len(vecs) != 1:
        return None
    v = vecs.pop()
    sel = tuple(cols[x][1] for x in side)
    return v, (None if sel == tuple(range(v.width or 0)) else sel)
