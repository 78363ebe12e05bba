"""A traced program: inputs, params, constants, equations `out = op(operands)`, outputs.

The one intermediate form every backend reads (compiled replay's generated
code, batched replay with NumPy, ONNX export). `make_program` (in `make.py`)
builds one from a function of Values; the passes (`passes/`) rewrite one into
another; `print(program)` lists it one equation a line; `program(inputs)`
evaluates it on floats with each primitive's own rule over `FLOAT`, as the
engine does, so an unoptimized program gives the engine's numbers bit for bit.

Scalar equations name an `Op` (a row of the op table, or a user primitive).
The passes add four structural equations whose values are vectors (one number
per column, a row of a [B, n] matrix in batched replay):

- `pack(a, b, ...)`: scalars side by side;
- `col[j](v)`: column j of a vector;
- `dense[W, b](v)`: `W @ v + b`, each row `b_i + sum_j W_ij v_j` added in that
  order (the `linear` rule's order), W and b entries params or numbers;
- `map[op](u, s, ...)`: an op on every column: vector operands give their
  columns (`u[2,0,1]`: those columns, in that order), other operands (a
  scalar, a number) are the same for every column.

Equations in `once` depend on params and constants only (the hoisting pass
puts them there): batched replay computes them once per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from autograd_core.engine import Op
from autograd_core.errors import as_float, describe
from autograd_core.ops import FLOAT

__all__ = ["Eqn", "Program", "Var", "PassRecord"]


class Var:
    """A value of the program: an input, a param, a constant or an equation's output.

    `width` is None for a scalar, n for a vector of n columns.
    """

    __slots__ = ("kind", "index", "width", "label")

    def __init__(self, kind: str, index: int, width: int | None = None, label: str = "") -> None:
        self.kind = kind  # "input" | "param" | "const" | "eqn"
        self.index = index
        self.width = width
        self.label = label

    def __repr__(self) -> str:
        return f"Var({self.kind}, {self.index})"


# Structural primitives (the passes make them; not in the op table).
PACK, COLUMN, DENSE, MAP = "pack", "col", "dense", "map"


class Eqn:
    """`out = prim(operands)`: operands are Vars or floats; `attrs` for structural ones."""

    __slots__ = ("out", "prim", "op", "operands", "attrs")

    def __init__(
        self, out: Var, prim: str, op: Any, operands: tuple, attrs: dict | None = None
    ) -> None:
        self.out = out
        self.prim = prim  # the op's name, or pack / col / dense / map
        self.op: Op = op  # the scalar op (map: each column's; dense: linear); None: pack, col
        self.operands = operands
        self.attrs = attrs or {}

    def vars(self) -> Iterable[Var]:
        """Every Var this equation reads (dense: also its weight and bias params)."""
        for x in self.operands:
            if x.__class__ is Var:
                yield x
        if self.prim == DENSE:
            for row in self.attrs["W"]:
                for w in row:
                    if w.__class__ is Var:
                        yield w
            for b in self.attrs["b"]:
                if b.__class__ is Var:
                    yield b


class PassRecord:
    """What one pass did: equation counts before and after, and the equations it wrote.

    The equations are rendered when read (`written`, or printing), not while
    the pass runs: a pass over 100k equations does not format 100k lines.
    """

    def __init__(
        self,
        name: str,
        before: int,
        after: int,
        written: Iterable[str] = (),
        items: Iterable[tuple[str, Program, Eqn]] = (),
    ) -> None:
        self.name = name
        self.before = before
        self.after = after
        self.items = list(items)  # (prefix, program, equation), rendered on demand
        self._written = list(written)

    @property
    def written(self) -> list[str]:
        """The equations the pass wrote (or removed), as the listing prints them."""
        return self._written + [prefix + p.show(e) for prefix, p, e in self.items]

    def __len__(self) -> int:
        return len(self._written) + len(self.items)

    def __str__(self) -> str:
        head = f"{self.name}: {self.before} -> {self.after} equations"
        shown = self._written[:8] + [
            prefix + p.show(e) for prefix, p, e in self.items[: max(0, 8 - len(self._written))]
        ]
        more = f"\n    ... and {len(self) - 8} more" if len(self) > 8 else ""
        return "\n".join([head, *("    " + w for w in shown)]) + more


class History(list):
    """The passes applied to a program, in order; printed one pass a block."""

    def __str__(self) -> str:
        return "\n".join(str(r) for r in self) if self else "(no passes)"


class Program:
    """A straight-line program traced from a function of Values. See the module docstring."""

    def __init__(
        self,
        inputs: list[Var],
        params: list[Var],
        constants: dict[Var, float],
        eqns: list[Eqn],
        outputs: list[Any],
        once: list[Eqn] | None = None,
        history: Iterable[PassRecord] = (),
        n_vars: int | None = None,
        param_data: Sequence[float] = (),
    ) -> None:
        self.inputs = inputs
        self.params = params
        self.constants = constants
        self.eqns = eqns
        self.outputs = outputs  # Vars or floats
        self.once = once or []
        self.history = History(history)
        self.param_data = list(param_data)  # the params' numbers when traced
        self._n_vars = (
            n_vars
            if n_vars is not None
            else 1 + max((e.out.index for e in (*self.once, *eqns)), default=-1)
        )

    # -- building --------------------------------------------------------------------

    def new_var(self, width: int | None = None) -> Var:
        """A fresh equation output (for passes)."""
        self._n_vars += 1
        return Var("eqn", self._n_vars - 1, width)

    def rewritten(
        self, eqns: list[Eqn], once: list[Eqn] | None, outputs: list[Any] | None, record: PassRecord
    ) -> Program:
        """A new program with these equations, the history extended by `record`."""
        return Program(
            self.inputs,
            self.params,
            self.constants,
            eqns,
            self.outputs if outputs is None else outputs,
            self.once if once is None else once,
            [*self.history, record],
            self._n_vars,
            self.param_data,
        )

    def copy(self) -> Program:
        return Program(
            self.inputs,
            self.params,
            self.constants,
            list(self.eqns),
            list(self.outputs),
            list(self.once),
            self.history,
            self._n_vars,
            self.param_data,
        )

    # -- reading ----------------------------------------------------------------------

    def all_eqns(self) -> list[Eqn]:
        return [*self.once, *self.eqns]

    @property
    def equations(self) -> list[Eqn]:
        """Every equation in the order it runs: the once-per-batch part first, then the rest."""
        return self.all_eqns()

    def count(self, prim: str | None = None) -> int:
        """How many equations (with this primitive, if given)."""
        eqns = self.all_eqns()
        return len(eqns) if prim is None else sum(1 for e in eqns if e.prim == prim)

    def name(self, x: Any) -> str:
        """A Var's name in the listing; a number as it reads."""
        if x.__class__ is not Var:
            return repr(float(x))
        prefix = {"input": "x", "param": "p", "const": "c", "eqn": "v"}[x.kind]
        return f"{prefix}{x.index}"

    def show(self, e: Eqn) -> str:
        """One equation as the listing prints it."""
        name = self.name
        out = name(e.out) + (f":[{e.out.width}]" if e.out.width is not None else "")
        args = _abbrev([name(x) for x in e.operands])
        if e.prim == COLUMN:
            return f"{out} = col[{e.attrs['j']}] {args}"
        if e.prim == MAP:
            sels = [
                f"{name(x)}[{','.join(map(str, c))}]" if c is not None else name(x)
                for x, c in zip(e.operands, e.attrs["cols"])
            ]
            return f"{out} = map[{e.op.name}] {' '.join(sels)}"
        if e.prim == DENSE:
            W, b = e.attrs["W"], e.attrs["b"]
            cols = e.attrs.get("cols")
            sel = "" if cols is None else f" cols={list(cols)}"
            return f"{out} = dense[{len(W)}x{len(W[0])}: {_span(self, W, b)}] {args}{sel}"
        if e.prim == "linear" and len(e.operands) >= 3 and len(e.operands) % 2:
            n = (len(e.operands) - 1) // 2
            ws = _abbrev([name(x) for x in e.operands[:n]])
            xs = _abbrev([name(x) for x in e.operands[n : 2 * n]])
            return f"{out} = linear w=({ws}) x=({xs}) b={name(e.operands[-1])}"
        return f"{out} = {e.prim} {args}"

    def __str__(self) -> str:
        name = self.name
        lines = []
        lines.append("inputs: " + (" ".join(name(v) for v in self.inputs) or "()"))
        if self.params:
            lines.append("params: " + _abbrev([name(v) for v in self.params]))
        for c, value in self.constants.items():
            lines.append(f"const {name(c)} = {value!r}")
        if self.once:
            lines.append("once per batch:")
            lines.extend("  " + self.show(e) for e in self.once)
            lines.append("per example:")
        lines.extend("  " + self.show(e) for e in self.eqns)
        lines.append("outputs: " + " ".join(name(o) for o in self.outputs))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<Program: {len(self.inputs)} inputs, {len(self.params)} params, "
            f"{len(self.once) + len(self.eqns)} equations, {len(self.outputs)} outputs>"
        )

    def show_passes(self) -> str:
        """What each pass did (the same text as `print(program.history)`)."""
        return str(self.history)

    # -- evaluating on floats ------------------------------------------------------------

    def __call__(self, inputs: Sequence[float] = (), params: Sequence[float] | None = None) -> list:
        """The outputs at these numbers (params: the traced params' numbers, or as traced)."""
        env = self._environment(inputs, params)
        for e in self.all_eqns():
            env[e.out] = _forward(e, env)[0]
        return [env[o] if o.__class__ is Var else o for o in self.outputs]

    def value_and_grad(
        self, inputs: Sequence[float] = (), params: Sequence[float] | None = None
    ) -> tuple[float, list[float], list[float]]:
        """(first output, its gradient for each input, for each param), on floats.

        Reverse mode over the equations, in reverse order. Outputs equal the
        engine's bit for bit on an unoptimized program; gradients add their
        contributions in this program's order, which can differ from the
        engine's walk in the last bits.
        """
        env = self._environment(inputs, params)
        local: dict[Var, Any] = {}
        eqns = self.all_eqns()
        for e in eqns:
            env[e.out], local[e.out] = _forward(e, env)
        root = self.outputs[0]
        if root.__class__ is not Var:
            return float(root), [0.0] * len(self.inputs), [0.0] * len(self.params)
        grads: dict[Var, Any] = {root: 1.0}
        for e in reversed(eqns):
            g = grads.pop(e.out, None) if e.out.kind == "eqn" else None
            if g is None:
                continue
            _backward(e, env, local[e.out], g, grads)
        return (
            env[root],
            [grads.get(v, 0.0) for v in self.inputs],
            [grads.get(v, 0.0) for v in self.params],
        )

    def _environment(self, inputs: Sequence[float], params: Sequence[float] | None) -> dict:
        inputs = _numbers(inputs, "inputs")
        if len(inputs) != len(self.inputs):
            raise ValueError(
                f"program: expected {len(self.inputs)} input numbers, got {len(inputs)}"
            )
        env: dict[Var, Any] = dict(zip(self.inputs, inputs))
        if params is None:
            env.update((v, v_value) for v, v_value in zip(self.params, self.param_data))
        else:
            params = _numbers(params, "params")
            if len(params) != len(self.params):
                raise ValueError(
                    f"program: expected {len(self.params)} param numbers, got {len(params)}"
                )
            env.update(zip(self.params, params))
        env.update(self.constants)
        return env


