"""`Value`, the machinery that builds nodes from the op table, and `backward()`.

A `Value` holds one float. The operations it is built from are declared in
`ops.py`, each as one *rule* returning the output and its local derivatives;
this module turns each rule into an `Op` and installs it on `Value`. A rule
takes a math namespace `m`: `FLOAT` (plain floats) when an operation is
applied, `VALUE` (Values) during `backward(create_graph=True)` so that the
local derivatives can be differentiated again. Both are generated from
`ops.MATH`. The node builder (`apply`) of every unary and binary op is
written as source once: for the built-in ops from the rule's own symbolic
expressions, so an operator costs no rule call (read one: `OPS["pow"].apply.__doc__`).

Memory and speed shape the node: one object with `__slots__`, no closures, no
reference cycles (graphs are freed by reference counting, not by the cyclic
garbage collector). A unary or binary node keeps its operands inline (`_a`,
`_b`) with their local derivatives (`_ga`, `_gb`): no tuple per node. A number
operand (the `2` in `x*2`) is stored as a plain float, never wrapped into a
node; its local derivative slot is None, which is how `backward()` and the
graph walk tell it apart. An n-ary node (`linear`, user primitives with
`arity=None`) keeps all its operands in a tuple in `_a`, its Value operands
in `_b` (the same tuple when there are no numbers) and their local
derivatives in `_ga`. The number lives in the slot `_data`; `data` is a
property over it that checks what is assigned and lets an observer see reads.

Observers. Anomaly mode, `explain` and tracing (`compiled`, batched replay,
ONNX export) watch the engine through one thread-local hook instead of
changing the `Value` class: node created, leaf created, comparison made (an
observer may answer it), `.data` read, and each backward edge. Two module
globals keep the hot paths fast: `_slow`, read once per node, is non-zero
only while some thread is inside `no_grad()` or has an observer of every node
(anomaly mode); `_watch`, read on leaf creation, comparisons and `.data`
reads, while some thread has any observer. Tracing watches leaves,
comparisons and reads, not nodes, so while one thread traces, the others
build nodes at full speed (the trade-off: a replay does not know the order
the engine computed nodes in, see compiled.py).

Threads. `no_grad()` and observers are per thread. The graph walk has one
order and two bookkeepings: `walk` (drawing, statistics, tracing) keeps its
visited nodes in a dict of its own and only reads, so threads may walk one
graph at once; backward() marks the nodes themselves with two objects of its
own (no set: as fast as marking with `grad` was). While a backward pass runs
its marks are active, and a second backward pass through the same nodes gets
GraphBusyError instead of gradients mixed with the first's. Give each thread
its own forward pass (graphs sharing only leaves never conflict), or put a
lock around backward() on a shared graph. Leaves shared between threads
accumulate with `+=`, which is not atomic.

The backward pass, and what was chosen for its speed (issue 20):

- The walk stays a depth-first search with marks in the nodes, cheapened: a
  fresh node's mark is tested once, and a node with nothing left to visit
  (its operands leaves or done: most `w*x` products, most `linear` nodes)
  exits at once instead of being pushed and popped again. Same order as
  before, so `walk` and compiled replay still follow it. A creation-order
  walk was measured against it and not taken: a creation counter costs a
  slot and, past 256, an int object per node (128 B -> 168 B, over the
  130 B budget), and a heap walk keyed on it costs more per node than the
  search; a per-pass tape would keep every graph alive until a backward
  pass consumed it, where now dropping a graph frees it at once.
- A node whose gradient is zero is skipped when its local derivatives are
  finite (`_propagate`): every contribution would be ±0.0, which changes no
  sum started at 0.0. In a trained network most of the graph is such nodes
  (relus that are off, hinge terms past the margin: 85% of the demo's nodes
  after its first step). The sums are bit for bit those of full arithmetic;
  infinities and NaNs still propagate.
- `linear` builds its node with the rule inlined when every operand is a
  Value (the same `dot`, the same floats).
- The cyclic collector: graphs have no reference cycles, yet every node is
  tracked, so a forward pass of 65,000 nodes triggers about 90 young
  collections, 8 middle ones and, in a loop, a full one (a fifth of the
  micrograd-style step). backward() runs in `collector_paused()`: off, and
  back exactly as it was, errors included; counted across threads, since the
  collector's switch is process-wide. Its own walk allocates next to nothing,
  so this mostly keeps a collection that the forward pass made due from
  running in the middle of the pass, over a live graph, rather than after
  it, and spares `create_graph=True` passes, which build nodes. The forward
  pass is the user's code: a training loop may run each step inside
  `collector_paused()` (nn.train can), which removes the collector's work
  from the step. Thresholds are left alone: they are process-wide, and
  raising them would delay other code's collections too.
"""

from __future__ import annotations

import gc
import inspect
import math
import numbers
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from autograd_core import ops, symbolic
from autograd_core.errors import as_float, cut, describe
from autograd_core.ops import FLOAT, PRIMITIVES

__all__ = [
    "FLOAT",
    "GraphBusyError",
    "OPS",
    "VALUE",
    "Observer",
    "Op",
    "Value",
    "collector_paused",
    "detach",
    "enable_grad",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "observing",
    "primitive",
    "topological_order",
]

Number = int | float


# ---------------------------------------------------------------------------
# Per-thread state: grad mode and observers. The hot paths read a module
# global (`_slow` per node, `_watch` per leaf, comparison and read), non-zero
# only while some thread needs them; only then is thread-local state consulted.


class Observer:
    """What an observer of the engine may watch. Every method is optional.

    `compared` returns the outcome the code being run will see: an observer
    tracing at other numbers answers as those numbers would.
    """

    wants_backward = False  # whether backward() should report each edge
    wants_nodes = False  # whether every node built should be reported (costs every thread)
    phase = "forward"  # "backward" while create_graph builds gradient nodes

    def node_created(self, node: Value) -> None:
        pass

    def leaf_created(self, leaf: Value) -> None:
        pass

    def compared(self, left: Value, symbol: str, right: Any, outcome: bool) -> bool:
        return outcome

    def data_read(self, value: Value) -> None:
        pass

    def backward(self, node: Value, parent: Value, local: Any, contribution: Any) -> None:
        pass

    def backward_edge(
        self, node: Value, parent: Value, local: Any, upstream: Any, contribution: Any
    ) -> None:
        """`backward` with d root / d node given: `gradient_table` keeps it out of `.grad`."""
        self.backward(node, parent, local, contribution)


