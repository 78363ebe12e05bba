"""Hypothesis strategies for testing derivatives: numbers, random expressions, MLPs.

- `numbers(domain)`: floats in an interval; `operands(prim)`: one input row for
  a primitive, drawn from its declared smooth domain.
- `expressions(ops=[...], primitives=[...], max_depth=...)`: a random
  expression over the op table and your own primitives, drawn as
  `(function, inputs)`; use it as `@given(expressions(...))`.
- `mlps(...)`: MLP-shaped graphs (layers of neurons, fused `linear` or
  micrograd-style sums of products, an activation), also `(function, inputs)`.
- `graphs(...)`: the `Graph` itself, the straight-line program the others draw.

A `Graph` is a straight-line program over the op table
(`autograd_core.ops.PRIMITIVES`, applied through `engine.OPS`, plus any user
primitives given). Registers are the inputs, then each step's result; a step
applies one op to earlier registers and constants. Operands are drawn among all
earlier registers, so x*x, a+a then b+b and diamonds (a register used by two
later steps) come up all the time. Every node is a primitive, so one
description runs everywhere: on Values (`graph(*xs)`), on sympy symbols
(`graph.sympy(symbols)`, each op's forward value from its own rule over a
sympy namespace built from `ops.MATH`), and through whatever traces the engine
(compiled replay, ONNX export, batched replay).

Keeping operands in domain. Each primitive declares, per operand, a `domain`
interval where it is smooth. A constant operand is drawn inside it. A register
operand of an operand whose domain lies above 0 (log, sqrt, the divisor, the
base of pow; relu and abs, whose kink is at 0) is fed through two extra steps,
`r*r + c` with the constant `c` drawn in the domain, so it is >= c. With
`smooth=False` this is done only where the forward value would not exist
otherwise (found by applying the rule at 0 and -1), so relu and abs see raw
registers and their kinks. A kink where two operands tie (`maximum`, see
`TIES`) cannot be kept away by intervals: smooth graphs give such an op `r`
and `r + c`, |c| >= 0.1, instead of two drawn operands. User primitives
declare no domain: their operands are raw registers, and constants are drawn
in (-2, 2). Nothing bounds
magnitudes (exp of exp, a large power overflow): discard such draws with
`assume(finite_values(graph.registers(values)))`.

Every step reaches an output: registers no later step uses are added into the
last output, so a node's errors and gradients are never left out.

Needs Hypothesis, the `testing` extra (`pip install 'autograd-core[testing]'`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd_core.engine import OPS, Op, Value
from autograd_core.ops import FLOAT, PRIMITIVES, Primitive, namespace
from autograd_core.optional import require

require("hypothesis", "testing", "autograd_core.testing.strategies")
from hypothesis import strategies as st  # noqa: E402

__all__ = [
    "ANY",
    "DOMAINS",
    "TIES",
    "Builder",
    "Graph",
    "Step",
    "expressions",
    "finite_values",
    "graphs",
    "mlps",
    "needs_fitting",
    "numbers",
    "operands",
]

# A step: (op name, operands); an int operand is a register, a float a constant.
Step = tuple[str, tuple[int | float, ...]]

DOMAINS: dict[str, tuple[tuple[float, float], ...]] = {p.name: p.domain for p in PRIMITIVES}
ANY = (-2.0, 2.0)  # the domain of a user primitive's operands, which declare none
# Binary built-ins whose kink is a tie of their operands, which no per-operand
# domain can keep away: smooth graphs feed them `r` and `r + c` instead.
TIES = frozenset({"maximum", "minimum"})


# ---------------------------------------------------------------------------
# Numbers.


def numbers(
    domain: tuple[float, float] = ANY, *, decimals: int | None = None
) -> st.SearchStrategy[float]:
    """Finite floats in the closed interval `domain`, rounded to `decimals` places if given.

    Rounded numbers make readable falsifying examples (and short exact
    Rationals in sympy); they are clamped back into the interval.
    """
    lo, hi = domain
    floats = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if decimals is None:
        return floats
    return floats.map(lambda v: min(max(round(v, decimals), lo), hi))


def operands(
    prim: Primitive | Op | str, domain: Sequence[tuple[float, float]] | None = None
) -> st.SearchStrategy[list[float]]:
    """One input row for `prim`: a number per operand from its declared smooth domain.

    `domain` (one interval per operand) overrides it; a user primitive, which
    declares none, gets (-2, 2) per operand.
    """
    name = prim if isinstance(prim, str) else prim.name
    if domain is None:
        domain = DOMAINS.get(name)
    if domain is None:
        arity = OPS[name].arity if isinstance(prim, str) else prim.arity
        if arity is None:
            raise ValueError(f"operands: {name!r} takes any number of operands: pass domain")
        domain = [ANY] * arity
    return st.tuples(*[numbers(d) for d in domain]).map(list)


# ---------------------------------------------------------------------------
# Graphs.


@dataclass(frozen=True)
class Graph:
    """A random expression graph: `n_inputs` inputs, `steps`, and output registers."""

    n_inputs: int
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]
    extra: Mapping[str, Op] = field(default_factory=dict, repr=False, compare=False)

    def op(self, name: str) -> Op:
        return self.extra[name] if name in self.extra else OPS[name]

    def registers(
        self, inputs: Sequence[Any], apply: Callable[[str, list[Any]], Any] | None = None
    ) -> list[Any]:
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

    def sympy(self, symbols: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """(registers, outputs) as exact sympy expressions: constants become Rationals."""
        sympy = require("sympy", "test", "Graph.sympy")
        ns = _sympy_namespace()

        def apply(name: str, args: list[Any]) -> Any:
            args = [sympy.Rational(a) if isinstance(a, float) else a for a in args]
            return self.op(name).rule(ns, *args)[0]

        regs = self.registers(symbols, apply)
        return regs, [regs[i] for i in self.outputs]


_SYMPY: list[Any] = []


def _sympy_namespace() -> Any:
    if not _SYMPY:
        sympy = require("sympy", "test", "Graph.sympy")
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
    return numbers((lo, hi), decimals=2)


def _range(n: int | tuple[int, int]) -> tuple[int, int]:
    return (n, n) if isinstance(n, int) else n


def _draw_graph(
    draw: Callable[..., Any],
    ops: Iterable[str] | None,
    extra: Mapping[str, Op] | None,
    n_inputs: int | tuple[int, int],
    max_steps: int,
    n_outputs: int | tuple[int, int],
    smooth: bool,
    constants: bool,
    max_width: int,
    max_depth: int | None,
) -> Graph:
    extra = dict(extra or {})
    names = sorted(OPS if ops is None else ops) + sorted(extra)
    b = Builder(draw(st.integers(*_range(n_inputs))), extra)
    depth = [0] * b.n_inputs  # ops on the longest path from an input, per register

    def register() -> int:
        if max_depth is None:
            return int(draw(st.integers(0, b.n_inputs + len(b.steps) - 1)))
        return int(draw(st.sampled_from([r for r, d in enumerate(depth) if d < max_depth])))

    def extend(r: int, d: int) -> None:
        depth.extend([d] * (r + 1 - len(depth)))

    n_steps = draw(st.integers(1, max_steps))
    for _ in range(n_steps):
        name = draw(st.sampled_from(names))
        op = extra.get(name) or OPS[name]
        arity = op.arity or 2 * draw(st.integers(1, max_width)) + 1
        domains = DOMAINS.get(name, (ANY,))
        domains = tuple(domains[min(i, len(domains) - 1)] for i in range(arity))
        # Which operands are numbers: never all of them, never a unary op's.
        is_const = [constants and arity > 1 and draw(st.integers(0, 3)) == 0 for _ in domains]
        if all(is_const):
            is_const[draw(st.integers(0, arity - 1))] = False
        args: list[int | float] = []
        deepest = 0
        for i, ((lo, hi), const) in enumerate(zip(domains, is_const)):
            if const:
                args.append(draw(_constants(lo, hi)))
                continue
            r = register()
            deepest = max(deepest, depth[r])
            if name in DOMAINS and needs_fitting(name, i, smooth):
                fitted = b.fit(name, i, r, draw(_constants(lo, hi)), smooth)
                extend(fitted, depth[r])  # fitting steps do not count as depth
                r = fitted
            args.append(r)
        if smooth and name in TIES and len(args) == 2:
            # Apart by construction: one operand is the other plus c, |c| >= 0.1.
            keep = 0 if type(args[0]) is int else 1
            r = int(args[keep])  # a register: never are both operands numbers
            gap = draw(st.sampled_from([-1.0, 1.0])) * draw(_constants(0.1, 2.0))
            other = b.add("add", r, gap)
            extend(other, depth[r])
            args[1 - keep] = other
        extend(b.add(name, *args), deepest + 1)
    k = min(draw(st.integers(*_range(n_outputs))), len(b.steps))
    last = b.n_inputs + len(b.steps)
    return b.graph(range(last - k, last))


@st.composite
def graphs(
    draw: Callable[..., Any],
    *,
    ops: Iterable[str] | None = None,
    extra: Mapping[str, Op] | None = None,
    n_inputs: int | tuple[int, int] = (1, 3),
    max_steps: int = 8,
    n_outputs: int | tuple[int, int] = 1,
    smooth: bool = True,
    constants: bool = True,
    max_width: int = 3,
    max_depth: int | None = None,
) -> Graph:
    """A random `Graph` over `ops` (default: every built-in primitive) and `extra` user ops.

    `n_inputs` and `n_outputs` are a count or a (min, max) range; `max_steps`
    bounds the drawn op steps (fitting and connecting steps come on top);
    `max_depth`, if given, the drawn ops on any path from an input;
    `smooth` keeps every operand in its declared smooth domain (off kinks),
    otherwise only where the forward value needs it; `constants` lets number
    operands appear beside registers; `max_width` bounds linear's width.
    """
    return _draw_graph(
        draw, ops, extra, n_inputs, max_steps, n_outputs, smooth, constants, max_width, max_depth
    )


def _user_ops(primitives: Iterable[Op] | Mapping[str, Op]) -> dict[str, Op]:
    items = primitives.values() if isinstance(primitives, Mapping) else primitives
    out = {}
    for op in items:
        if not isinstance(op, Op):
            raise TypeError(f"primitives must hold Ops made with @primitive, got {op!r}"[:200])
        out[op.name] = op
    return out


def expressions(
    ops: Iterable[str | Op] | None = None,
    primitives: Iterable[Op] | Mapping[str, Op] = (),
    *,
    max_depth: int = 4,
    max_steps: int = 8,
    n_inputs: int | tuple[int, int] = (1, 3),
    domain: tuple[float, float] = ANY,
    smooth: bool = True,
    constants: bool = True,
) -> st.SearchStrategy[tuple[Graph, list[float]]]:
    """A random expression and inputs for it: `(function, inputs)`, `function(*Values)` a Value.

    `ops` are built-in primitive names (default: all of `ops.PRIMITIVES`; pass
    `[]` for only your own) and may hold your own Ops too, as may
    `primitives`; at most `max_steps` ops, at most `max_depth` on any path
    from an input to the output. Inputs are drawn from `domain`; operands
    that need positive numbers (log, sqrt, ...) get `r*r + c` (see the module
    docstring), and `smooth=True` also keeps relu and abs off their kinks.

        @given(expressions(ops=["mul", "exp", "tanh"], primitives=[softplus], max_depth=3))
        def test_softplus_in_context(fn_inputs):
            fn, inputs = fn_inputs
            check_grads(fn, inputs)
    """
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"expressions: max_depth must be an int >= 1, got {max_depth!r}")
    extra = _user_ops(primitives)
    names = []
    for item in OPS if ops is None else ops:
        if isinstance(item, Op) and OPS.get(item.name) is not item:
            extra[item.name] = item  # a user primitive given among the ops
            continue
        name = item.name if isinstance(item, Op) else item
        if name not in OPS:
            raise ValueError(f"expressions: no built-in primitive named {name!r}")
        names.append(name)
    names.sort()
    if not names and not extra:
        raise ValueError("expressions: give at least one op or primitive")

    @st.composite
    def draw_expression(draw: Callable[..., Any]) -> tuple[Graph, list[float]]:
        graph = _draw_graph(
            draw, names, extra, n_inputs, max_steps, 1, smooth, constants, 3, max_depth
        )
        return graph, [draw(numbers(domain)) for _ in range(graph.n_inputs)]

    return draw_expression()


def mlps(
    *,
    n_inputs: int | tuple[int, int] = (1, 3),
    hidden: int | tuple[int, int] = (1, 2),
    width: int | tuple[int, int] = (1, 4),
    activations: Sequence[str] = ("tanh", "sigmoid"),
    fused: bool | None = None,
    weights: tuple[float, float] = (-1.0, 1.0),
    weights_as_inputs: bool = False,
    domain: tuple[float, float] = ANY,
) -> st.SearchStrategy[tuple[Graph, list[float]]]:
    """An MLP-shaped graph and its inputs: `(function, inputs)`, one output.

    `hidden` layers of `width` neurons each (counts or (min, max) ranges),
    each neuron `act(b + sum(w_i * x_i))` with `act` drawn from `activations`
    (per layer; "relu" has a kink at 0), then one linear output neuron. A
    neuron is the fused `linear` primitive (`fused=True`), micrograd-style
    `mul` and `add` nodes (`fused=False`), or either, drawn per layer (None).
    Weights and biases are drawn from `weights`: constants in the graph, or,
    with `weights_as_inputs`, extra inputs after the features (so gradients
    with respect to them are checked too); their numbers come in `inputs`.
    """
    for a in activations:
        if a not in OPS or OPS[a].arity != 1:
            raise ValueError(f"mlps: activation {a!r} is not a unary built-in primitive")
    return _mlps(
        n_inputs, hidden, width, list(activations), fused, weights, weights_as_inputs, domain
    )


@st.composite
def _mlps(
    draw: Callable[..., Any],
    n_inputs: int | tuple[int, int],
    hidden: int | tuple[int, int],
    width: int | tuple[int, int],
    activations: list[str],
    fused: bool | None,
    weights: tuple[float, float],
    weights_as_inputs: bool,
    domain: tuple[float, float],
) -> tuple[Graph, list[float]]:
    n_features = draw(st.integers(*_range(n_inputs)))
    sizes = [draw(st.integers(*_range(width))) for _ in range(draw(st.integers(*_range(hidden))))]
    sizes.append(1)
    n_weights = sum((fan_in + 1) * n for fan_in, n in zip([n_features, *sizes], sizes))
    w_values = [draw(numbers(weights, decimals=2)) for _ in range(n_weights)]
    n_in = n_features + (n_weights if weights_as_inputs else 0)
    b = Builder(n_in)
    w_iter = iter(range(n_weights))

    def weight() -> int | float:
        k = next(w_iter)
        return n_features + k if weights_as_inputs else float(w_values[k])

    xs: list[int] = list(range(n_features))
    for layer, n in enumerate(sizes):
        last = layer == len(sizes) - 1
        use_linear = draw(st.booleans()) if fused is None else fused
        act = None if last else draw(st.sampled_from(activations))
        outs = []
        for _ in range(n):
            ws = [weight() for _ in xs]
            bias = weight()
            if use_linear:
                r = b.add("linear", *ws, *xs, bias)
            else:
                r = b.add("add", b.add("mul", ws[0], xs[0]), bias)
                for w, x in zip(ws[1:], xs[1:]):
                    r = b.add("add", r, b.add("mul", w, x))
            outs.append(b.add(act, r) if act else r)
        xs = outs
    graph = b.graph(outputs=[xs[0]], connect=False)
    features = [draw(numbers(domain)) for _ in range(n_features)]
    return graph, features + (w_values if weights_as_inputs else [])


def finite_values(registers: Sequence[Any], limit: float = math.inf) -> bool:
    """Whether every register that is a Value holds a finite number below `limit` in size."""
    return all(
        math.isfinite(r.data) and abs(r.data) < limit for r in registers if isinstance(r, Value)
    )