def _numbers(xs: Any, what: str) -> list[float]:
    """`xs` as floats, or the TypeError naming the entry that is not a real number."""
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Iterable):
        raise TypeError(f"program: {what} must be a sequence of numbers, got {describe(xs)}")
    return [as_float(x, f"program: {what}[{i}]") for i, x in enumerate(xs)]


def _abbrev(names: list[str]) -> str:
    if len(names) <= 8:
        return " ".join(names)
    return " ".join(names[:3]) + f" ... {names[-1]} ({len(names)})"


def _span(program: Program, W: list[list[Any]], b: list[Any]) -> str:
    """W and b in the listing: the param range when they are params, else 'W, b'."""
    entries = [w for row in W for w in row] + list(b)
    vs = [w.index for w in entries if w.__class__ is Var and w.kind == "param"]
    if len(vs) == len(entries) and vs:
        return f"p{min(vs)}..p{max(vs)}"
    return f"{len(vs)} params, {len(entries) - len(vs)} numbers"


def _is_vector(x: Any) -> bool:
    return x.__class__ is Var and x.width is not None


def _get(env: dict, x: Any) -> Any:
    return env[x] if x.__class__ is Var else x


def _forward(e: Eqn, env: dict) -> tuple[Any, Any]:
    """(output, what backward needs) of one equation on floats."""
    prim = e.prim
    if prim == PACK:
        return [_get(env, x) for x in e.operands], None
    if prim == COLUMN:
        return env[e.operands[0]][e.attrs["j"]], None
    if prim == MAP:
        rule = e.op.rule
        n = e.out.width
        assert n is not None  # a map's output is a vector
        columns = []
        for x, sel in zip(e.operands, e.attrs["cols"]):
            if _is_vector(x):
                v = env[x]
                columns.append(v if sel is None else [v[c] for c in sel])
            else:
                columns.append([_get(env, x)] * n)
        results = [rule(FLOAT, *args) for args in zip(*columns)]
        return [r[0] for r in results], [r[1:] for r in results]
    if prim == DENSE:
        v = env[e.operands[0]]
        cols = e.attrs.get("cols")
        if cols is not None:
            v = [v[c] for c in cols]
        rule = e.op.rule  # linear's
        out = []
        for row, b in zip(e.attrs["W"], e.attrs["b"]):
            ws = [_get(env, w) for w in row]
            out.append(rule(FLOAT, *ws, *v, _get(env, b))[0])
        return out, None
    result = e.op.rule(FLOAT, *[_get(env, x) for x in e.operands])
    return result[0], result[1:]