class _ThreadState(threading.local):
    # True or False, read per node under no_grad: a plain attribute. While a
    # generator or coroutine has a block open it is `_DYNAMIC`, whose truth is
    # worked out from the open blocks each time (see `_Dynamic`).
    grad_enabled: Any = True
    observers: tuple[Observer, ...] = ()

    def __init__(self) -> None:
        # One entry per open no_grad/enable_grad: its mode, the frame that entered it,
        # and whether that frame is a generator's or coroutine's (it may be suspended).
        self.grad_stack: list[_GradEntry] = []
        self.suspendable = 0  # entries made in generator or coroutine frames


class _Dynamic:
    """The grad mode while a generator's block is open: the innermost running block's.

    A generator suspended inside `with no_grad()` keeps its entry, but while
    it is suspended (its frame has no caller) the entry does not count, so the
    mode does not leak into the code that resumed and left it.
    """

    def __bool__(self) -> bool:
        best = None
        for entry in reversed(_state.grad_stack):  # the newest first
            if entry.suspendable and entry.frame.f_back is None:
                continue  # a suspended generator's block: not in force now
            if best is None:
                best = entry
            elif entry.suspendable and _calls(best.frame, entry.frame):
                # A running generator's block opened before the block of a frame that
                # (directly or not) resumed it: the generator's own block is the inner one.
                best = entry
        return best.enabled if best is not None else True

    def __repr__(self) -> str:
        return f"<grad mode now {bool(self)}>"


_DYNAMIC = _Dynamic()


def _refresh(st: _ThreadState) -> None:
    stack = st.grad_stack
    if st.suspendable:
        st.grad_enabled = _DYNAMIC
    else:
        st.grad_enabled = stack[-1].enabled if stack else True


def _calls(outer: FrameType, inner: FrameType) -> bool:
    """Whether `outer` is among the frames that called `inner`."""
    frame = inner.f_back
    while frame is not None:
        if frame is outer:
            return True
        frame = frame.f_back
    return False


_state = _ThreadState()
_slow = 0  # threads in no_grad() or with an observer of every node
_watch = 0  # threads with any observer
_flags_lock = threading.Lock()


def _enter_slow(nodes: bool = True, watch: bool = False) -> None:
    global _slow, _watch
    with _flags_lock:
        _slow += nodes
        _watch += watch


def _leave_slow(nodes: bool = True, watch: bool = False) -> None:
    global _slow, _watch
    with _flags_lock:
        _slow -= nodes
        _watch -= watch


_SUSPENDABLE = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
)


class _GradEntry:
    __slots__ = ("enabled", "frame", "suspendable")

    def __init__(self, enabled: bool, frame: FrameType) -> None:
        self.enabled = enabled
        self.frame = frame
        self.suspendable = bool(frame.f_code.co_flags & _SUSPENDABLE)


class _GradMode:
    """Sets, for this thread, whether operations record their parents.

    Context manager and decorator, with or without parentheses (`@no_grad`,
    `@no_grad()`). The open blocks are kept per thread, so one instance (a
    module-level `NO_GRAD = no_grad()`) may be entered by several threads, and
    re-entered. A decorated generator or `async def` function runs in the mode
    while its body runs, and only then: not while it is suspended. A generator
    suspended inside a `with` block does not leave the mode on in its caller.
    """

    enabled: bool

    def __new__(cls, func: Callable | None = None) -> Any:
        self = super().__new__(cls)
        if func is None:
            return self
        if not callable(func):
            raise TypeError(
                f"{cls.__name__}() takes no argument (a context manager) or the function "
                f"it decorates, got {describe(func)}"
            )
        return self(func)  # `@no_grad` without parentheses

    def __enter__(self) -> _GradMode:
        st = _state
        entry = _GradEntry(self.enabled, sys._getframe(1))
        st.grad_stack.append(entry)
        st.suspendable += entry.suspendable
        _refresh(st)
        _enter_slow()
        return self

    def __exit__(self, *exc: object) -> None:
        st = _state
        stack = st.grad_stack
        frame = sys._getframe(1)
        # The block this frame opened last; else (ExitStack, manual calls) the innermost
        # one that is not a suspended generator's.
        index = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].frame is frame), None)
        if index is None:
            index = next(
                (
                    i
                    for i in range(len(stack) - 1, -1, -1)
                    if not stack[i].suspendable or stack[i].frame.f_back is not None
                ),
                None,
            )
        if index is None:
            raise RuntimeError(
                f"{type(self).__name__}().__exit__() without a matching __enter__() in this "
                "thread: use it as `with no_grad():` or as a decorator, or call __enter__() "
                "before __exit__()"
            )
        entry = stack.pop(index)
        st.suspendable -= entry.suspendable
        _refresh(st)
        _leave_slow()

    def __call__(self, func: Callable) -> Callable:
        import functools

        if not callable(func):
            raise TypeError(f"{type(self).__name__}() decorates a function, got {describe(func)}")
        mode = type(self)
        if inspect.isasyncgenfunction(func):
            raise TypeError(
                f"{mode.__name__}() cannot decorate the async generator {func.__qualname__}: "
                f"use `with {mode.__name__}():` inside it, around code without `await`/`yield`"
            )
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def generator(*args: Any, **kwargs: Any) -> Any:
                return (yield from _stepped(func(*args, **kwargs), mode))

            return generator
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def coroutine(*args: Any, **kwargs: Any) -> Any:
                return await _Stepped(func(*args, **kwargs), mode)

            return coroutine

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return func(*args, **kwargs)

        return wrapper


def _stepped(inner: Any, mode: type[_GradMode]) -> Any:
    """Run the generator (or an awaitable's iterator) `inner` in `mode` one step at a time.

    Each resumption (send, throw, close) runs inside the mode; between steps,
    while suspended, the caller's own mode applies.
    """
    method, arg = inner.send, None
    while True:
        try:
            with mode():
                response = method(arg)
        except StopIteration as stop:
            return stop.value
        try:
            arg = yield response
            method = inner.send
        except GeneratorExit:
            with mode():
                inner.close()
            raise
        except BaseException as e:  # thrown in: delivered to the body, in the mode
            method, arg = inner.throw, e


