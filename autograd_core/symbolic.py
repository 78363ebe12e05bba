"""Symbolic math: a rule run on `Sym` expression trees writes Python source.

`SYM` is the op table's symbolic namespace (generated from `ops.MATH`): each
function builds an expression instead of computing, and the arithmetic
operators of `Sym` do the same, so calling a rule with Syms yields its output
and local derivatives as expressions. `render` turns an expression into
Python source, `evaluate` computes what that source would (to check it),
`emit_shared` writes statements binding shared sub-expressions once.

Two interpreters use it: `codegen` (a whole traced graph as one function of
floats) and the engine itself, whose built-in operations are compiled from
their rules this way when the engine is imported.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from autograd_core.ops import MATH, MathFn, force, namespace

__all__ = [
    "ATOM",
    "BINARY",
    "FUNCTIONS",
    "SYM",
    "NeedsNumbers",
    "Sym",
    "emit_shared",
    "evaluate",
    "is_number",
    "product_code",
    "render",
    "same",
]

# Precedence levels of rendered code, higher binds tighter.
_COND, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = 0, 1, 2, 3, 4, 5, 6
ATOM = _ATOM

_CHUNK = 64  # terms per statement in a long dot product (keeps the compiler's recursion shallow)


class NeedsNumbers(Exception):
    """A rule branched with `if` on an operand (or converted it): it is called with floats."""


def is_number(x: object) -> bool:
    """A real number (Values are not `numbers.Real`, Syms are not either)."""
    if x.__class__ is float or x.__class__ is int:
        return True
    return isinstance(x, numbers.Real)


class Sym:
    """A piece of a rule's result as an expression tree, rendered to Python later.

    `kind` is "var" (args: name), "bin" (operator, left, right), "neg",
    "call" (function name, arguments...), "relu"/"step"/"sign" (argument),
    "dot" (weights, inputs, bias), "cmp" (operator, left, right) or "where"
    (condition, then, else). `name`, once set, replaces the expression
    by a variable holding it.
    """

    __slots__ = ("kind", "args", "name")

    def __init__(self, kind: str, *args: Any) -> None:
        self.kind = kind
        self.args = args
        self.name: str | None = args[0] if kind == "var" else None

    def __repr__(self) -> str:
        return f"Sym({render(self)[0]})"

    # -- arithmetic builds trees; numbers stay numbers -------------------------

    def _bin(self, op: str, other: Any, reflected: bool = False) -> Any:
        if not (other.__class__ is Sym or is_number(other)):
            return NotImplemented
        _plain(other)
        return Sym("bin", op, other, self) if reflected else Sym("bin", op, self, other)

    def __add__(self, o: Any) -> Any:
        return self._bin("+", o)

    def __radd__(self, o: Any) -> Any:
        return self._bin("+", o, True)

    def __sub__(self, o: Any) -> Any:
        return self._bin("-", o)

    def __rsub__(self, o: Any) -> Any:
        return self._bin("-", o, True)

    def __mul__(self, o: Any) -> Any:
        return self._bin("*", o)

    def __rmul__(self, o: Any) -> Any:
        return self._bin("*", o, True)

    def __truediv__(self, o: Any) -> Any:
        return self._bin("/", o)

    def __rtruediv__(self, o: Any) -> Any:
        return self._bin("/", o, True)

    def __pow__(self, o: Any) -> Any:
        return self._bin("**", o)

    def __rpow__(self, o: Any) -> Any:
        return self._bin("**", o, True)

    def __neg__(self) -> Sym:
        return Sym("neg", self)

    def __pos__(self) -> Sym:
        return self

    def __abs__(self) -> Sym:
        return Sym("call", "abs", self)

    # -- comparisons build conditions for m.where; `if` needs the number -------

    def _cmp(self, op: str, other: Any) -> Any:
        if not (other.__class__ is Sym or is_number(other)):
            return NotImplemented
        _plain(other)
        return Sym("cmp", op, self, other)

    def __lt__(self, o: Any) -> Any:
        return self._cmp("<", o)

    def __le__(self, o: Any) -> Any:
        return self._cmp("<=", o)

    def __gt__(self, o: Any) -> Any:
        return self._cmp(">", o)

    def __ge__(self, o: Any) -> Any:
        return self._cmp(">=", o)

    def _needs_numbers(self, *args: Any) -> Any:
        raise NeedsNumbers

    __bool__ = __float__ = __int__ = __index__ = __round__ = _needs_numbers
    __eq__ = __ne__ = _needs_numbers
    __hash__ = object.__hash__


# The functions generated code calls, by the name it calls them: every MATH
# entry as `_name`, its checked float implementation.
FUNCTIONS: dict[str, Any] = {"_" + e.name: e.fn for e in MATH.values()}
_INLINE = ("relu", "step", "sign")  # rendered as conditional expressions


def _has_sym(args: Sequence[Any]) -> bool:
    return any(a.__class__ is Sym for a in args)


def _check_operands(name: str, args: Sequence[Any]) -> None:
    for a in args:
        if not (a.__class__ is Sym or is_number(a)):
            raise TypeError(f"m.{name} got {type(a).__qualname__} in the symbolic namespace")
        _plain(a)


def _plain(x: Any) -> None:
    """A constant other than a plain float, int or bool has arithmetic of its own (an
    np.float32 keeps float32): the rule is then called on floats, as the engine does."""
    if x.__class__ is not Sym and x.__class__ not in (float, int, bool):
        raise NeedsNumbers


def _sym_fn(entry: MathFn) -> Any:
    name, float_fn = entry.name, entry.fn
    if name == "where":

        def where(cond: Any, a: Any, b: Any) -> Any:
            if cond.__class__ is not Sym:  # decided while writing the code
                return force(a if cond else b)
            return Sym("where", cond, force(a), force(b))

        return where
    if name == "dot":

        def dot(ws: Sequence[Any], xs: Sequence[Any], b: Any) -> Any:
            ws, xs = tuple(ws), tuple(xs)
            if not _has_sym((*ws, *xs, b)):
                return float_fn(ws, xs, b)
            _check_operands(name, (*ws, *xs, b))
            return Sym("dot", ws, xs, b)

        return dot

    def apply(*args: Any) -> Any:
        if not _has_sym(args):
            return float_fn(*args)  # constants fold with the very same function
        _check_operands(name, args)
        if name in _INLINE:
            return Sym(name, *args)
        if name == "div" and args[1].__class__ is not Sym and args[1] != 0:
            return Sym("bin", "/", *args)  # the checked div by a nonzero constant is plain `/`
        return Sym("call", "_" + name, *args)

    return apply


SYM = namespace("symbolic", _sym_fn)


# ---------------------------------------------------------------------------
# Rendering a tree to code, and evaluating it the way that code would.


def _literal(x: Any) -> tuple[str, int]:
    """A number as a plain float literal: never a foreign repr (np.float64, a float
    subclass's own __repr__, Fraction), which generated code could not run or trust."""
    x = float.__float__(x) if isinstance(x, float) else float(x)
    if not math.isfinite(x):
        return ("_nan" if math.isnan(x) else "_inf" if x > 0 else "(-_inf)"), _ATOM
    text = float.__repr__(x)
    return text, (_UNARY if text.startswith("-") else _ATOM)


def _wrap(code: tuple[str, int], parens: bool) -> str:
    return f"({code[0]})" if parens else code[0]


def render(x: Any) -> tuple[str, int]:
    """Python source for `x` (a Sym or a number) and its precedence level."""
    if x.__class__ is not Sym:
        return _literal(x)
    if x.name is not None:
        return x.name, _ATOM
    kind, args = x.kind, x.args
    if kind == "bin":
        op, a, b = args
        ca, cb = render(a), render(b)
        if op == "**":
            return f"{_wrap(ca, ca[1] <= _POW)} ** {_wrap(cb, cb[1] < _UNARY)}", _POW
        level = _ADD if op in "+-" else _MUL
        return f"{_wrap(ca, ca[1] < level)} {op} {_wrap(cb, cb[1] <= level)}", level
    if kind == "neg":
        ca = render(args[0])
        return f"-{_wrap(ca, ca[1] <= _UNARY)}", _UNARY
    if kind == "call":
        return f"{args[0]}({', '.join(render(a)[0] for a in args[1:])})", _ATOM
    if kind in ("relu", "step", "sign"):
        ca = render(args[0])
        if ca[1] != _ATOM:  # a compound argument would be computed twice inline
            return f"_{kind}({ca[0]})", _ATOM
        a = ca[0]  # written as ops.MATH's float functions are: NaN stays NaN
        if kind == "relu":
            return f"(0.0 if {a} <= 0 else {a})", _ATOM
        if kind == "step":
            return f"(1.0 if {a} > 0 else (0.0 if {a} <= 0 else {a}))", _ATOM
        return f"(1.0 if {a} > 0 else (-1.0 if {a} < 0 else (0.0 if {a} == 0 else {a})))", _ATOM
    if kind == "cmp":
        op, a, b = args
        ca, cb = render(a), render(b)
        return f"{_wrap(ca, ca[1] <= _CMP)} {op} {_wrap(cb, cb[1] <= _CMP)}", _CMP
    if kind == "where":
        c, a, b = (render(x) for x in args)
        return (
            f"{_wrap(a, a[1] <= _COND)} if {_wrap(c, c[1] <= _COND)} else {_wrap(b, b[1] < _COND)}",
            _COND,
        )
    if kind == "dot":  # inside a larger expression: FLOAT.dot itself
        ws, xs, b = args
        return (
            f"_dot(({''.join(render(w)[0] + ', ' for w in ws)}), "
            f"({''.join(render(v)[0] + ', ' for v in xs)}), {render(b)[0]})",
            _ATOM,
        )
    raise AssertionError(f"unknown Sym kind {kind!r}")


# What each operator of rendered code computes (comparisons also re-check guards).
BINARY = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}


