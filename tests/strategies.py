"""The one Hypothesis strategy for random expression graphs, shared by the test files.

`graphs()` draws a `Graph`: a straight-line program over the op table
(`autograd_core.ops.PRIMITIVES`, applied through `engine.OPS`, plus any user
primitives a test passes in). Registers are the inputs, then each step's
result; a step applies one op to earlier registers and constants. Operands
are drawn among all earlier registers, so x*x, a+a then b+b and diamonds (a
register used by two later steps) come up all the time.

Every node of a graph is a primitive, so one description runs everywhere: on
Values (`graph(*xs)`), on sympy symbols (`graph.sympy(symbols)`, each op's
forward value from its own rule over a sympy namespace built from `ops.MATH`),
and through whatever traces the engine (compiled replay, ONNX export,
batched replay).

Keeping operands in domain. Each primitive declares, per operand, a `domain`
interval where it is smooth. A constant operand is drawn inside it. A register
operand of an operand whose domain lies above 0 (log, sqrt, the divisor, the
base of pow; relu and abs, whose kink is at 0) is fed through two extra
steps, `r*r + c` with the constant `c` drawn in the domain, so it is >= c.
With `smooth=False` this is done only where the forward value would not
exist otherwise (found by applying the rule at 0 and -1), so relu and abs see
raw registers and their kinks. Nothing bounds magnitudes (exp of exp, a large
power overflow): tests discard such draws with `assume`.

Every step reaches an output: registers no later step uses are added into
the last output, so a node's errors and gradients are never left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from autograd_core.engine import OPS, Op, Value
from autograd_core.ops import FLOAT, PRIMITIVES, namespace

# A step: (op name, operands); an int operand is a register, a float a constant.
Step = tuple[str, tuple[int | float, ...]]

DOMAINS: dict[str, tuple[tuple[float, float], ...]] = {p.name: p.domain for p in PRIMITIVES}
ANY = (-2.0, 2.0)  # the domain of a user primitive's operands, which declare none


@dataclass(frozen=True)
class Graph:
    """A random expression graph: `n_inputs` inputs, `steps`, and output registers."""

    n_inputs: int
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]
    extra: Mapping[str, Op] = field(default_factory=dict, repr=False, compare=False)

    def op(self, name: str) -> Op:
        return self.extra[name] if name in self.extra else OPS[name]

    def registers(self, inputs: Sequence[Any], apply: Callable[[str, list], Any] | None = None):
        """Every register's value: the inputs, then each step applied by `apply(name, args)`.

        By default steps are engine ops on Values (constants stay numbers).
        """
        if len(inputs) != self.n_inputs:
            raise ValueError(f"the graph has {self.n_inputs} inputs, got {len(inputs)}")
        apply = apply or (lambda name, args: self.op(name)(*args))
        regs = list(inputs)
        for name, operands in self.steps:
            regs.append(apply(name, [regs[a] if type(a) is int else a for a in operands]))
        return regs

    def __call__(self, *inputs: Any) -> Any:
        """The graph on Values: its output, or a tuple of them (as traced functions return)."""
        regs = self.registers(inputs)
        outs = tuple(regs[i] for i in self.outputs)
        return outs[0] if len(outs) == 1 else outs

    def sympy(self, symbols: Sequence[Any]) -> tuple[list, list]:
        """(registers, outputs) as exact sympy expressions: constants become Rationals."""
        import sympy

        ns = _sympy_namespace()

        def apply(name: str, args: list) -> Any:
            args = [sympy.Rational(a) if isinstance(a, float) else a for a in args]
            return self.op(name).rule(ns, *args)[0]

        regs = self.registers(symbols, apply)
        return regs, [regs[i] for i in self.outputs]


_SYMPY: list = []


def _sympy_namespace() -> Any:
    if not _SYMPY:
        import sympy

        _SYMPY.append(namespace("sympy", lambda entry: lambda *args: entry.sympy(sympy, *args)))
    return _SYMPY[0]


class Builder:
    """Appends steps to a graph under construction; `add` returns the new register."""

    def __init__(self, n_inputs: int, extra: Mapping[str, Op] | None = None) -> None:
        self.n_inputs = n_inputs
        self.steps: list[Step] = []
        self.extra = dict(extra or {})

    def add(self, name: str, *operands: int | float) -> int:
        self.steps.append((name, tuple(operands)))
        return self.n_inputs + len(self.steps) - 1

    def fit(self, name: str, i: int, r: int, c: float, smooth: bool = True) -> int:
        """Register `r` as operand `i` of `name`: `r*r + c` where `needs_fitting` says so."""
        if name in DOMAINS and needs_fitting(name, i, smooth):
            return self.add("add", self.add("mul", r, r), c)
        return r

    def graph(self, outputs: Iterable[int] | None = None, connect: bool = True) -> Graph:
        """The graph, outputs defaulting to the last register; `connect` feeds every step in."""
        outs = list(outputs) if outputs is not None else [self.n_inputs + len(self.steps) - 1]
        if connect:
            used = {a for _, operands in self.steps for a in operands if type(a) is int}
            first = self.n_inputs
            for r in range(first, first + len(self.steps)):
                if r not in used and r not in outs:
                    outs[-1] = self.add("add", outs[-1], r)
        return Graph(self.n_inputs, tuple(self.steps), tuple(outs), self.extra)


def needs_fitting(name: str, i: int, smooth: bool) -> bool:
    """Whether operand `i` of built-in `name` must be fed `r*r + c` rather than a raw register."""
    lo, hi = DOMAINS[name][min(i, len(DOMAINS[name]) - 1)]
    if lo <= 0:
        return False
    if smooth:
        return True
    # Does the forward value exist with this operand at 0 and at -1 (others inside)?
    rule = next(p.rule for p in PRIMITIVES if p.name == name)
    others = [a + 0.3 * (b - a) for a, b in DOMAINS[name]]  # not an integer: pow(-1, y)
    for bad in (0.0, -1.0):
        args = list(others)
        args[i] = bad
        try:
            rule(FLOAT, *args)
        except (ArithmeticError, ValueError):
            return True
    return False


def _constants(lo: float, hi: float) -> st.SearchStrategy[float]:
    # Two decimals: readable falsifying examples and short exact Rationals in sympy.
    return st.floats(lo, hi).map(lambda v: min(max(round(v, 2), lo), hi))


@st.composite
def graphs(
    draw: Callable,
    *,
    ops: Iterable[str] | None = None,
    extra: Mapping[str, Op] | None = None,
    n_inputs: int | tuple[int, int] = (1, 3),
    max_steps: int = 8,
    n_outputs: int | tuple[int, int] = 1,
    smooth: bool = True,
    constants: bool = True,
    max_width: int = 3,
) -> Graph:
    """A random `Graph` over `ops` (default: every built-in primitive) and `extra` user ops.

    `n_inputs` and `n_outputs` are a count or a (min, max) range; `max_steps`
    bounds the drawn op steps (fitting and connecting steps come on top);
    `smooth` keeps every operand in its declared smooth domain (off kinks),
    otherwise only where the forward value needs it; `constants` lets number
    operands appear beside registers; `max_width` bounds linear's width.
    """
    extra = dict(extra or {})
    names = sorted(OPS if ops is None else ops) + sorted(extra)
    if isinstance(n_inputs, int):
        n_inputs = (n_inputs, n_inputs)
    if isinstance(n_outputs, int):
        n_outputs = (n_outputs, n_outputs)
    b = Builder(draw(st.integers(*n_inputs)), extra)

    def register() -> int:
        return draw(st.integers(0, b.n_inputs + len(b.steps) - 1))

    n_steps = draw(st.integers(1, max_steps))
    for _ in range(n_steps):
        name = draw(st.sampled_from(names))
        op = extra.get(name) or OPS[name]
        arity = op.arity or 2 * draw(st.integers(1, max_width)) + 1
        domains = DOMAINS.get(name, (ANY,))
        domains = [domains[min(i, len(domains) - 1)] for i in range(arity)]
        # Which operands are numbers: never all of them, never a unary op's.
        is_const = [constants and arity > 1 and draw(st.integers(0, 3)) == 0 for _ in domains]
        if all(is_const):
            is_const[draw(st.integers(0, arity - 1))] = False
        operands: list[int | float] = []
        for i, ((lo, hi), const) in enumerate(zip(domains, is_const)):
            if const:
                operands.append(draw(_constants(lo, hi)))
                continue
            r = register()
            if name in DOMAINS and needs_fitting(name, i, smooth):
                r = b.fit(name, i, r, draw(_constants(lo, hi)), smooth)
            operands.append(r)
        b.add(name, *operands)
    k = min(draw(st.integers(*n_outputs)), len(b.steps))
    last = b.n_inputs + len(b.steps)
    return b.graph(range(last - k, last))


def finite_values(registers: Sequence[Any], limit: float = math.inf) -> bool:
    """Whether every register that is a Value holds a finite number below `limit` in size."""
    return all(
        math.isfinite(r.data) and abs(r.data) < limit for r in registers if isinstance(r, Value)
    )