class _Stepped:
    """An awaitable running a coroutine in a grad mode only while its body runs."""

    __slots__ = ("coroutine", "mode")

    def __init__(self, coroutine: Any, mode: type[_GradMode]) -> None:
        self.coroutine = coroutine
        self.mode = mode

    def __await__(self) -> Any:
        return _stepped(self.coroutine.__await__(), self.mode)


class no_grad(_GradMode):
    """Context manager and decorator under which operations record no parents.

    Thread-local, like PyTorch's: other threads keep building graphs. Use it for
    parameter updates and evaluation, where a graph would only cost memory.
    `@no_grad` and `@no_grad()` both decorate; see `_GradMode` for generators
    and `async def` functions.
    """

    enabled = False


class enable_grad(_GradMode):
    """Record parents again inside a `no_grad()` block (thread-local)."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether operations in this thread currently record their parents."""
    return bool(_state.grad_enabled)


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Let `observer` watch what this thread does with Values, until the block ends."""
    st = _state
    previous = st.observers
    st.observers = (*previous, observer)
    nodes = observer.wants_nodes
    _enter_slow(nodes, watch=True)
    try:
        yield observer
    finally:
        st.observers = previous
        _leave_slow(nodes, watch=True)


# ---------------------------------------------------------------------------
# Primitives.


class Op:
    """A primitive operation: a name for display and a rule.

    `rule(m, *operands)` returns the output followed by the local derivative
    of the output with respect to each operand, `(out, d_a)`, `(out, d_a,
    d_b)`, ..., using only arithmetic operators and the functions of `m`, so
    that it runs in every interpreter. `arity` is the number of operands, or
    None for any number. Calling an `Op` applies it to Values or numbers.
    """

    __slots__ = ("name", "symbol", "rule", "arity", "apply", "formula")

    def __init__(
        self,
        name: str,
        rule: Callable,
        arity: int | None,
        symbol: str | None = None,
        *,
        formula: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"an op's name must be a non-empty str, got {describe(name)}")
        for what, text in (("name", name), ("symbol", symbol)):
            if isinstance(text, str) and "\x00" in text:
                raise ValueError(
                    f"an op's {what} must not contain NUL (\\x00), got {cut(repr(text))}: "
                    "names end up in drawings, generated code and ONNX files, none of which "
                    "can hold it"
                )
        if not callable(rule):
            raise TypeError(f"op {name!r}: the rule must be callable, got {describe(rule)}")
        if arity is not None and (
            not isinstance(arity, int) or isinstance(arity, bool) or arity < 1
        ):
            raise ValueError(f"op {name!r}: arity must be a positive int or None, got {arity!r}")
        self.name = name
        self.symbol = symbol or name
        self.rule = rule
        self.arity = arity
        self.formula = ops.as_formula(name, formula)  # how the explorer writes it
        self.apply = self._make_apply()

    def _make_apply(self) -> Callable[..., Value]:
        """The node-building function, specialised for this op's rule."""
        if self.arity in (1, 2):
            return _compiled_apply(self, _rule_call)
        return _nary_apply(self)  # any other number of operands: one generic function

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *operands: Any) -> Value:
        if self.arity is not None and len(operands) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} operand(s), got {len(operands)}")
        args: list[Any] = [x if x.__class__ is Value else as_float(x, self.name) for x in operands]
        if args and not any(x.__class__ is Value for x in args):
            args[0] = Value(args[0])  # all numbers: the result still has a graph
        return self.apply(*args)


def primitive(
    name: str, arity: int | None = 1, symbol: str | None = None, *, formula: Any = None
) -> Callable[[Callable], Op]:
    """Decorator turning a rule `rule(m, *operands)` into an `Op`.

    This is how users extend the engine without editing it::

        @primitive("softplus")
        def softplus(m, x):
            # d/dx log(1 + e^x) = sigmoid(x)
            return m.log(1 + m.exp(x)), m.sigmoid(x)

    The rule returns the output, then one local derivative per operand. Write
    it with `m.exp`, `m.log`, ... rather than `math.exp`: `m` is `FLOAT` when
    the rule computes a node, `VALUE` when `backward(create_graph=True)` needs
    differentiable local derivatives, and arrays or symbols in the compiled,
    batched and ONNX interpreters. Branch with `m.where(x > 0, a, b)`, not
    `if`: an `if` on an operand runs on floats only.

    `formula` is how `explore()` writes the local derivatives: a str for a
    one-operand op (`formula="sigmoid({x})"`), one str per operand, or an
    `ops.Formula`; without one the explorer shows the numbers only.
    """

    formula = ops.as_formula(name, formula)  # a bad one fails here, not at first use

    def make(rule: Callable) -> Op:
        return Op(name, _validated(name, rule), arity, symbol, formula=formula)

    return make


def _validated(name: str, rule: Callable) -> Callable:
    """Wrap a user's rule so a malformed result is a clear TypeError."""

    def checked(m, *operands):
        result = rule(m, *operands)
        if not isinstance(result, tuple) or len(result) != len(operands) + 1:
            raise TypeError(
                f"primitive {name!r}: the rule must return a tuple of the output and "
                f"{len(operands)} local derivative(s), one per operand, got {describe(result)}"
            )
        if m is FLOAT:
            what = f"primitive {name!r} output or derivative"
            return tuple(as_float(r, what) for r in result)
        if m is VALUE:
            _same_as_on_floats(name, rule, operands, result)
        return result

    checked.__wrapped__ = rule  # type: ignore[attr-defined]
    return checked


def _same_as_on_floats(name: str, rule: Callable, operands: tuple, result: tuple) -> None:
    """Refuse a rule that computes other numbers on Values than on floats.

    Under `backward(create_graph=True)` a rule runs on Values. Its comparisons
    `< <= > >=` read the data, as on floats, but `==` and `!=` on Values
    compare identity (Values are graph nodes, kept in sets and dicts), so a
    rule testing `x == 0` would silently give another derivative there.
    """
    floats = [x._data if x.__class__ is Value else x for x in operands]
    try:
        expected = rule(FLOAT, *floats)
    except (ArithmeticError, ValueError, TypeError):
        return  # the float call is checked where the node is built
    for i, (got, want) in enumerate(zip(result, expected)):
        g = got._data if got.__class__ is Value else got
        try:
            g, w = float(g), float(want)
        except (TypeError, ValueError):
            continue
        if g == w or (g != g and w != w):
            continue
        what = "the output" if i == 0 else f"the derivative in operand {i - 1}"
        raise ValueError(
            f"primitive {name!r}: its rule gives {what} = {g!r} on Values "
            f"(backward(create_graph=True)) but {w!r} on floats, at operands {floats!r}. "
            "Does it compare operands with == or !=? On Values those compare identity, "
            "not numbers. Write the test with < <= > >= instead, e.g. "
            "m.where(m.abs(x - y) <= 0, a, b) for x == y, which means the same everywhere."
        )


