"""Dense layers and the elementwise maps over them.

`group_dense`: `linear` equations whose weights and bias are params or
numbers and whose inputs are the same per-example values, in the same order,
are the neurons of one dense layer (unless it is one neuron with one input):
one `dense[W, b]` equation (a matrix
product in batched replay, Gemm in ONNX), exactly as nn's fused `linear`
nodes are grouped. Each neuron's value becomes a column `col[j]` of it.

`group_maps`: the same op on columns of one vector (relu on every neuron of
a layer; `z_j - peak` for every logit) is one `map[op]` equation over it.

`fold_packs`: a dense layer reading `pack(col[0] v, ..., col[n-1] v)` reads
`v` itself (the next layer reads the previous layer's vector).

Rounding: each row is `b_i + sum_j W_ij v_j` in order on floats (the
program's own evaluation); batched replay computes it with a matrix product
(BLAS), whose summation order is its own: a dense layer's value moves by
at most about n * 2**-53 * sum_j |W_ij v_j|.
"""

from __future__ import annotations

from typing import Any

from autograd_core.program.core import (
    COLUMN,
    DENSE,
    MAP,
    PACK,
    Eqn,
    History,
    PassRecord,
    Program,
    Var,
)
from autograd_core.program.passes._util import batch_free, record, value_of

__all__ = ["fold_packs", "group_dense", "group_maps"]


def _columns(section: list[Eqn]) -> dict[Var, tuple[Var, int]]:
    """Each `col[j] v` output as (v, j)."""
    return {e.out: (e.operands[0], e.attrs["j"]) for e in section if e.prim == COLUMN}


def group_dense(program: Program) -> Program:
    """Group the per-example `linear` equations over the same inputs into dense layers."""
    free = batch_free(program)
    cols = _columns(program.eqns)
    groups: dict[tuple, list[Eqn]] = {}
    for e in program.eqns:
        if e.prim != "linear" or e.op is None:
            continue
        n = (len(e.operands) - 1) // 2
        ws, xs, b = e.operands[:n], e.operands[n : 2 * n], e.operands[-1]
        if n == 0 or not all(_weight(w) for w in (*ws, b)):
            continue
        if not all(x.__class__ is Var and x not in free for x in xs):
            continue
        groups.setdefault(tuple(xs), []).append(e)
    first: dict[Var, tuple] = {}  # first member's output -> its group's key
    member: dict[Var, tuple[Var, int]] = {}  # member output -> (dense output, column)
    made: dict[tuple, list[Eqn]] = {}
    written: list[Eqn] = []
    for xs, members in groups.items():
        if len(members) == 1 and len(xs) == 1:
            continue  # w * x + b alone: nothing to gain from a matrix
        width = len(members)
        out = program.new_var(width)
        source, sel = _source(xs, cols)
        pre: list[Eqn] = []
        if source is None:
            source = program.new_var(len(xs))
            pre.append(Eqn(source, PACK, None, tuple(xs)))
            sel = None
        n = len(xs)
        W = [[value_of(program, w) for w in m.operands[:n]] for m in members]
        bias = [value_of(program, m.operands[-1]) for m in members]
        dense = Eqn(out, DENSE, members[0].op, (source,), {"W": W, "b": bias, "cols": sel})
        made[xs] = [*pre, dense]
        written.extend(made[xs])
        first[members[0].out] = xs
        for j, m in enumerate(members):
            member[m.out] = (out, j)
    eqns = _splice(program.eqns, first, made, member)
    rec = record("group_dense", program, eqns, program.once, written)
    return program.rewritten(eqns, None, None, rec)


def _weight(w: Any) -> bool:
    """A param or a number (a constant Var counts as its number)."""
    return w.__class__ is not Var or w.kind in ("param", "const")


def _source(xs: tuple, cols: dict[Var, tuple[Var, int]]) -> tuple[Var | None, Any]:
    """(v, None) when xs are all of v's columns in order; (v, cols) for some of them; else None."""
    if not all(x in cols for x in xs):
        return None, None
    vecs = {cols[x][0] for x in xs}
    if len(vecs) != 1:
        return None, None
    v = vecs.pop()
    sel = tuple(cols[x][1] for x in xs)
    return v, (None if sel == tuple(range(v.width or 0)) else sel)


