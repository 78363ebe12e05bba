"""Trace ONE example's loss, then replay it over a whole batch with NumPy arrays.

Models here are written one scalar at a time. `compile_batched` traces the
per-example function once into a `Program` (refusing a graph whose shape
depends on the data: a comparison of Values), optimizes it (see
`autograd_core.program.passes`: dot products, dense layers, maps over a
layer, the parameter-only part hoisted) and replays the optimized program on
arrays: a per-example scalar is an array of shape [B], a layer a matrix
[B, n], a dense layer one matrix product, a map one rule call on the matrix,
and the equations of params only run once per batch. Each scalar equation
calls its op's own rule, `op.rule(NUMPY, *operands)`, in the NumPy namespace
below, so no derivative is written twice; backward runs the equations in
reverse with `contribution = local * upstream`, summing over the batch where
a value is the same for every example. `step.program` is what is replayed.

Numbers: a matrix product adds in BLAS's order, not the engine's, and a
regrouped sum of products moves in its last bits; the tests hold the mean
loss and every gradient to 1e-12 of the engine's (relative to the largest).

NumPy is imported here only, so `import autograd_core` stays pure Python.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core import ops
from autograd_core.engine import Value, is_grad_enabled
from autograd_core.program.core import COLUMN, DENSE, MAP, PACK, Eqn, Program, Var
from autograd_core.program.make import check_params, program_from_graph
from autograd_core.program.passes import PIPELINE, eliminate_dead_code, hoist_parameter_only
from autograd_core.trace import Tracer, TracingError

__all__ = ["BatchedStep", "NUMPY", "compile_batched"]

_np: Any = None


def _numpy() -> Any:
    global _np
    if _np is None:
        try:
            import numpy
        except ImportError:
            raise ImportError(
                "compile_batched needs NumPy: pip install 'autograd-core[batched]'"
            ) from None
        _np = numpy
        _bind_numpy(numpy)
    return _np


# ---------------------------------------------------------------------------
# The NumPy namespace the rules run in, generated from the op table: each
# entry's `numpy` meaning (elementwise on float64 arrays, IEEE results instead
# of exceptions; the replay runs under np.errstate(all="ignore")). Built at
# import, so a function missing from the table fails here, not mid-training;
# NumPy itself is bound at the first replay.


def _lift(entry: ops.MathFn) -> Callable[..., Any]:
    fn = entry.numpy

    def call(*args: Any) -> Any:
        return fn(_np, *args)

    call.__name__ = entry.name
    return call


NUMPY = ops.namespace("numpy", _lift)


def _bind_numpy(np: Any) -> None:
    """Replace each lifted function by the table's own with NumPy bound: one call less."""
    from functools import partial

    for entry in ops.MATH.values():
        setattr(NUMPY, entry.name, partial(entry.numpy, np))


# ---------------------------------------------------------------------------
# Tracing one example: the Program of `per_example`, optimized.


def _trace(per_example: Callable, x: list[float], y: Any, params: list[Value]) -> tuple:
    """Run `per_example` once on Values; its program (inputs: x, then the target(s))."""
    with Tracer() as tracer:
        xs = [Value(v, f"x[{j}]") for j, v in enumerate(x)]
        if isinstance(y, list):
            ys: Any = [Value(v, f"y[{k}]") for k, v in enumerate(y)]
        else:
            ys = Value(y, "y")
        # copies: a per_example that assigns into x (x[i] = ...) must not replace our leaves
        out = per_example(list(xs), list(ys) if isinstance(ys, list) else ys)
    tracer.refuse_comparisons(retrace_hint=False)  # batched replay has no retrace
    tracer.warn_data_reads(
        "the replay of every example (it was read from the example used to trace)", stacklevel=4
    )
    aux: list[Any] = []
    if isinstance(out, tuple) and len(out) == 2 and out[0].__class__ is Value:
        aux = list(out[1])
        out = out[0]
    if out.__class__ is not Value:
        raise TypeError(
            "per_example must return the example's loss as a Value (or the loss and a list "
            f"of Values), got {type(out).__qualname__}: {out!r}"[:300]
        )
    for i, a in enumerate(aux):
        if a.__class__ is not Value and not isinstance(a, numbers.Real):
            raise TypeError(
                f"per_example's extra outputs must be Values or numbers, got "
                f"{type(a).__qualname__} at index {i}"
            )
    targets = ys if isinstance(ys, list) else [ys]
    program = program_from_graph(
        [*xs, *targets], params, [out, *aux], tracer.created, what="the per-example function"
    )
    return program, out, aux