# ---------------------------------------------------------------------------
# Building nodes: the hot path of every operation. Each Op gets one of these
# closures as its `apply`, with its rule bound, so an operator costs one call
# to the rule and one object.

_new = object.__new__


def _number(x: object, what: str) -> float | None:
    """A number operand as a float; None for what is not a number (NotImplemented)."""
    if x.__class__ is int and -_INT_EXACT <= x <= _INT_EXACT:  # `1 + v`: skip the ABC check
        return float(x)
    if not isinstance(x, numbers.Real):
        return None
    return as_float(x, what)


_INT_EXACT = 2**53  # ints this small convert to float without rounding or overflow


def _nary_apply(op: Op) -> Callable[..., Value]:
    rule = op.rule

    def apply(*operands: Any) -> Value:
        if not operands:
            raise TypeError(f"{op.name} needs at least one operand")
        try:  # all Values, the common case (numbers have no `_data`)
            result = rule(FLOAT, *[x._data for x in operands])
        except AttributeError:  # some are numbers
            operands = tuple(x if x.__class__ is Value else as_float(x, op.name) for x in operands)
            result = rule(FLOAT, *[x._data if x.__class__ is Value else x for x in operands])
            pairs = [(x, d) for x, d in zip(operands, result[1:]) if x.__class__ is Value]
            if not pairs:
                return Value(result[0])  # no Value operand: a leaf
            parents, grads = zip(*pairs)
            return _nary_node(op, result[0], operands, parents, grads)
        return _nary_node(op, result[0], operands, operands, result[1:])

    return apply


def _nary_node(op: Op, out: float, operands: tuple, parents: tuple, grads: tuple) -> Value:
    # `_a` holds every operand (numbers included) for `operands`; `_b` the
    # Value operands, with their local derivatives in `_ga`, for backward().
    # With no number operand `_b` is the same tuple as `_a`.
    node = _new(Value)
    node._data = out
    node.grad = 0.0
    node.label = ""
    node._op = op
    node._a = operands
    node._ga = grads
    node._b = parents
    node._gb = node._mark = None
    if _slow:
        _checked(node)
    return node


_NO_GRAD = object()  # `_a` of a node made under no_grad(): a leaf that remembers why


def _checked(node: Value) -> None:
    """The slow path: forget parents under no_grad, tell the observers."""
    st = _state
    if not st.grad_enabled:
        node._op = None
        node._b = node._ga = node._gb = None
        node._a = _NO_GRAD
        return
    for observer in st.observers:
        if observer.wants_nodes:
            observer.node_created(node)


# ---------------------------------------------------------------------------
# The `apply` of a unary or binary op: written as source once per op, from a
# template with one node's construction and the three cases of a binary op
# (both Values; a number on the right; on the left). What computes `out` and
# the local derivatives is either a call of the rule on floats (user
# primitives), or, for the built-in ops, the rule's own output and derivative
# expressions, got by running it once over the symbolic namespace: the same
# arithmetic and checked functions in the same order as the call, without the
# call and the tuple, and without the derivative of a number operand, which
# nothing reads.

_NODE = """\
    node = _new(Value)
    node._data = out
    node.grad = 0.0
    node.label = ""
    node._op = op
    node._a = a
    node._ga = ga
    node._b = {b}
    node._gb = {gb}
    node._mark = None
    if _slow:
        _checked(node)
    return node"""

_NUMBER = """\
{i}if {v}.__class__ is not float:
{i}    {v} = _number({v}, op.name)
{i}    if {v} is None:
{i}        return NotImplemented"""

Body = Callable[[Callable, Sequence[bool]], list[str]]


def _rule_call(rule: Callable, needed: Sequence[bool]) -> list[str]:
    """`out, ga, gb = rule(FLOAT, x0, x1)`, forgetting a number operand's derivative."""
    names = ("ga", "gb")[: len(needed)]
    args = ", ".join(f"x{i}" for i in range(len(needed)))
    lines = [f"out, {', '.join(names)} = rule(_FLOAT, {args})"]
    return lines + [f"{name} = None" for name, n in zip(names, needed) if not n]


def _symbolic_body(rule: Callable, needed: Sequence[bool]) -> list[str]:
    """Statements computing `out` and `ga`, `gb` (those needed) from `x0`, `x1`."""
    args = [symbolic.Sym("var", f"x{i}") for i in range(len(needed))]
    out, *derivs = rule(symbolic.SYM, *args)
    lines: list[str] = []
    keep = [d for d, n in zip(derivs, needed) if n]
    symbolic.emit_shared(out, keep, "out", 0, lines.append)
    for name, d, n in zip(("ga", "gb"), derivs, needed):
        lines.append(f"{name} = {symbolic.render(d)[0] if n else 'None'}")
    return lines


def _apply_source(rule: Callable, arity: int, body: Body) -> str:
    def block(needed: Sequence[bool], indent: str) -> list[str]:
        return [indent + line for line in body(rule, needed)]

    if arity == 1:
        lines = ["def apply(a):", "    x0 = a._data", *block([True], "    ")]
        return "\n".join([*lines, _NODE.format(b="None", gb="None")])
    lines = [
        "def apply(a, b):",
        "    if a.__class__ is Value:",
        "        x0 = a._data",
        "        if b.__class__ is Value:",
        "            x1 = b._data",
        *block([True, True], "            "),
        "        else:",
        _NUMBER.format(i="            ", v="b"),
        "            x1 = b",
        *block([True, False], "            "),
        "    else:",
        _NUMBER.format(i="        ", v="a"),
        "        x0 = a",
        "        x1 = b._data",
        *block([False, True], "        "),
    ]
    return "\n".join([*lines, _NODE.format(b="b", gb="gb")])


def _compiled_apply(op: Op, body: Body) -> Callable[..., Value]:
    source = _apply_source(op.rule, op.arity, body)  # type: ignore[arg-type]
    code = compile(
        f"def make(op, rule):\n{textwrap.indent(source, '    ')}\n    return apply",
        f"<apply {op.name}>",
        "exec",
    )
    scope: dict[str, Any] = {}
    exec(code, _APPLY_GLOBALS, scope)
    apply = scope["make"](op, op.rule)
    apply.__doc__ = f"{op.name}: written from its rule (see engine._compiled_apply)\n\n{source}"
    return apply


