"""Every entry of the op table, checked the same way: a new op is tested by being added.

For each primitive in `ops.PRIMITIVES` (and so for each `MATH` function it
uses), at seeded points inside the primitive's declared smooth `domain`:

- its rule, run over a sympy namespace generated from `MATH`, returns local
  derivatives equal to sympy's derivatives of the rule's own output;
- the engine's gradients match central finite differences;
- `backward(create_graph=True)` gives second derivatives equal to sympy's;
- compiled replay equals the engine bit for bit.
"""

import math
import random

import pytest
import sympy

from autograd_core import Value, compile_function, gradcheck
from autograd_core.engine import OPS
from autograd_core.ops import MATH, PRIMITIVES, NamespaceError, namespace

SYMPY = namespace("sympy", lambda entry: lambda *args: entry.sympy(sympy, *args))
POINTS = 4


def points(p, seed: int = 0) -> list[list[float]]:
    rng = random.Random(f"{p.name}-{seed}")
    return [[rng.uniform(lo, hi) for lo, hi in p.domain] for _ in range(POINTS)]


def apply(p, *xs):
    return OPS[p.name](*xs)


@pytest.fixture(params=PRIMITIVES, ids=[p.name for p in PRIMITIVES])
def prim(request):
    return request.param


def test_every_math_function_has_every_meaning():
    for entry in MATH.values():
        assert callable(entry.fn) and callable(entry.numpy)
        assert callable(entry.onnx) and callable(entry.sympy)


def test_an_incomplete_namespace_fails_naming_the_function_and_namespace():
    with pytest.raises(NamespaceError, match=r"the partial namespace has no 'exp'"):
        namespace("partial", lambda entry: None if entry.name == "exp" else entry.fn)


def test_every_primitive_declares_a_domain_and_every_math_name_exists(prim):
    n = prim.arity or 3
    assert len(prim.domain) == n
    if prim.math is not None:
        assert prim.math in MATH


def test_rule_derivatives_are_sympys_derivatives_of_its_output(prim):
    symbols = sympy.symbols(f"a0:{len(prim.domain)}", real=True)
    out, *derivs = prim.rule(SYMPY, *symbols)
    for xs in points(prim):
        at = dict(zip(symbols, xs))
        assert float(out.subs(at)) == pytest.approx(apply(prim, *xs).data, rel=1e-12, abs=1e-12)
        for s, d in zip(symbols, derivs):
            want = float(sympy.diff(out, s).subs(at))
            got = float(sympy.sympify(d).subs(at))
            assert got == pytest.approx(want, rel=1e-10, abs=1e-10), (prim.name, s)


def test_gradients_match_finite_differences(prim):
    for xs in points(prim, 1):
        assert gradcheck(lambda *vs: apply(prim, *vs), xs)


def test_second_derivatives_through_create_graph_match_sympy(prim):
    symbols = sympy.symbols(f"a0:{len(prim.domain)}", real=True)
    out = prim.rule(SYMPY, *symbols)[0]
    for xs in points(prim, 2):
        vs = [Value(x) for x in xs]
        apply(prim, *vs).backward(create_graph=True)
        firsts = [v.grad for v in vs]
        at = dict(zip(symbols, xs))
        for i, first in enumerate(firsts):
            if first.__class__ is not Value:
                continue  # a constant first derivative: its own derivatives are 0
            for v in vs:
                v.grad = 0.0
            first.backward()
            for j, v in enumerate(vs):
                want = float(sympy.diff(out, symbols[i], symbols[j]).subs(at))
                assert v.grad == pytest.approx(want, rel=1e-9, abs=1e-9), (prim.name, i, j)


def test_compiled_replay_equals_the_engine_bit_for_bit(prim):
    xs0 = points(prim, 3)[0]
    cf = compile_function(lambda *vs: apply(prim, *vs), xs0)
    assert cf.stats["rule_calls"] == 0  # built-in rules are written as code
    for xs in points(prim, 4):
        vs = [Value(x) for x in xs]
        out = apply(prim, *vs)
        out.backward()
        value, grads, _ = cf(xs)
        assert value == out.data or (math.isnan(value) and math.isnan(out.data))
        assert grads == [v.grad for v in vs]


def test_every_installed_operator_is_declared_for_type_checkers():
    import ast
    import inspect

    from autograd_core import engine

    tree = ast.parse(inspect.getsource(engine.Value))
    declared = {
        node.name
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.FunctionDef)
    }
    assert declared == {p.method for p in PRIMITIVES if p.method is not None}
