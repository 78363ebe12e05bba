"""Straight-line Python source for one traced graph: forward values, then gradients.

`compiled.py` records a graph once; this module turns it into the source of
one function of plain floats. No derivative formula is written here: each
node's rule is called once with `SYM`, the symbolic namespace generated from
the op table, whose objects are expression builders, so the rule itself
writes the code for its output and its local derivatives (`m.where` becomes a
conditional expression, evaluated lazily as on floats). A user rule that
branches with `if` on an operand, or converts it with `float()` or `math.*`,
cannot be written as symbols; it is called at run time with `FLOAT`, exactly
as the engine calls it (counted in `stats["rule_calls"]`). Anything else
that stops a rule here is a CodegenError naming the op.

Every symbolic result is checked against the engine's own numbers for that
node at trace time, bit for bit; a difference is a CodegenError, never a
quiet fallback. The backward pass visits nodes in the engine's own order
(its one graph walk) and adds contributions in the engine's order, so
gradients come out bit for bit equal to `backward()` on a fresh graph.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from autograd_core.engine import Value, walk
from autograd_core.errors import cut, describe
from autograd_core.ops import FLOAT, MATH, MathFn, force, namespace

__all__ = ["SYM", "CodegenError", "GraphCode", "GuardFailed", "NeedsNumbers", "Sym", "generate"]


class GuardFailed(Exception):
    """Raised by generated code when a recorded comparison comes out the other way."""


# Precedence levels of rendered code, higher binds tighter.
_COND, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = 0, 1, 2, 3, 4, 5, 6

_CHUNK = 64  # terms per statement in a long dot product (keeps the compiler's recursion shallow)


class NeedsNumbers(Exception):
    """A rule branched with `if` on an operand (or converted it): it is called with floats."""


class CodegenError(TypeError):
    """A rule cannot run in the symbolic namespace; the message names the op."""


def _is_number(x: object) -> bool:
    if x.__class__ is float or x.__class__ is int:
        return True
    return isinstance(x, numbers.Real) and not isinstance(x, Value)


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
        self.name = args[0] if kind == "var" else None

    def __repr__(self) -> str:
        return f"Sym({render(self)[0]})"

    # -- arithmetic builds trees; numbers stay numbers -------------------------

    def _bin(self, op: str, other: Any, reflected: bool = False) -> Any:
        if not (other.__class__ is Sym or _is_number(other)):
            return NotImplemented
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
        if not (other.__class__ is Sym or _is_number(other)):
            return NotImplemented
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
_FUNCTIONS: dict[str, Any] = {"_" + e.name: e.fn for e in MATH.values()}
_INLINE = ("relu", "step", "sign")  # rendered as conditional expressions


def _has_sym(args: Sequence[Any]) -> bool:
    return any(a.__class__ is Sym for a in args)


def _check_operands(name: str, args: Sequence[Any]) -> None:
    for a in args:
        if not (a.__class__ is Sym or _is_number(a)):
            raise TypeError(f"m.{name} got {describe(a)} in the symbolic namespace")


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
    if isinstance(x, float) and not math.isfinite(x):
        return ("_nan" if math.isnan(x) else "_inf" if x > 0 else "(-_inf)"), _ATOM
    if isinstance(x, bool):
        x = int(x)
    text = repr(x)
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
        a = ca[0]
        if kind == "relu":
            return f"({a} if {a} > 0 else 0.0)", _ATOM
        if kind == "step":
            return f"(1.0 if {a} > 0 else 0.0)", _ATOM
        return f"(1.0 if {a} > 0 else (-1.0 if {a} < 0 else 0.0))", _ATOM
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


_BINARY = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}


def evaluate(x: Any, env: dict[str, float]) -> Any:
    """The number the rendered code of `x` computes, with variables from `env`."""
    if x.__class__ is not Sym:
        return x
    kind, args = x.kind, x.args
    if kind == "var":
        return env[args[0]]
    if kind in ("bin", "cmp"):
        return _BINARY[args[0]](evaluate(args[1], env), evaluate(args[2], env))
    if kind == "where":
        return evaluate(args[1] if evaluate(args[0], env) else args[2], env)
    if kind == "neg":
        return -evaluate(args[0], env)
    if kind == "call":
        return _FUNCTIONS[args[0]](*(evaluate(a, env) for a in args[1:]))
    if kind in ("relu", "step", "sign"):
        return _FUNCTIONS["_" + kind](evaluate(args[0], env))
    if kind == "dot":
        ws, xs, b = args
        total = evaluate(b, env)
        for w, v in zip(ws, xs):
            total = total + evaluate(w, env) * evaluate(v, env)
        return total
    raise AssertionError(f"unknown Sym kind {kind!r}")


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


def _same(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of two floats (NaN equals NaN, 0.0 differs from -0.0)."""
    if a.__class__ is not float or b.__class__ is not float:
        if not (_is_number(a) and _is_number(b)):
            return False
        a, b = float(a), float(b)
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# ---------------------------------------------------------------------------
# The generator.