def _add(grads: dict, x: Any, g: Any) -> None:
    if x.__class__ is not Var:
        return
    old = grads.get(x)
    if x.width is None:
        grads[x] = g if old is None and x.kind == "eqn" else (0.0 if old is None else old) + g
    else:
        grads[x] = list(g) if old is None else [a + b for a, b in zip(old, g)]


def _backward(e: Eqn, env: dict, local: Any, g: Any, grads: dict) -> None:
    prim = e.prim
    if prim == PACK:
        for x, gx in zip(e.operands, g):
            _add(grads, x, gx)
    elif prim == COLUMN:
        src = e.operands[0]
        vec = [0.0] * src.width
        vec[e.attrs["j"]] = g
        _add(grads, src, vec)
    elif prim == MAP:
        for i, (x, sel) in enumerate(zip(e.operands, e.attrs["cols"])):
            if x.__class__ is not Var:
                continue
            parts = [d[i] * gi for d, gi in zip(local, g)]
            if x.width is not None:  # a vector (x is a Var)
                gv = [0.0] * x.width
                for c, part in zip(range(x.width) if sel is None else sel, parts):
                    gv[c] += part
                _add(grads, x, gv)
            else:
                for part in parts:
                    _add(grads, x, part)
    elif prim == DENSE:
        src = e.operands[0]
        v = env[src]
        cols = e.attrs.get("cols")
        idx = list(range(len(v))) if cols is None else list(cols)
        gv = [0.0] * src.width
        for row, b, gi in zip(e.attrs["W"], e.attrs["b"], g):
            for w, c in zip(row, idx):
                _add(grads, w, v[c] * gi)
                gv[c] += _get(env, w) * gi
            _add(grads, b, gi)
        _add(grads, src, gv)
    else:
        for x, d in zip(e.operands, local):
            if x.__class__ is Var:
                _add(grads, x, d * g)
