"""Every entry of the op table, checked the same way: a new op is tested by being added.

For each primitive in `ops.PRIMITIVES` (and so for each `MATH` function it
uses), inside the primitive's declared smooth `domain`:

- at seeded points, its rule, run over a sympy namespace generated from
  `MATH`, returns local derivatives equal to sympy's derivatives of the rule's
  own output, and `backward(create_graph=True)` gives second derivatives equal
  to sympy's;
- in every interpreter, with `autograd_core.testing.check_primitive` (what
  users run on their own primitives) on inputs Hypothesis draws: the engine's
  gradients match central finite differences, `create_graph` second
  derivatives match finite differences of the first, compiled replay equals
  the engine bit for bit (with no rule called at replay), batched replay
  (NumPy) and ONNX Runtime equal the engine. An interpreter that cannot run
  an op (an ONNX op with no float64 kernel in ONNX Runtime, such as Tan) fails
  here, in the op's own test.
"""

import math
import random

import pytest
import sympy

from autograd_core import Value, compile_function
from autograd_core.engine import OPS, primitive
from autograd_core.ops import FLOAT, MATH, PRIMITIVES, NamespaceError, namespace
from autograd_core.testing import INTERPRETERS, PrimitiveCheckError, check_primitive

SYMPY = namespace("sympy", lambda entry: lambda *args: entry.sympy(sympy, *args))
POINTS = 4
EXAMPLES = 25  # Hypothesis draws per primitive and interpreter


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


# Kinks that per-operand domains cannot keep away: inputs are drawn off them.
OFF_KINKS = {"maximum": lambda a, b: abs(a - b) > 1e-3}  # a tie picks b's derivative


def check_in(prim, interpreter: str, **kwargs) -> None:
    """The table's check of one primitive in one interpreter: it must run there and pass."""
    if interpreter == "onnxruntime":
        pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    kwargs.setdefault("assume", OFF_KINKS.get(prim.name))
    report = check_primitive(prim, interpreters=[interpreter], max_examples=EXAMPLES, **kwargs)
    report.raise_if_failed(strict=True)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_every_primitive_in_every_interpreter(prim, interpreter):
    check_in(prim, interpreter)


def test_compiled_replay_calls_no_rule(prim):
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


def test_a_wrong_meaning_in_one_interpreter_fails_that_interpreters_check(monkeypatch):
    """The control for the table check: it can fail, and names where."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from autograd_core.batched import NUMPY
    from autograd_core.onnx_export import onnx_namespace

    exp, sin = (next(p for p in PRIMITIVES if p.name == name) for name in ("exp", "sin"))
    check_in(exp, "batched")
    check_in(sin, "onnxruntime")
    monkeypatch.setattr(NUMPY, "exp", lambda x: np.exp(x) * (1.0 + 1e-9))
    with pytest.raises(PrimitiveCheckError, match="batched: failed at inputs"):
        check_in(exp, "batched")
    m = onnx_namespace()
    monkeypatch.setattr(m, "sin", lambda x: m.cos(x) * 0.0 + m.tanh(x))
    with pytest.raises(PrimitiveCheckError, match="onnxruntime: failed at inputs"):
        check_in(sin, "onnxruntime")


@pytest.fixture
def tan(monkeypatch):
    """tan as if added to the op table: m.tan in the float, NumPy and ONNX namespaces.

    Its ONNX meaning is the Tan node, which ONNX Runtime has no float64 kernel for.
    """
    np = pytest.importorskip("numpy")
    from autograd_core.batched import NUMPY
    from autograd_core.onnx_export import OnnxSymbol, onnx_namespace

    def onnx_tan(x):
        if not isinstance(x, OnnxSymbol):
            return math.tan(x)  # a constant operand: folded, as every m.* function does
        return OnnxSymbol(x.graph, x.graph.node("Tan", x))

    monkeypatch.setattr(FLOAT, "tan", math.tan, raising=False)
    monkeypatch.setattr(NUMPY, "tan", np.tan, raising=False)
    monkeypatch.setattr(onnx_namespace(), "tan", onnx_tan, raising=False)

    @primitive("tan")
    def tan_rule(m, x):
        t = m.tan(x)
        return t, 1.0 + t * t  # d/dx tan x = 1 + tan(x)**2

    return tan_rule


def test_an_op_without_a_float64_kernel_in_onnx_runtime_fails_the_table_check(tan):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    domain = [(-1.2, 1.2)]
    for interpreter in ("engine", "batched"):
        check_in(tan, interpreter, domain=domain)  # tan itself is right...
    with pytest.raises(PrimitiveCheckError) as info:
        check_in(tan, "onnxruntime", domain=domain)  # ...but ONNX Runtime cannot run it
    message = str(info.value)
    assert "onnxruntime: cannot run" in message
    assert "no float64 kernel" in message and "Tan" in message


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