class GraphCode:
    """The source of one compiled graph and what its variables stand for."""

    def __init__(self, source: str, namespace: dict[str, Any], n_symbolic: int, n_calls: int):
        self.source = source
        self.namespace = namespace
        self.n_symbolic = n_symbolic
        self.n_calls = n_calls


def _local_grads(node: Value) -> list[Any]:
    """The engine's local derivative for each operand of `node` (None for a constant)."""
    pairs = iter(node.parents)  # one per Value operand, in operand order
    return [next(pairs)[1] if x.__class__ is Value else None for x in node.operands]


def engine_backward_order(root: Value) -> list[Value]:
    """The non-leaf nodes behind `root` in the order `backward()` reverses: the engine's walk."""
    return walk((root,), leaves=False)


def forward_order(targets: Sequence[Value]) -> list[Value]:
    """Every node the targets need, each after its operands, target by target (the engine's walk).

    Nodes for the first target come first, so code checking a comparison can
    run as soon as the values it compares exist, before anything computed on
    the strength of its outcome (which could fail on the other branch).
    """
    return walk(targets)


def generate(
    root: Value,
    inputs: Sequence[Value],
    params: Sequence[Value],
    guards: Sequence[tuple[Any, str, Any, bool]],
    constants: set[Value],
    aux: Sequence[Value] = (),
) -> GraphCode:
    """Source of `run(inputs, params) -> (root value, input grads, param grads, aux values)`.

    `guards` are recorded comparisons `(left, op, right, outcome)` (Values or
    floats) that the code re-checks, raising GuardFailed when one differs.
    `constants` are leaves frozen at their data. `aux` are other nodes whose
    values are returned too (a model's predictions), not differentiated.
    """
    names: dict[Value, str] = {}
    namespace: dict[str, Any] = dict(_FUNCTIONS)
    namespace.update(_F=FLOAT, _inf=math.inf, _nan=math.nan, _GuardFailed=GuardFailed)
    lines: list[str] = []
    emit = lines.append
    rules: dict[Any, str] = {}
    n_symbolic = n_calls = 0

    in_names = [f"x{i}" for i in range(len(inputs))]
    par_names = [f"p{i}" for i in range(len(params))]
    for v, name in zip(inputs, in_names):
        names[v] = name
    for v, name in zip(params, par_names):
        names[v] = name
    if in_names:
        emit(f"{', '.join(in_names)}, = inputs")
    if par_names:
        emit(f"{', '.join(par_names)}, = params")

    # Each node's local derivatives as code: a number, or (code, level).
    local_code: dict[Value, list[Any]] = {}

    def operand_sym(x: Any) -> Any:
        if x.__class__ is not Value:
            return x
        if x in names:
            return Sym("var", names[x])
        return x.data  # a constant leaf (checked by the caller)

    targets: list[Value] = []
    for left, _, right, _ in guards:
        targets.extend(t for t in (left, right) if t.__class__ is Value)
    emitted: set[Value] = set()
    order = forward_order([*targets, root, *(a for a in aux if a.__class__ is Value)])

    def ready(i: int) -> bool:
        left, _, right, _ = guards[i]
        return all(
            t.__class__ is not Value or t in emitted or t in constants for t in (left, right)
        )

    pending = list(range(len(guards)))

    def emit_guards() -> None:
        while pending and ready(pending[0]):
            i = pending.pop(0)
            left, op, right, outcome = guards[i]
            test = f"{render(operand_sym(left))[0]} {op} {render(operand_sym(right))[0]}"
            emit(f"if {'not ' if outcome else ''}({test}): raise _GuardFailed({i})")

    emit_guards()
    for k, node in enumerate(order):
        if node._op is None:
            emitted.add(node)
            if node not in names and node not in constants:
                raise AssertionError("an unexpected leaf reached code generation")
            emit_guards()
            continue
        name = names[node] = f"v{k}"
        operands = node.operands
        syms = [operand_sym(x) for x in operands]
        result = _try_symbolic(node, syms)
        if result is None:
            n_calls += 1
            rule = node._op.rule
            if rule not in rules:
                rules[rule] = f"_r{len(rules)}"
                namespace[rules[rule]] = rule
            args = ", ".join(render(s)[0] for s in syms)
            emit(f"t{k} = {rules[rule]}(_F, {args})")
            emit(f"{name} = t{k}[0]")
            local_code[node] = [(f"t{k}[{i + 1}]", _ATOM) for i in range(len(operands))]
        else:
            n_symbolic += 1
            out, derivs = result
            _emit_shared(out, derivs, name, k, emit)
            local_code[node] = derivs
        emitted.add(node)
        emit_guards()
    if pending:
        raise AssertionError("a comparison's operands were never computed")

    # -- backward: the engine's node order and contribution order -------------
    wanted = set(inputs) | set(params)
    needs: set[Value] = set()
    for node in order:  # operands come first, so one pass suffices
        if node in wanted or any(
            x.__class__ is Value and x in needs for x in node.operands if node._op is not None
        ):
            needs.add(node)
    # An intermediate node's gradient is read only while its own contributions
    # are emitted; after that its variable is free for the next one, so a few
    # names serve all of them (a smaller frame; measured speed about equal).
    grads: dict[Value, str] = {}
    free: list[str] = []
    n_grad_names = 0

    def grad_name() -> str:
        nonlocal n_grad_names
        if free:
            return free.pop()
        n_grad_names += 1
        return f"g{n_grad_names - 1}"

    if root._op is not None and root in needs:
        grads[root] = grad_name()
        emit(f"{grads[root]} = 1.0")
    for node in reversed(engine_backward_order(root)):
        if node not in needs:
            continue
        g = grads[node]
        for operand, local, engine_local in zip(
            node.operands, local_code[node], _local_grads(node)
        ):
            if engine_local is None or operand not in needs:
                continue  # a constant operand, or nothing wanted behind it
            contribution = _times(local, g)
            target = grads.get(operand)
            if target is None:
                if operand._op is None:  # a leaf starts from 0.0, as after zero_grad()
                    target = grads[operand] = "g" + names[operand]
                    emit(f"{target} = 0.0 + {contribution}")
                else:
                    target = grads[operand] = grad_name()
                    emit(f"{target} = {contribution}")
            else:
                emit(f"{target} += {contribution}")
        free.append(g)  # no contribution reaches `node` any more
    if root._op is None and root in wanted:
        grads[root] = "1.0"
    out_grads = [grads.get(v, "0.0") for v in inputs]
    par_grads = [grads.get(v, "0.0") for v in params]
    aux_code = "".join(render(operand_sym(a))[0] + ", " for a in aux)
    emit(
        f"return {render(operand_sym(root))[0]}, [{', '.join(out_grads)}], "
        f"[{', '.join(par_grads)}], ({aux_code})"
    )
    body = "\n".join("    " + line for line in lines)
    source = f"def run(inputs, params):\n{body}\n"
    return GraphCode(source, namespace, n_symbolic, n_calls)