def group_maps(program: Program) -> Program:
    """`_maps_once` until nothing more groups (exp of a map of sub is a map in turn)."""
    before = program
    items: list[Any] = []
    for _ in range(32):
        after = _maps_once(program)
        items.extend(after.history[-1].items)
        if after.count(MAP) == program.count(MAP):
            break
        program = after
    rec = PassRecord("group_maps", before.count(), program.count(), items=items)
    result = program.rewritten(program.eqns, None, None, rec)
    result.history = History([*before.history, rec])  # one record for all the rounds
    return result


def _maps_once(program: Program) -> Program:
    """The same op over columns of the same vectors (and the same other operands) is one `map`.

    relu on every neuron of a layer; `z_j - peak` for every logit (a vector
    and a scalar); `a_j * b_j` over two layers. Each member reads, at each
    operand, either a column of one vector (the same vector for every member)
    or one value shared by all members.
    """
    cols = _columns(program.eqns)
    groups: dict[tuple, list[Eqn]] = {}
    for e in program.eqns:
        op = e.op
        if e.prim in (COLUMN, DENSE, MAP, PACK) or op is None:
            continue
        pattern = tuple(
            ("v", cols[x][0]) if x.__class__ is Var and x in cols else ("s", x) for x in e.operands
        )
        if all(kind == "s" for kind, _ in pattern):
            continue
        groups.setdefault((op, pattern), []).append(e)
    first: dict[Var, tuple] = {}
    member: dict[Var, tuple[Var, int]] = {}
    made: dict[tuple, Eqn] = {}
    written = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        op, pattern = key
        operands: list[Any] = []
        sels: list[tuple[int, ...] | None] = []
        for i, (kind, x) in enumerate(pattern):
            operands.append(x)
            if kind == "s":
                sels.append(None)
                continue
            sel = tuple(cols[m.operands[i]][1] for m in members)
            sels.append(None if sel == tuple(range(x.width)) else sel)
        out = program.new_var(len(members))
        made[key] = Eqn(out, MAP, op, tuple(operands), {"cols": tuple(sels)})
        written.append(made[key])
        first[members[0].out] = key
        for j, m in enumerate(members):
            member[m.out] = (out, j)
    eqns = _splice(program.eqns, first, {k: [e] for k, e in made.items()}, member)
    rec = record("group_maps", program, eqns, program.once, written)
    return program.rewritten(eqns, None, None, rec)


def _splice(
    eqns: list[Eqn],
    first: dict[Var, Any],
    made: dict[Any, list[Eqn]],
    member: dict[Var, tuple[Var, int]],
) -> list[Eqn]:
    """`eqns` with each group's new equations where its first member stood.

    Every member becomes a column of the group's vector, under its old name,
    so whatever read it reads the same number.
    """
    out: list[Eqn] = []
    for e in eqns:
        if e.out in first:
            out.extend(made[first[e.out]])
        if e.out in member:
            vec, j = member[e.out]
            out.append(Eqn(e.out, COLUMN, None, (vec,), {"j": j}))
        else:
            out.append(e)
    return out


def fold_packs(program: Program) -> Program:
    """A dense layer over `pack` of one vector's columns reads that vector directly."""
    cols = _columns(program.eqns)
    packs = {e.out: e for e in program.eqns if e.prim == PACK}
    eqns = []
    written = []
    for e in program.eqns:
        if e.prim == DENSE and e.operands[0] in packs and e.attrs.get("cols") is None:
            source, sel = _source(packs[e.operands[0]].operands, cols)
            if source is not None:
                e = Eqn(e.out, DENSE, e.op, (source,), {**e.attrs, "cols": sel})
                written.append(e)
        eqns.append(e)
    rec = record("fold_packs", program, eqns, program.once, written)
    return program.rewritten(eqns, None, None, rec)