def evaluate(x: Any, env: dict[str, float]) -> Any:
    """The number the rendered code of `x` computes, with variables from `env`."""
    if x.__class__ is not Sym:
        return x
    kind, args = x.kind, x.args
    if kind == "var":
        return env[args[0]]
    if kind in ("bin", "cmp"):
        return BINARY[args[0]](evaluate(args[1], env), evaluate(args[2], env))
    if kind == "where":
        return evaluate(args[1] if evaluate(args[0], env) else args[2], env)
    if kind == "neg":
        return -evaluate(args[0], env)
    if kind == "call":
        return FUNCTIONS[args[0]](*(evaluate(a, env) for a in args[1:]))
    if kind in ("relu", "step", "sign"):
        return FUNCTIONS["_" + kind](evaluate(args[0], env))
    if kind == "dot":
        ws, xs, b = args
        total = evaluate(b, env)
        for w, v in zip(ws, xs):
            total = total + evaluate(w, env) * evaluate(v, env)
        return total
    raise AssertionError(f"unknown Sym kind {kind!r}")


def product_code(local: Any, g: str) -> str:
    """Code for `local * g` (a contribution), `local` a Sym, a number or (code, level)."""
    if local.__class__ is Sym:
        local = render(local)
    elif not isinstance(local, tuple):
        if local == 1.0 and isinstance(local, float | int) and not isinstance(local, bool):
            return g  # 1.0 * g is g, bit for bit
        local = _literal(local)
    return f"{_wrap(local, local[1] < _MUL)} * {g}"