#: The passes batched replay runs (`dense=False`: only those that change no number).
PLAIN = (eliminate_dead_code, hoist_parameter_only)


# ---------------------------------------------------------------------------
# The executor: one forward and one backward closure per equation, over slots.
#
# vals[slot] holds each value: per-example scalars as arrays [B] (or a float
# the same for every example), vectors as [B, n] matrices, values of `once`
# as NumPy scalars. grads[slot] holds the upstream gradient of the mean loss.
# A per-example equation's contribution to a value that is the same for every
# example (a param, anything in `once`) is summed over the batch at once.


class _State:
    """What one run shares: batch size, params (and constants after them), param grads."""

    __slots__ = ("B", "X", "Y", "pext", "gext", "saved")
    B: int
    X: Any
    Y: Any
    pext: Any  # params, then constants and numbers of dense layers
    gext: Any  # their gradients
    # What each equation's forward keeps for its backward, by its output's slot: per run,
    # never in the closures, so that threads sharing one BatchedStep never mix runs.
    saved: list[Any]


class _Slots(dict):
    """Var -> its index in `vals`, a new one at the first lookup."""

    def __missing__(self, v: Var) -> int:
        s = self[v] = len(self)
        return s


def _reduce(c: Any, B: int) -> Any:
    """A per-example contribution summed over the batch (a float stands for B equal ones)."""
    return c.sum() if _np.ndim(c) else c * B


