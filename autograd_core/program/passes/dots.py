"""Recognising sums of products as dot products: `b + w1*x1 + ... + wn*xn` becomes one `linear`.

A chain of `add` equations whose terms are products (`mul` equations read
nowhere else) and at most one other term (the bias) is one `linear`
equation, whatever association built it: Python's `sum(gen)` (which starts
from 0: a literal 0.0 term is dropped), `sum(gen, b)`, a hand loop
`acc = acc + w*x` with b first or last, or a balanced tree. In each product
the factor that is the same for every example (a param, a constant, a
number) becomes the weight, so the dense-layer pass can group the neurons.

The products are put in the order their inputs were made (inputs first), so
neurons over the same inputs written in different styles give the same
`linear` shape and still group into one layer.

Rounding: `linear` adds `b + w1*x1 + w2*x2 + ...` in that order. That is the
order of `sum(gen, b)` and of a loop starting from b over inputs in their
order, so those give the same bits; another association (b last, a tree,
products first) is regrouped, which changes the last bits of the sum: each
sum of n terms moves by at most about n * 2**-53 * sum(|terms|). The codegen
backend (compile_function) does not run this pass and stays bit for bit
equal to the engine.
"""

from __future__ import annotations

from typing import Any

from autograd_core.engine import OPS
from autograd_core.program.core import Eqn, Program, Var
from autograd_core.program.passes._util import batch_free, record, sum_terms, uses

_ADD, _MUL, _LINEAR = OPS["add"], OPS["mul"], OPS["linear"]


def recognize_dots(program: Program) -> Program:
    """Every sum-of-products chain of two or more terms as one `linear` equation."""
    count = uses(program)
    free = batch_free(program)
    written: list[Eqn] = []

    def rewrite(section: list[Eqn]) -> list[Eqn]:
        defs = {e.out: e for e in section}
        absorbed: set[Var] = set()  # outputs of adds and muls folded into a chain
        inner: set[Var] = set()  # adds read by exactly one add: part of a longer chain

        for e in section:
            if e.op is _ADD:
                for x in e.operands:
                    d = defs.get(x) if x.__class__ is Var else None
                    if d is not None and d.op is _ADD and count.get(x) == 1:
                        inner.add(x)
        new: dict[Var, Eqn] = {}
        roots = [e for e in section if e.op is _ADD and e.out not in inner]
        while roots:
            e = roots.pop()
            lin, folded = _chain(e, defs, count, free)
            if lin is None:  # not a dot product as a whole: try its parts
                for x in e.operands:
                    if x.__class__ is Var and x in inner:
                        roots.append(defs[x])
                continue
            absorbed.update(folded)
            new[e.out] = lin
            written.append(lin)
        out = []
        for e in section:
            if e.out in new:
                out.append(new[e.out])
            elif e.out not in absorbed:
                out.append(e)
        return out

    once = rewrite(program.once)
    eqns = rewrite(program.eqns)
    rec = record("recognize_dots", program, eqns, once, written)
    return program.rewritten(eqns, once, None, rec)


def _chain(
    e: Eqn, defs: dict[Var, Eqn], count: dict[Var, int], free: set[Var]
) -> tuple[Eqn | None, list[Var]]:
    """The `linear` equation for the chain ending at `e` and what it folds, or (None, [])."""
    products, others = [], []
    for t in sum_terms(e, defs, count):
        d = defs.get(t) if t.__class__ is Var else None
        if d is not None and d.op is _MUL and count.get(t) == 1:
            products.append(d)
        elif t.__class__ is float and t == 0.0 and str(t) == "0.0":
            continue  # sum()'s start (x + 0.0 is x)
        else:
            others.append(t)
    if not products or len(others) > 1 or len(products) + len(others) < 2:
        return None, []
    pairs, folded = [], []
    for d in products:
        a, b = d.operands
        if _is_free(b, free) and not _is_free(a, free):
            a, b = b, a
        pairs.append((a, b))
        folded.append(d.out)
    # Products in the order of their inputs, however the chain was associated, so
    # that neurons written in different styles over the same inputs still group.
    pairs.sort(
        key=lambda wx: _ORDER.get(getattr(wx[1], "kind", ""), 9) * 1e12 + getattr(wx[1], "index", 0)
    )
    ws = [w for w, _ in pairs]
    xs = [x for _, x in pairs]
    folded.extend(_chain_adds(e, defs, count))
    bias = others[0] if others else 0.0
    return Eqn(e.out, "linear", _LINEAR, (*ws, *xs, bias)), folded


_ORDER = {"input": 0, "param": 1, "const": 2, "eqn": 3}


def _is_free(x: Any, free: set[Var]) -> bool:
    return x.__class__ is not Var or x in free


def _chain_adds(root: Eqn, defs: dict[Var, Eqn], count: dict[Var, int]) -> list[Var]:
    """The adds folded into `root`'s chain (not root itself)."""
    found = []
    stack: list[Any] = list(root.operands)
    while stack:
        x = stack.pop()
        d = defs.get(x) if x.__class__ is Var else None
        if d is not None and d.op is _ADD and count.get(x) == 1:
            found.append(x)
            stack.extend(d.operands)
    return found