def _children(x: Sym) -> Iterable[Any]:
    """The sub-expressions of `x` (its first argument names the operator for bin and call)."""
    if x.kind == "dot":
        ws, xs, b = x.args
        return (*ws, *xs, b)
    if x.kind in ("bin", "call", "cmp"):
        return x.args[1:]
    if x.kind == "var":
        return ()
    return x.args


def same(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of two floats (NaN equals NaN, 0.0 differs from -0.0)."""
    if a.__class__ is not float or b.__class__ is not float:
        if not (is_number(a) and is_number(b)):
            return False
        a, b = float(a), float(b)
    if a != a or b != b:
        return bool(a != a and b != b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def emit_shared(out: Any, derivs: list[Any], name: str, k: int, emit: Any) -> None:
    """Emit `name = out`, first binding sub-expressions used more than once."""
    counts: dict[int, int] = {}
    post: list[Sym] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r, False) for r in reversed([out, *derivs])]
    while stack:
        x, expanded = stack.pop()
        if x.__class__ is not Sym or x.kind == "var":
            continue
        if expanded:
            post.append(x)
            continue
        counts[id(x)] = counts.get(id(x), 0) + 1
        if id(x) in seen:
            continue
        seen.add(id(x))
        stack.append((x, True))
        # A `where` branch is evaluated only when chosen: nothing inside it is
        # hoisted into a statement that would run (and could fail) regardless.
        children = (x.args[0],) if x.kind == "where" else tuple(_children(x))
        stack.extend((c, False) for c in reversed(children))
    j = 0
    for x in post:
        if x is out or x.kind == "dot" or counts[id(x)] < 2:
            continue
        temp = f"t{k}_{j}"
        j += 1
        emit(f"{temp} = {render(x)[0]}")
        x.name = temp
    if out.__class__ is Sym and out.kind == "dot":
        emit_dot(out, name, emit)
    else:
        emit(f"{name} = {render(out)[0]}")
    if out.__class__ is Sym:
        out.name = name


def emit_dot(x: Sym, name: str, emit: Any) -> None:
    ws, xs, b = x.args
    terms = [
        f"{_wrap(render(w), render(w)[1] < _MUL)} * {_wrap(render(v), render(v)[1] <= _MUL)}"
        for w, v in zip(ws, xs)
    ]
    head = render(b)
    acc = _wrap(head, head[1] < _ADD)
    if not terms:
        emit(f"{name} = {acc}")
        return
    for start in range(0, len(terms), _CHUNK):
        chunk = terms[start : start + _CHUNK]
        emit(f"{name} = {acc} + {' + '.join(chunk)}")
        acc = name