class _Executor:
    """The optimized program as closures; `run(X, Y, pdata)`."""

    def __init__(self, program: Program, n_inputs: int, target_size: int | None) -> None:
        np = _numpy()
        self.program = program
        self._threads = threading.local()  # each thread's saved residuals (_State.saved)
        self.n_params = len(program.params)
        consts = list(program.constants.values())
        # Slots only for what closures read one by one (inputs first, in order): a
        # param read only by a dense layer or a dot product has none, so a step
        # allocates nothing per param.
        self.slot = _Slots()
        for v in program.inputs:
            self.slot[v]
        self.extra: list[float] = []  # numbers in dense layers and vectorized dots
        self.consts = consts
        self.free = set(program.params) | set(program.constants) | {e.out for e in program.once}
        needs: set[Var] = set(program.params)
        for e in program.all_eqns():
            if any(v in needs for v in e.vars()):
                needs.add(e.out)
        self.needs = needs
        self.n_inputs, self.target_size = n_inputs, target_size
        self.forward: list[Callable] = []
        self.backward: list[Callable | None] = []
        self._scalar_reads: set[Any] = set()  # operands read from vals one by one
        for e in program.once:
            self._compile(e, once=True)
        for e in program.eqns:
            self._compile(e, once=False)
        self.const_table = np.array(consts + self.extra, dtype=np.float64)
        reads = self._scalar_reads
        reads.update(o for o in program.outputs if o.__class__ is Var)
        self.param_reads = [(self.slot[p], p.index) for p in program.params if p in reads]
        self.const_slots = [(self.slot[c], x) for c, x in program.constants.items()]
        for o in program.outputs:
            if o.__class__ is Var:
                self.slot[o]
        self.n_slots = len(self.slot)

    # -- indices into pext = [params, constants, extra numbers] -----------------------

    def saved_for_this_thread(self) -> list[Any]:
        """The residuals list of this thread's runs, reused from its last run.

        Per thread, so that threads sharing one step never mix runs; reused,
        so that the arrays of the last run are freed as the next one
        overwrites them: freeing them all at the end of every run let the C
        allocator hand the memory back and fault it in again (2.2x slower).
        """
        saved: list[Any] | None = getattr(self._threads, "saved", None)
        if saved is None:
            saved = self._threads.saved = [None] * self.n_slots
        return saved

    def _pindex(self, w: Any) -> int:
        if w.__class__ is Var:
            if w.kind == "param":
                return w.index
            return self.n_params + w.index  # a constant
        self.extra.append(float(w))
        return self.n_params + len(self.consts) + len(self.extra) - 1

    def _compile(self, e: Eqn, once: bool) -> None:
        prim = e.prim
        if prim == DENSE:
            f, b = self._dense(e)
        elif prim == MAP:
            f, b = self._map(e)
        elif prim == COLUMN:
            f, b = self._column(e)
        elif prim == PACK:
            f, b = self._pack(e)
        elif (
            once
            and prim == "linear"
            and all(x.__class__ is not Var or x.kind in ("param", "const") for x in e.operands)
        ):
            f, b = self._param_dot(e)
        else:
            f, b = self._single(e, once)
        self.forward.append(f)
        self.backward.append(b if e.out in self.needs else None)

    def _needed_adder(self, v: Var, reduce: bool) -> Callable:
        """`_adder` for a Var in `self.needs`, whose adder is never None."""
        add = self._adder(v, reduce)
        assert add is not None  # v is in self.needs
        return add

    def _adder(self, v: Var, reduce: bool) -> Callable | None:
        """The function adding a contribution to v's gradient (None: v needs none)."""
        if v not in self.needs:
            return None
        if v.kind == "param":
            i = v.index

            if reduce:

                def add_param(grads: list, c: Any, st: _State) -> None:
                    st.gext[i] += _reduce(c, st.B)
            else:

                def add_param(grads: list, c: Any, st: _State) -> None:
                    st.gext[i] += c

            return add_param
        s = self.slot[v]
        if reduce:

            def add_free(grads: list, c: Any, st: _State) -> None:
                g = grads[s]
                c = _reduce(c, st.B)
                grads[s] = c if g is None else g + c

            return add_free

        def add(grads: list, c: Any, st: _State) -> None:
            g = grads[s]
            grads[s] = c if g is None else g + c

        return add

    def _single(self, e: Eqn, once: bool) -> tuple[Callable, Callable]:
        """One op's rule over arrays: the output and local derivatives, kept for backward."""
        rule = e.op.rule
        op = e.op
        s = self.slot[e.out]
        self._scalar_reads.update(e.operands)
        refs = [(self.slot[x], None) if x.__class__ is Var else (None, x) for x in e.operands]
        adders = [
            (k, self._needed_adder(x, not once and x in self.free))
            for k, x in enumerate(e.operands)
            if x.__class__ is Var and x in self.needs
        ]
        if len(refs) == 1 and refs[0][0] is not None:
            ((r, _),) = refs
            assert r is not None  # checked above

            def forward(vals: list, st: _State) -> None:
                try:
                    res = rule(NUMPY, vals[r])
                except ValueError as err:
                    raise _branching(err, op) from None
                vals[s] = res[0]
                st.saved[s] = res
        elif len(refs) == 2 and refs[0][0] is not None and refs[1][0] is not None:
            (r0, _), (r1, _) = refs
            assert r0 is not None and r1 is not None  # checked above

            def forward(vals: list, st: _State) -> None:
                try:
                    res = rule(NUMPY, vals[r0], vals[r1])
                except ValueError as err:
                    raise _branching(err, op) from None
                vals[s] = res[0]
                st.saved[s] = res
        else:

            def forward(vals: list, st: _State) -> None:
                args = [vals[r] if r is not None else c for r, c in refs]
                try:
                    res = rule(NUMPY, *args)
                except ValueError as err:
                    raise _branching(err, op) from None
                vals[s] = res[0]
                st.saved[s] = res

        def backward(vals: list, grads: list, st: _State) -> None:
            up = grads[s]
            if up is None:
                return
            res = st.saved[s]
            for k, add in adders:
                add(grads, res[k + 1] * up, st)

        return forward, backward

    def _param_dot(self, e: Eqn) -> tuple[Callable, Callable]:
        """A `linear` of params and numbers only (an L2 penalty): one NumPy dot product."""
        np = _np
        n = (len(e.operands) - 1) // 2
        widx = np.array([self._pindex(w) for w in e.operands[:n]], dtype=np.intp)
        xidx = np.array([self._pindex(x) for x in e.operands[n : 2 * n]], dtype=np.intp)
        bidx = self._pindex(e.operands[-1])
        s = self.slot[e.out]

        def forward(vals: list, st: _State) -> None:
            w, x = st.pext[widx], st.pext[xidx]
            st.saved[s] = (w, x)
            vals[s] = st.pext[bidx] + np.dot(w, x)

        def backward(vals: list, grads: list, st: _State) -> None:
            up = grads[s]
            if up is None:
                return
            w, x = st.saved[s]
            g = st.gext
            np.add.at(g, widx, x * up)
            np.add.at(g, xidx, w * up)
            g[bidx] += up

        return forward, backward

    def _dense(self, e: Eqn) -> tuple[Callable, Callable]:
        """Z = A @ W.T + b: W and b gathered from the params in one indexing each."""
        np = _np
        widx = np.array([[self._pindex(w) for w in row] for row in e.attrs["W"]], dtype=np.intp)
        bidx = np.array([self._pindex(b) for b in e.attrs["b"]], dtype=np.intp)
        wflat = widx.ravel()
        unique = len(set(wflat.tolist()) | set(bidx.tolist())) == wflat.size + bidx.size
        src = e.operands[0]
        r = self.slot[src]
        cols = e.attrs.get("cols")
        cidx = None if cols is None else np.array(cols, dtype=np.intp)
        s = self.slot[e.out]
        src_needs = src in self.needs
        src_add = self._vector_adder(src, cidx)

        def forward(vals: list, st: _State) -> None:
            pext = st.pext
            W = pext[widx]
            A = vals[r] if cidx is None else vals[r][:, cidx]
            Z = A @ W.T
            Z += pext[bidx]
            vals[s] = Z
            st.saved[s] = (W, A)

        def backward(vals: list, grads: list, st: _State) -> None:
            U = grads[s]
            if U is None:
                return
            W, A = st.saved[s]
            g = st.gext
            if unique:
                g[widx] += U.T @ A
                g[bidx] += U.sum(axis=0)
            else:
                np.add.at(g, widx, U.T @ A)
                np.add.at(g, bidx, U.sum(axis=0))
            if src_needs:
                src_add(grads, U @ W, st)

        return forward, backward

    def _vector_adder(self, v: Var, cidx: Any) -> Callable:
        """Adds a [B, k] contribution to vector v's gradient (k = len(cidx), or all columns)."""
        np = _np
        s = self.slot[v]
        width = v.width

        def add(grads: list, c: Any, st: _State) -> None:
            g = grads[s]
            if cidx is None:
                grads[s] = c if g is None else g + c
                return
            if g is None:
                g = grads[s] = np.zeros((st.B, width))
            np.add.at(g, (slice(None), cidx), c)

        return add

    def _map(self, e: Eqn) -> tuple[Callable, Callable]:
        """The op's rule on whole matrices at once: [B, n] columns, [B, 1] per-example scalars."""
        np = _np
        rule, op = e.op.rule, e.op
        s = self.slot[e.out]
        width = e.out.width
        # per operand: (slot or None, number, column index array, kind) with kind
        # "v" a vector, "e" a per-example scalar (made a column), "f" the same for all
        reads: list[tuple] = []
        adders: list[tuple] = []
        for i, (x, sel) in enumerate(zip(e.operands, e.attrs["cols"])):
            cidx = None if sel is None else np.array(sel, dtype=np.intp)
            if x.__class__ is not Var:
                reads.append((None, x, None, "f"))
                continue
            kind = "v" if x.width is not None else ("f" if x in self.free else "e")
            reads.append((self.slot[x], None, cidx, kind))
            if kind == "e":
                self._scalar_reads.add(x)
            if x in self.needs:
                if kind == "v":
                    adders.append((i, kind, self._vector_adder(x, cidx)))
                else:
                    adders.append((i, kind, self._adder(x, kind == "f")))

        def forward(vals: list, st: _State) -> None:
            args = []
            for r, c, cidx, kind in reads:
                if r is None:
                    args.append(c)
                elif kind == "v":
                    args.append(vals[r] if cidx is None else vals[r][:, cidx])
                elif kind == "e":
                    a = vals[r]
                    args.append(a[:, None] if np.ndim(a) else a)
                else:
                    args.append(vals[r])
            try:
                res = rule(NUMPY, *args)
            except ValueError as err:
                raise _branching(err, op) from None
            out = res[0]
            if np.shape(out) != (st.B, width):
                out = np.broadcast_to(out, (st.B, width))
            vals[s] = out
            st.saved[s] = res

        def backward(vals: list, grads: list, st: _State) -> None:
            U = grads[s]
            if U is None:
                return
            res = st.saved[s]
            for i, kind, add in adders:
                c = res[i + 1] * U
                if kind == "v":
                    if np.shape(c) != (st.B, U.shape[1]):
                        c = np.broadcast_to(c, U.shape)
                    add(grads, c, st)
                elif kind == "e":
                    add(grads, np.sum(c, axis=1) if np.ndim(c) == 2 else c * width, st)
                else:
                    add(grads, np.sum(c) if np.ndim(c) else c * st.B * width, st)

        return forward, backward

    def _column(self, e: Eqn) -> tuple[Callable, Callable]:
        np = _np
        src = e.operands[0]
        r, s, j = self.slot[src], self.slot[e.out], e.attrs["j"]
        width = src.width

        def forward(vals: list, st: _State) -> None:
            vals[s] = vals[r][:, j]

        def backward(vals: list, grads: list, st: _State) -> None:
            c = grads[s]
            if c is None:
                return
            g = grads[r]
            if g is None:
                g = grads[r] = np.zeros((st.B, width))
            elif not g.flags.writeable or g.base is not None:
                g = grads[r] = g.copy()
            g[:, j] += c

        return forward, backward

    def _pack(self, e: Eqn) -> tuple[Callable, Callable]:
        np = _np
        s = self.slot[e.out]
        n_in = self.n_inputs
        if all(x.__class__ is Var and x.kind == "input" and x.index < n_in for x in e.operands):
            idx = [x.index for x in e.operands]
            whole = idx == list(range(n_in))
            cidx = np.array(idx, dtype=np.intp)

            def forward_x(vals: list, st: _State) -> None:
                vals[s] = st.X if whole else st.X[:, cidx]

            return forward_x, lambda vals, grads, st: None
        k = self.target_size
        if k is not None and [
            x.index - n_in if x.kind == "input" else -1 for x in e.operands
        ] == list(range(k)):  # the targets, in order: Y itself

            def forward_y(vals: list, st: _State) -> None:
                vals[s] = st.Y

            return forward_y, lambda vals, grads, st: None
        self._scalar_reads.update(e.operands)
        refs = [(self.slot[x], None) if x.__class__ is Var else (None, x) for x in e.operands]
        adders = [
            (k, self._needed_adder(x, x in self.free))
            for k, x in enumerate(e.operands)
            if x.__class__ is Var and x in self.needs
        ]

        def forward(vals: list, st: _State) -> None:
            cols = [vals[r] if r is not None else c for r, c in refs]
            vals[s] = np.column_stack([np.broadcast_to(c, (st.B,)) for c in cols])

        def backward(vals: list, grads: list, st: _State) -> None:
            U = grads[s]
            if U is None:
                return
            for k, add in adders:
                add(grads, U[:, k], st)

        return forward, backward