_APPLY_GLOBALS = globals()  # `_slow` must be read where the engine sets it
_APPLY_GLOBALS.update(symbolic.FUNCTIONS, _inf=math.inf, _nan=math.nan, _FLOAT=FLOAT)


class _BuiltinOp(Op):
    """A primitive of the op table: its `apply` is written from the rule's own symbols."""

    __slots__ = ()

    def _make_apply(self) -> Callable[..., Value]:
        if self.arity in (1, 2):
            return _compiled_apply(self, _symbolic_body)
        return super()._make_apply()


OPS: dict[str, Op] = {p.name: _BuiltinOp(p.name, p.rule, p.arity, p.symbol) for p in PRIMITIVES}
LINEAR = OPS["linear"]
_linear_any = LINEAR.apply  # the generic n-ary apply: any mix of Values and numbers
_dot = FLOAT.dot


def _linear_apply(*operands: Any) -> Value:
    """`linear`'s apply: its rule inlined for the all-Values case, the generic one otherwise.

    The same floats as `_linear_rule` on FLOAT, computed by the same `dot`:
    without the rule's call, its slices and the tuple of its results.
    """
    try:
        data = [x._data for x in operands]
    except AttributeError:  # a number operand (numbers have no `_data`)
        return _linear_any(*operands)
    n = len(data) // 2
    if not n or len(data) != 2 * n + 1:
        return _linear_any(*operands)  # not w1..wn, x1..xn, b: the rule's own handling
    ws = data[:n]
    xs = data[n:-1]
    node: Any = _new(Value)
    node._data = _dot(ws, xs, data[-1])
    node.grad = 0.0
    node.label = ""
    node._op = LINEAR
    node._a = node._b = operands
    node._ga = (*xs, *ws, 1.0)  # d/dw_i = x_i, d/dx_i = w_i, d/db = 1
    node._gb = node._mark = None
    if _slow:
        _checked(node)
    return node


LINEAR.apply = _linear_apply