def _times(local: Any, g: str) -> str:
    """Code for `local * g`, as the engine computes a contribution."""
    if local.__class__ is Sym:
        local = render(local)
    elif not isinstance(local, tuple):
        if local == 1.0 and isinstance(local, float | int) and not isinstance(local, bool):
            return g  # 1.0 * g is g, bit for bit
        local = _literal(local)
    return f"{_wrap(local, local[1] < _MUL)} * {g}"


def _try_symbolic(node: Value, syms: list[Any]) -> tuple[Any, list[Any]] | None:
    """The rule's output and derivatives as Syms; None if the rule branches with `if`.

    Anything else that stops the rule in the symbolic namespace, or a result
    that differs from the same rule run on floats, is a CodegenError naming the op.
    (Compared with a fresh float run, not with the node's stored numbers: another
    thread may have changed a weight's data since the trace.)
    """
    op = node._op
    try:
        result = op.rule(SYM, *syms)
    except NeedsNumbers:
        return None
    except Exception as e:
        raise CodegenError(
            f"the rule of {op.name!r} cannot run in the symbolic namespace: "
            f"{type(e).__name__}: {cut(str(e))}. Write it with the functions of the namespace "
            "it receives (m.exp, m.where, ...)."
        ) from e
    if not isinstance(result, tuple) or len(result) != len(syms) + 1:
        raise CodegenError(
            f"the rule of {op.name!r} returned {describe(result)} in the symbolic namespace; "
            f"expected the output and {len(syms)} local derivative(s)"
        )
    for r in result:
        if not (r.__class__ is Sym or _is_number(r)):
            raise CodegenError(
                f"the rule of {op.name!r} returned {describe(r)} in the symbolic namespace"
            )
    env: dict[str, float] = {}
    numbers = []
    for s, x in zip(syms, node.operands):
        numbers.append(x._data if x.__class__ is Value else x)
        if s.__class__ is Sym:
            env[s.name] = numbers[-1]
    try:
        expected = op.rule(FLOAT, *numbers)
    except Exception:
        return result[0], list(result[1:])  # it fails at these numbers: nothing to compare
    for r, want in zip(result, expected):
        try:
            got = evaluate(r, env)
        except Exception as e:
            got = e
        if not _same(got, want):
            raise CodegenError(
                f"the rule of {op.name!r} gives {got!r} in the symbolic namespace where the "
                f"engine gave {want!r}: please report this"
            )
    return result[0], list(result[1:])


def _emit_shared(out: Any, derivs: list[Any], name: str, k: int, emit: Any) -> None:
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
        stack.extend((c, False) for c in reversed(tuple(_children(x))))
    j = 0
    for x in post:
        if x is out or x.kind == "dot" or counts[id(x)] < 2:
            continue
        temp = f"t{k}_{j}"
        j += 1
        emit(f"{temp} = {render(x)[0]}")
        x.name = temp
    if out.__class__ is Sym and out.kind == "dot":
        _emit_dot(out, name, emit)
    else:
        emit(f"{name} = {render(out)[0]}")
    if out.__class__ is Sym:
        out.name = name


def _emit_dot(x: Sym, name: str, emit: Any) -> None:
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