def _real_array(data: Any, what: str) -> Any:
    """`data` as a float64 array, or a TypeError naming the first entry that is no real number.

    Strings are not parsed, complex numbers not truncated, dates not turned
    into numbers; a masked array or np.matrix is refused (its mask or its
    matrix semantics would be dropped silently).
    """
    np = _np
    if isinstance(data, np.ndarray) and data.__class__ is not np.ndarray:
        raise TypeError(
            f"{what} must be a plain NumPy array or a list of rows, got "
            f"{type(data).__module__}.{type(data).__qualname__}; pass np.asarray(...) of its "
            "numbers (for a masked array, .filled(...) says what the masked entries are)"
        )
    if data is None or isinstance(data, str | bytes):
        raise TypeError(
            f"{what} must hold real numbers, got {type(data).__qualname__}: {data!r}"[:300]
        )
    try:
        raw = data if isinstance(data, np.ndarray) else np.asarray(data)
    except ValueError as e:
        raise ValueError(f"{what} must have rows of equal length ({e})"[:300]) from None
    if raw.dtype.kind in "biuf":
        return raw.astype(np.float64, copy=False)
    indices: Any = np.ndindex(raw.shape)
    if raw.dtype.kind == "c" and np.any(raw.imag):  # name an entry that is truly complex
        indices = [tuple(int(i) for i in np.argwhere(raw.imag)[0])]
    for index in indices:
        v = raw[index]
        if raw.dtype.kind == "O" and v.__class__ is not Value and isinstance(v, numbers.Real):
            continue
        where = ", ".join(str(i) for i in index)
        raise TypeError(
            f"{what} must hold real numbers: [{where}] is {type(v).__qualname__}: {v!r}"[:300]
        )
    return raw.astype(np.float64)  # an object array of real numbers