def linear(
    weights: Sequence[Value | Number],
    inputs: Sequence[Value | Number],
    bias: Value | Number = 0.0,
) -> Value:
    """`bias + sum(w * x)` as one node: a neuron's pre-activation.

    Gives the same value and gradients as the sum of products, with the terms
    added in the same order, at a fraction of the nodes and time.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"linear needs as many weights as inputs, got {len(weights)} weights "
            f"and {len(inputs)} inputs"
        )
    return _linear_apply(*weights, *inputs, bias)


# ---------------------------------------------------------------------------
# Value.


class Value:
    """A scalar that remembers how it was computed.

    `==` and `hash` are by identity, so Values can live in sets and dicts as
    graph nodes; `<`, `<=`, `>`, `>=` and `bool()` look at `data`, so
    `max(values)` picks a node and the gradient flows to it.
    """

    __slots__ = ("_data", "grad", "label", "_op", "_a", "_ga", "_b", "_gb", "_mark")
    # What the slots hold (for type checkers; set in __init__ and by the node builders):
    # the op, operands (_a, _b, or all of them as a tuple in _b), local derivatives.
    _op: Op | None
    _a: Any
    _b: Any
    _ga: Any
    _gb: Any
    _mark: Any
    # What errors.as_float adds when a Value is given where a number is needed.
    _not_a_number_hint = " (use v.data for its number, or v.detach() for a new leaf)"

    def __init__(self, data: Number, label: str = "") -> None:
        self._data = as_float(data, "Value")
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {describe(label)}")
        self.grad = 0.0
        self.label = label
        self._op = None
        self._a = self._b = self._ga = self._gb = self._mark = None
        if _watch:
            for observer in _state.observers:
                observer.leaf_created(self)

    @property
    def data(self) -> float:
        """The number this node holds."""
        if _watch:
            for observer in _state.observers:
                observer.data_read(self)
        return self._data

    @data.setter
    def data(self, x: Number) -> None:
        self._data = as_float(x, "Value.data")

    # -- read-only views of the graph, for drawing and teaching --------------

    @property
    def op(self) -> Op | None:
        """The primitive that produced this node, or None for a leaf."""
        return self._op

    @property
    def operands(self) -> tuple:
        """Every operand in order: Values and the plain-number constants."""
        op = self._op
        if op is None:
            return ()
        if op.arity == 1:
            return (self._a,)
        if op.arity == 2:
            return (self._a, self._b)
        return self._a

    @property
    def parents(self) -> tuple[tuple[Value, Any], ...]:
        """`(parent, local_grad)` pairs, one per Value operand, repeats kept."""
        if self._op is None:
            return ()
        if self._ga.__class__ is tuple:
            return tuple(zip(self._b, self._ga))
        pairs = []
        if self._ga is not None:
            pairs.append((self._a, self._ga))
        if self._gb is not None:
            pairs.append((self._b, self._gb))
        return tuple(pairs)

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents: an input, a parameter, a constant."""
        return self._op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self._data!r}, grad={self.grad!r}{label})"

    # -- arithmetic: each operator is its primitive's `apply` (installed below)

    def __radd__(self, other: Number) -> Value:
        return _ADD(other, self)

    def __rsub__(self, other: Number) -> Value:
        return _SUB(other, self)

    def __rmul__(self, other: Number) -> Value:
        return _MUL(other, self)

    def __rtruediv__(self, other: Number) -> Value:
        return _DIV(other, self)

    def __rpow__(self, other: Number) -> Value:
        return _POW(other, self)

    def __pos__(self) -> Value:
        return self

    if TYPE_CHECKING:  # installed from ops.PRIMITIVES by _install(); declared for type checkers

        def __add__(self, other: Value | Number) -> Value: ...
        def __sub__(self, other: Value | Number) -> Value: ...
        def __mul__(self, other: Value | Number) -> Value: ...
        def __truediv__(self, other: Value | Number) -> Value: ...
        def __pow__(self, other: Value | Number) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...

    # -- comparisons look at data; equality and hashing stay by identity ------

    def __lt__(self, other: Value | Number) -> bool:
        outcome = self._data < _data_of(other)
        return _compared(self, "<", other, outcome) if _watch else outcome

    def __le__(self, other: Value | Number) -> bool:
        outcome = self._data <= _data_of(other)
        return _compared(self, "<=", other, outcome) if _watch else outcome

    def __gt__(self, other: Value | Number) -> bool:
        outcome = self._data > _data_of(other)
        return _compared(self, ">", other, outcome) if _watch else outcome

    def __ge__(self, other: Value | Number) -> bool:
        outcome = self._data >= _data_of(other)
        return _compared(self, ">=", other, outcome) if _watch else outcome

    def __bool__(self) -> bool:
        """`bool(v)` is `bool(v.data)`, as for a float (`if v:` is a branch on data)."""
        outcome = self._data != 0.0
        return _compared(self, "!=", 0.0, outcome) if _watch else outcome

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # -- the backward pass -----------------------------------------------------

    def backward(self, gradient: Number | Value = 1.0, create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into every leaf's `grad`.

        `gradient` seeds this node (d loss / d self). Leaves accumulate across
        calls, so calling twice doubles their gradients; intermediate nodes are
        reset and recomputed on each call. With `create_graph=True` every
        gradient is a Value with a graph of its own, to differentiate again.
        """
        _backward(self, gradient, create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data, cut from this node's graph."""
        return Value(self._data, self.label)


def _install() -> None:
    """Each primitive's `apply` as the Value operator or method it names."""
    for p in PRIMITIVES:
        if p.method is not None:
            setattr(Value, p.method, OPS[p.name].apply)


_install()
_ADD, _SUB, _MUL, _DIV, _POW = (OPS[n].apply for n in ("add", "sub", "mul", "div", "pow"))


def detach(x: Value) -> Value:
    """A new leaf with the same data as `x`, cut from its graph."""
    if x.__class__ is not Value:
        raise TypeError(f"detach needs a Value, got {describe(x)}")
    return x.detach()


def _data_of(x: object) -> float:
    if x.__class__ is Value:
        return x._data
    return as_float(x, "comparison with a Value")


def _compared(left: Value, symbol: str, right: Any, outcome: bool) -> bool:
    for observer in _state.observers:
        outcome = observer.compared(left, symbol, right, outcome)
    return outcome


# ---------------------------------------------------------------------------
# The cyclic garbage collector. Graphs hold no reference cycles, so collecting
# them is wasted work: each collection scans the young nodes, and a full one
# every node alive. `collector_paused()` turns the collector off for a block
# and back on exactly as it was; backward() runs inside one.


class collector_paused:
    """Context manager: no cyclic garbage collection inside the block.

    For code that builds and drops acyclic graphs, such as a training step.
    The collector's state is process-wide, so the pause is counted across
    threads and nested blocks: the first block to enter turns the collector
    off if it was on, the last to leave turns it back on only then. Errors
    leave the same way. Reference counting still frees every graph at once;
    only garbage in reference cycles waits for the block to end (the first
    allocation after it collects as usual). Re-entrant; one instance may be
    shared by threads.
    """

    _lock = threading.Lock()
    _depth = 0  # blocks open in any thread
    _restore = False  # whether the last one out turns the collector back on

    def __enter__(self) -> collector_paused:
        cls = collector_paused
        with cls._lock:
            if cls._depth == 0:
                cls._restore = gc.isenabled()
                gc.disable()
            cls._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        cls = collector_paused
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._restore:
                gc.enable()


_COLLECTOR_PAUSED = collector_paused()


# ---------------------------------------------------------------------------
# The graph walk: one for backward, drawing, statistics, tracing and codegen.


class _Mark:
    """What a walk writes into a node's `_mark` slot: "being visited" or "done".

    backward()'s walk needs no set for its nodes: it marks them with two
    objects of its own, so stale marks left by earlier walks mean nothing.
    Leaves (weights, inputs) are never marked, so threads whose graphs share
    only leaves never meet. `active` stays True while the backward pass runs;
    meeting another pass's active mark means two threads are running
    backward() through one graph at once, which is refused rather than allowed
    to mix their gradients. (Read-only walks, `walk`, write no marks.)
    """

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True


class GraphBusyError(RuntimeError):
    """Another thread is running backward() through the same graph at this moment."""


def _busy(node: Value) -> GraphBusyError:
    return GraphBusyError(
        f"another thread is running backward() through the graph of {describe(node)} right "
        "now. backward() keeps its running gradients in the nodes, so two passes through "
        "one graph at once would mix them. Use a lock around backward() on a shared graph, "
        "or give each thread its own forward pass."
    )


def walk(roots: Iterable[Value], leaves: bool = True) -> list[Value]:
    """Every node behind `roots`, each after its operands (leaves only if `leaves`).

    Iterative depth-first search, so depth is limited by memory only.
    Deterministic: operands are visited in order, roots one after another
    (without leaves, an n-ary node's from last to first: cheaper, as valid).
    This is the order `backward()` walks (`_walk`, which marks the nodes
    instead, for speed; a test keeps the two equal). It only reads the graph:
    its visited marks live in its own dict, so any number of threads may walk,
    draw or compile one graph at once, even while a backward pass runs.
    """
    order: list[Value] = []
    append = order.append
    state: dict[Value, bool] = {}  # True while visiting, False once done
    get = state.get
    for root in roots:
        if get(root) is False or (root._op is None and not leaves):
            continue
        stack: list[Value] = [root]
        push, pop = stack.append, stack.pop
        while stack:
            node = pop()
            s = get(node)
            if s is False:
                continue
            if s is True or node._op is None:  # an exit, or a leaf (it has no operands)
                append(node)
                state[node] = False
                continue
            state[node] = True
            push(node)
            ga = node._ga
            if ga.__class__ is tuple:  # n-ary: its Value operands are in `_b`
                for p in reversed(node._b) if leaves else node._b:
                    if (leaves or p._op is not None) and get(p) is not False:
                        push(p)
                continue
            if node._gb is not None:
                p = node._b
                if (leaves or p._op is not None) and get(p) is not False:
                    push(p)
            if ga is not None:
                p = node._a
                if (leaves or p._op is not None) and get(p) is not False:
                    push(p)
    return order


def _backward_order(root: Value) -> list[Value]:
    """The non-leaf nodes behind `root` exactly as `backward()` finds them (codegen's order)."""
    visiting, done = _Mark(), _Mark()
    try:
        return _walk(root, visiting, done, False)
    finally:
        visiting.active = done.active = False


def _walk(root: Value, visiting: _Mark, done: _Mark, reset: bool) -> list[Value]:
    """`walk((root,), leaves=False)`, marking the nodes instead of keeping a dict.

    A node whose operands are all leaves or done exits at once (appended,
    marked `done`); any other is marked `visiting` and pushed under its
    operands, and meets itself again on exit: a `visiting` mark can only be
    met then in a DAG (a duplicate push of the node lies below, and is popped
    after, its exit). The order is the same as pushing every node and popping
    it back. With `reset` (backward) each node's grad becomes 0.0 on exit,
    the start of its accumulation. Fresh nodes (mark None, the common case in
    a training loop) take one test before entry. `stack.append(x)` rather than
    a bound `push(x)`: Python 3.11 runs the method form without a call.
    """
    order: list[Value] = []
    if root._op is None:
        return order
    stack: list[Value] = [root]
    while stack:
        node = stack.pop()
        m = node._mark
        if m is not None:
            if m is visiting:  # exit: its operands are done
                order.append(node)
                node._mark = done
                if reset:
                    node.grad = 0.0
                continue
            if m is done:
                continue
            if m.active:
                raise _busy(node)
        ga = node._ga
        if ga.__class__ is tuple:  # n-ary: mostly weights, skipped at once
            node._mark = visiting
            stack.append(node)
            n = len(stack)
            for p in node._b:
                if p._op is not None and p._mark is not done:
                    stack.append(p)
            if len(stack) > n:
                continue
            stack.pop()  # nothing to visit: take it back and exit at once
        else:  # `_a` is a Value operand unless `_ga` is None, `_b` unless `_gb` is
            a = node._a
            if ga is not None and a._op is not None and a._mark is not done:
                node._mark = visiting
                stack.append(node)
                b = node._b
                if node._gb is not None and b._op is not None and b._mark is not done:
                    stack.append(b)
                stack.append(a)  # on top: operands are visited in order
                continue
            b = node._b
            if node._gb is not None and b._op is not None and b._mark is not done:
                node._mark = visiting
                stack.append(node)
                stack.append(b)
                continue
        order.append(node)  # nothing left to visit: exit at once
        node._mark = done
        if reset:
            node.grad = 0.0
    return order


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from `root`, leaves included, each after its parents."""
    if not isinstance(root, Value):
        raise TypeError(f"topological_order() needs a Value, got {describe(root)}")
    return walk((root,))


# ---------------------------------------------------------------------------
# The backward pass: one loop, `parent.grad += local_grad * node.grad`.

_warned_no_grad = False


def _seed(gradient: Any, create_graph: bool, what: str) -> Any:
    """d root / d root as the pass needs it: a float, or a Value under `create_graph`.

    A Value seed makes every gradient a Value, even where all local
    derivatives are constants (y = 2*x): d(x.grad) is then defined.
    """
    if gradient.__class__ is not Value:
        gradient = as_float(gradient, f"{what}(gradient=...)")
        return Value(gradient) if create_graph else gradient
    return gradient if create_graph else gradient._data


def _backward(root: Value, gradient: Any, create_graph: bool) -> None:
    global _warned_no_grad
    gradient = _seed(gradient, create_graph, "backward")
    if root._op is None:  # a leaf: d root / d root = 1
        if root._a is _NO_GRAD and not _warned_no_grad:
            _warned_no_grad = True
            warnings.warn(
                "backward() on a Value computed under no_grad(): it has no graph, so no "
                "gradient reaches the Values it was computed from. Compute it outside "
                "no_grad() (this warning is shown once).",
                RuntimeWarning,
                stacklevel=3,
            )
        root.grad = root.grad + gradient
        return
    # The walk's marks stay active until the gradients are in: another thread
    # walking these nodes meanwhile gets GraphBusyError instead of mixed grads.
    visiting, done = _Mark(), _Mark()
    _COLLECTOR_PAUSED.__enter__()
    try:
        order = _walk(root, visiting, done, True)
        root.grad = gradient
        _accumulate(order, create_graph)
    finally:
        visiting.active = done.active = False
        _COLLECTOR_PAUSED.__exit__()


def _accumulate(order: list[Value], create_graph: bool) -> None:
    watchers = [o for o in _state.observers if o.wants_backward] if _watch else ()
    if create_graph:
        _backward_graph(order, watchers)
    elif watchers:
        _backward_watched(order, watchers)
    else:
        _propagate(order)


def _propagate(order: list[Value]) -> None:
    """`parent.grad += local * node.grad` over `order` reversed: plain float gradients.

    A node whose gradient is zero (a relu that was off, a hinge term already
    past its margin: most of a trained network's graph) is skipped when its
    local derivatives are finite: each contribution would be ±0.0, and adding
    ±0.0 leaves every sum started from 0.0 as it is, bit for bit (in
    round-to-nearest, a sum started at +0.0 is never -0.0). Infinite or NaN
    local derivatives still give their NaN. The one difference: a grad the
    caller set to -0.0 by hand stays -0.0 where a zero contribution would
    have made it +0.0 (equal under ==).
    """
    for node in reversed(order):
        g = node.grad
        ga = node._ga
        if g == 0.0:
            if ga.__class__ is tuple:
                s = sum(ga)
                if s - s == 0.0:  # finite, so every term is
                    continue
            else:
                gb = node._gb
                if (ga is None or ga - ga == 0.0) and (gb is None or gb - gb == 0.0):
                    continue
        if ga.__class__ is tuple:  # n-ary: its Value operands are in `_b`
            for p, d in zip(node._b, ga):
                p.grad += d * g
            continue
        if ga is not None:
            node._a.grad += ga * g
        gb = node._gb
        if gb is not None:
            node._b.grad += gb * g


def _backward_watched(order: list[Value], watchers: Sequence[Observer]) -> None:
    for node in reversed(order):
        for parent, local in node.parents:
            contribution = local * node.grad
            for w in watchers:
                w.backward(node, parent, local, contribution)
            parent.grad += contribution


def _backward_graph(order: list[Value], watchers: Sequence[Observer]) -> None:
    # Re-run each rule on the node's operands as Values, so that the local
    # derivatives, and with them every gradient, are differentiable Values.
    # The nodes this builds are checked by observers as backward-pass work.
    for w in watchers:
        w.phase = "backward"
    try:
        with enable_grad():
            for node in reversed(order):
                operands = node.operands
                assert node._op is not None  # the order holds the nodes that have an op
                local = _rule_on_values(node._op, operands)
                upstream = node.grad
                for operand, d in zip(operands, local[1:]):
                    if operand.__class__ is Value:
                        contribution = d * upstream
                        for w in watchers:
                            w.backward(node, operand, d, contribution)
                        operand.grad = operand.grad + contribution
    finally:
        for w in watchers:
            w.phase = "forward"


def _rule_on_values(op: Op, operands: tuple) -> tuple:
    try:
        return op.rule(VALUE, *operands)
    except TypeError as e:
        if "Value" not in str(e):
            raise
        raise TypeError(
            f"backward(create_graph=True) runs the rule of {op.name!r} on Values, and it "
            f"failed: {cut(str(e))}. Write the rule with m.exp, m.log, ... (the namespace "
            "it receives), not math.exp, so that it runs on Values too."
        ) from e


# ---------------------------------------------------------------------------
# The namespace a rule sees when its operands may be Values (create_graph),
# generated from the op table: a function with a primitive builds that node,
# a piecewise-constant one (step, sign) is a constant of the data, `where`
# picks a branch by data.


def _value_fn(entry: ops.MathFn) -> Callable[..., Any] | None:
    float_fn = entry.fn
    if entry.constant:

        def constant(*args: Any) -> float:
            return float_fn(*(a._data if a.__class__ is Value else a for a in args))

        return constant
    if entry.name == "where":
        return float_fn  # the condition is already a bool: comparisons read data
    prims = [p for p in PRIMITIVES if p.math == entry.name]
    if not prims:
        return None
    apply = OPS[prims[0].name].apply
    if entry.name == "dot":

        def dot(ws: Sequence[Any], xs: Sequence[Any], b: Any) -> Any:
            return apply(*ws, *xs, b)

        return dot

    def generic(*args: Any) -> Any:
        if any(a.__class__ is Value for a in args):
            return apply(*args)
        return float_fn(*args)

    return generic


VALUE = ops.namespace("Value", _value_fn)


# ---------------------------------------------------------------------------
# Gradients as a value, not a side effect: d root / d node into a table of the
# caller's own, in the spirit of JAX's functional `grad`. No `.grad` and no
# mark is written, so any number of threads may run it on one graph at once,
# also while another thread runs backward() through graphs sharing its leaves.

EdgeCallback = Callable[[Value, Value, Any, Any, Any, Any], None]


def gradient_table(
    root: Value,
    gradient: Number | Value = 1.0,
    *,
    create_graph: bool = False,
    on_edge: EdgeCallback | None = None,
) -> dict[Value, Any]:
    """d root / d node for every node behind `root` (leaves included), in a new dict.

    The same numbers as `root.backward(gradient, create_graph)` on a graph
    whose leaves start at grad 0, added in the same order (bitwise equal),
    but nothing in the graph is written: no `.grad`, no walk marks. With
    `create_graph=True` the gradients are Values (or floats where constant)
    that can be differentiated again. `on_edge(node, parent, local, upstream,
    contribution, parent_total)` is called for each edge in the order the
    contributions are added (`parent_total` is the parent's gradient right
    after). This thread's observers that watch the backward pass (anomaly
    mode) see each edge too.
    """
    if root.__class__ is not Value:
        raise TypeError(f"gradient_table() needs a Value as root, got {describe(root)}")
    gradient = _seed(gradient, create_graph, "gradient_table")
    table: dict[Value, Any] = {root: gradient}
    if root._op is None:
        return table
    order = walk((root,), leaves=False)
    watchers = [o for o in _state.observers if o.wants_backward] if _watch else []
    if create_graph:
        for w in watchers:
            w.phase = "backward"
        try:
            with enable_grad():
                _table_pass(order, table, watchers, on_edge, True)
        finally:
            for w in watchers:
                w.phase = "forward"
    elif watchers or on_edge is not None:
        _table_pass(order, table, watchers, on_edge, False)
    else:
        get = table.get
        for node in reversed(order):
            g = get(node, 0.0)
            ga = node._ga
            if ga.__class__ is tuple:  # n-ary: its Value operands are in `_b`
                for p, d in zip(node._b, ga):
                    table[p] = get(p, 0.0) + d * g
            elif ga is not None:
                p = node._a
                table[p] = get(p, 0.0) + ga * g
            gb = node._gb
            if gb is not None:
                p = node._b
                table[p] = get(p, 0.0) + gb * g
    return table


def _table_pass(
    order: list[Value],
    table: dict[Value, Any],
    watchers: Sequence[Observer],
    on_edge: EdgeCallback | None,
    create_graph: bool,
) -> None:
    """`gradient_table`'s loop with observers, a callback or differentiable gradients."""
    get = table.get
    for node in reversed(order):
        upstream = get(node, 0.0)
        if create_graph:  # the rule again, on Values: local derivatives with graphs
            local = _rule_on_values(node._op, node.operands)  # type: ignore[arg-type]
            edges = [(p, d) for p, d in zip(node.operands, local[1:]) if p.__class__ is Value]
        else:
            edges = list(node.parents)
        for parent, d in edges:
            contribution = d * upstream
            for w in watchers:
                w.backward_edge(node, parent, d, upstream, contribution)
            total = get(parent, 0.0) + contribution
            table[parent] = total
            if on_edge is not None:
                on_edge(node, parent, d, upstream, contribution, total)


def gradients(
    root: Value,
    wrt: Iterable[Value],
    gradient: Number | Value = 1.0,
    *,
    create_graph: bool = False,
) -> list[Any]:
    """d root / d w for each w in `wrt` (0.0 where root does not depend on w).

    Like JAX's `grad`: the gradients are returned, never stored. No `.grad`
    is read or written, so this is safe beside training on the same weights
    in another thread. See `gradient_table` for the numbers and `create_graph`.
    """
    if isinstance(wrt, (Value, str, bytes)) or not isinstance(wrt, Iterable):
        raise TypeError(f"gradients(): wrt must be a list of Values, got {describe(wrt)}")
    wrt = list(wrt)
    for i, w in enumerate(wrt):
        if w.__class__ is not Value:
            raise TypeError(f"gradients(): wrt[{i}] must be a Value, got {describe(w)}")
    table = gradient_table(root, gradient, create_graph=create_graph)
    return [table.get(w, 0.0) for w in wrt]


__all__ += ["gradient_table", "gradients"]