def _branching(err: ValueError, op: Any) -> Exception:
    """A rule that ran `if` on an array: name its op and say how to write it."""
    if "truth value" not in str(err):
        return err
    return TracingError(
        f"primitive {op.name!r} branches on its operand with `if`, which cannot run "
        "in the numpy namespace (batched replay); write the rule with m.where "
        "(or m.step, m.sign) so it decides elementwise"
    )


class BatchedStep:
    """One example's loss, traced once, replayed over batches: see `compile_batched`.

    `program` is the optimized Program that is replayed, `plain_program`
    the one traced (before the passes).
    """

    def __init__(
        self,
        per_example: Callable[..., Any],
        params: Sequence[Value],
        example: tuple[Any, Any],
        *,
        dense: bool = True,
    ) -> None:
        np = _numpy()
        if not callable(per_example):
            raise TypeError(
                f"compile_batched needs a callable per_example(x, y), got "
                f"{type(per_example).__qualname__}"
            )
        params = check_params(params, "compile_batched")
        if not isinstance(example, (tuple, list)) or len(example) != 2:
            raise TypeError(
                f"compile_batched needs example as one (x, y) pair, got {example!r}"[:300]
            )
        if not is_grad_enabled():
            raise RuntimeError(
                "compile_batched traces the function by building its graph, which no_grad() "
                "prevents; compile outside no_grad()"
            )
        x0 = self._row(example[0])
        y0 = self._target(example[1])
        self.params = params
        self.n_inputs = len(x0)
        self.target_size = None if not isinstance(y0, list) else len(y0)

        plain, out, aux = _trace(per_example, x0, y0, params)
        self.loss_node = out
        self.aux = aux
        self.plain_program = plain
        program = plain
        for pass_ in PIPELINE if dense else PLAIN:
            program = pass_(program)
        self.program = program
        self._exec = _Executor(program, self.n_inputs, self.target_size)
        self.n_nodes = (
            len(plain.eqns) + len(plain.inputs) + len(plain.params) + len(plain.constants)
        )
        self.dense_layers = sum(  # layers of weights (not a sum's row of ones)
            1
            for e in program.eqns
            if e.prim == DENSE and any(w.__class__ is Var for row in e.attrs["W"] for w in row)
        )
        # A dry run on two copies of the example: a rule that branches with `if` on
        # its operand fails here, at compile time, not in the first training step.
        X2 = np.array([x0, x0], dtype=np.float64)
        Y2 = np.array([y0, y0], dtype=np.float64)
        self.run(X2, Y2)

    # -- checking inputs -------------------------------------------------------

    @staticmethod
    def _row(x: Any) -> list[float]:
        try:
            row = list(x)
        except TypeError:
            raise TypeError(
                f"compile_batched: an example's x must be a sequence of numbers, got "
                f"{type(x).__qualname__}"
            ) from None
        out = []
        for j, v in enumerate(row):
            if v.__class__ is Value or not isinstance(v, numbers.Real):
                raise TypeError(
                    f"compile_batched: x[{j}] must be a real number, got "
                    f"{type(v).__qualname__}: {v!r}"[:300]
                )
            out.append(float(v))
        return out

    def _target(self, y: Any) -> Any:
        if y.__class__ is not Value and isinstance(y, numbers.Real):
            return float(y)
        if isinstance(y, (list, tuple)) or hasattr(y, "__len__"):
            return self._row(y)
        raise TypeError(
            f"compile_batched: an example's target must be a number or a sequence of numbers, "
            f"got {type(y).__qualname__}: {y!r}"[:300]
        )

    def _array(self, data: Any, what: str, ndim: int, width: int | None) -> Any:
        np = _np
        arr = data if data.__class__ is np.ndarray and data.dtype == np.float64 else None
        if arr is None:
            arr = _real_array(data, f"batched step: {what}")
        if arr.ndim != ndim:
            shape = "[B, n] (one row per example)" if ndim == 2 else "[B] (one per example)"
            raise ValueError(
                f"batched step: {what} must have shape {shape}, got an array of shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"batched step: {what} needs at least one example")
        if width is not None and arr.shape[1] != width:
            raise ValueError(
                f"batched step: {what} rows must have {width} numbers (as the traced example), "
                f"got {arr.shape[1]}"
            )
        return arr

    def _param_array(self, data: Any, what: str) -> Any:
        """The params' numbers as a float64 array of len(params), or the error saying why not."""
        arr = _real_array(data, f"batched step: {what}")
        if arr.shape != (len(self.params),):
            raise ValueError(
                f"batched step: {what} must be a float64 array of {len(self.params)} numbers "
                f"(one per param), got shape {arr.shape}"
            )
        return arr

    def _batch(self, X: Any, Y: Any) -> tuple[Any, Any]:
        """X [B, n] and Y ([B] or [B, k]) as float64 arrays of the traced widths."""
        X = self._array(X, "X", 2, self.n_inputs)
        if self.target_size is None:
            Y = self._array(Y, "Y", 1, None)
        else:
            Y = self._array(Y, "Y", 2, self.target_size)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"batched step: X and Y must have one row per example, got {X.shape[0]} and "
                f"{Y.shape[0]}"
            )
        return X, Y

    # -- the replay --------------------------------------------------------------

    def run(
        self, X: Any, Y: Any, *, backward: bool = True, param_data: Any = None
    ) -> tuple[float, list[float], Any]:
        """Mean loss over the batch, its gradient for each param, and the extra outputs [B, k].

        The gradients are those of the mean loss (the engine's
        `(sum(losses) * (1/B)).backward()`); with `backward=False` they are
        not computed (an empty list). `param_data`, if given, is the params'
        numbers as a float64 array (a caller that has read them already).
        """
        np = _np
        X, Y = self._batch(X, Y)
        if param_data is None:
            pdata = np.array([p._data for p in self.params], dtype=np.float64)
        else:
            pdata = self._param_array(param_data, "param_data")
        mean, grad, aux = self._replay(X, Y, pdata, backward)
        return mean, (grad.tolist() if backward else []), aux

    def run_arrays(self, X: Any, Y: Any, pdata: Any, *, outputs: bool = False) -> tuple:
        """(mean loss, gradient as a float64 array of len(params)): params as one flat array.

        The training loop's call: X [B, n] and Y float64 arrays of the traced
        widths, `pdata` the params' numbers in order. No per-parameter Python
        work: the params are read as one array and the gradient is a new one
        each call (the caller may keep it). With `outputs=True` the extra
        outputs [B, k] come third, as in `run`.
        """
        np = _np
        if not (
            X.__class__ is np.ndarray
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[1] == self.n_inputs
            and Y.__class__ is np.ndarray
            and Y.dtype == np.float64
            and Y.shape[:1] == X.shape[:1]
            and X.shape[0] > 0
        ):
            X, Y = self._batch(X, Y)
        if not (
            pdata.__class__ is np.ndarray
            and pdata.dtype == np.float64
            and pdata.shape == (len(self.params),)
        ):
            pdata = self._param_array(pdata, "pdata")
        mean, grad, aux = self._replay(X, Y, pdata, True, aux=outputs)
        return (mean, grad, aux) if outputs else (mean, grad)

    def _replay(
        self, X: Any, Y: Any, pdata: Any, backward: bool, aux: bool = True
    ) -> tuple[float, Any, Any]:
        np = _np
        ex = self._exec
        program = ex.program
        B = X.shape[0]
        st = _State()
        st.B = B
        st.X = X
        st.Y = Y
        st.pext = np.concatenate((pdata, ex.const_table)) if ex.const_table.size else pdata
        vals: list[Any] = [None] * ex.n_slots
        st.saved = ex.saved_for_this_thread()
        n = self.n_inputs
        for j in range(n):
            vals[j] = X[:, j]
        if self.target_size is None:
            vals[n] = Y
        else:
            for k in range(self.target_size):
                vals[n + k] = Y[:, k]
        P = len(program.params)
        pext = st.pext
        for s, i in ex.param_reads:  # params read one by one (not by a dense layer)
            vals[s] = pext[i]
        for s, c in ex.const_slots:
            vals[s] = c
        with np.errstate(all="ignore"):
            for f in ex.forward:
                f(vals, st)
            out = program.outputs
            loss = out[0]
            lv = vals[ex.slot[loss]] if loss.__class__ is Var else loss
            per_example = loss.__class__ is Var and loss not in ex.free
            mean = float(np.sum(lv)) * (1.0 / B) if per_example else float(lv)
            extra = None
            if aux and len(out) > 1:
                extra = np.column_stack(
                    [
                        np.broadcast_to(vals[ex.slot[a]] if a.__class__ is Var else a, (B,))
                        for a in out[1:]
                    ]
                )
            if not backward:
                return mean, None, extra
            st.gext = np.zeros(st.pext.size)
            grads: list[Any] = [None] * ex.n_slots
            if loss.__class__ is Var:
                grads[ex.slot[loss]] = (1.0 / B) if per_example else 1.0
                if loss.kind == "param":  # the loss is a param itself
                    st.gext[loss.index] += 1.0
            for b in reversed(ex.backward):
                if b is not None:
                    b(vals, grads, st)
            # params read as scalars by single equations got their gradients in gext too
        return mean, st.gext[:P], extra

    def __call__(self, X: Any, Y: Any) -> tuple[float, list[float]]:
        """(mean loss, gradient of the mean loss for each param), params untouched."""
        mean, grads, _ = self.run(X, Y)
        return mean, grads

    def accumulate(self, X: Any, Y: Any) -> float:
        """What `mean_loss.backward()` does: add each gradient into its param's `.grad`."""
        mean, grads, _ = self.run(X, Y)
        for p, g in zip(self.params, grads):
            p.grad += g
        return mean

    def __repr__(self) -> str:
        return (
            f"<BatchedStep: {self.n_nodes} nodes, {len(self.params)} params, "
            f"{self.dense_layers} dense layer(s)>"
        )


def compile_batched(
    per_example: Callable[..., Any],
    params: Sequence[Value],
    example: tuple[Any, Any],
) -> BatchedStep:
    """Trace `per_example(x, y)` on ONE example, to replay it over whole batches with NumPy.

    `per_example` builds one example's loss from `x`, a list of Values (the
    features), and `y`, the target: a Value, or a list of Values when the
    target is a sequence (a one-hot row, several outputs). It may return
    `(loss, [Values])` to get those extra outputs per example from
    `step.run`. `params` are the leaf Values it uses whose gradients are
    wanted; `example` one `(x, y)` pair to trace with.

    `step(X, Y) -> (mean_loss, grads)` and `step.accumulate(X, Y)` (adds into
    `.grad`), for X of shape [B, len(x)] and Y of shape [B] (or [B, len(y)]).
    A comparison of Values in `per_example` (`if v > 0`, `max(values)`) is a
    `TracingError`: other examples could take the other branch.
    """
    return BatchedStep(per_example, params, example)
