"""Trace ONE example's loss, then replay it over a whole batch with NumPy arrays.

Models here are written one scalar at a time. `compile_batched` runs the
per-example function once with the engine (tracing), refuses a graph whose
shape depends on the data (a comparison of Values), and replays the recorded
graph on arrays: every per-example node holds an array of shape [B], every
parameter a float broadcast over the batch. The forward pass calls each
node's own rule, `op.rule(NUMPY, *operands)`, in the NumPy namespace below,
so no derivative is written twice; backward runs the nodes in reverse with
`contribution = local * upstream`, summing over the batch at the parameters.

Dense layers (neurons' `linear` pre-activations over the same inputs) and
the same elementwise op applied to every column of such a layer become one
matrix operation each. NumPy is imported here only, so `import autograd_core`
stays pure Python.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core import ops
from autograd_core.engine import OPS, Value, is_grad_enabled, walk
from autograd_core.trace import Tracer, TracingError, TracingWarning, describe_node

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
# Tracing one example.


def _trace(per_example: Callable, x: list[float], y: Any) -> tuple:
    """Run `per_example` once on Values; return the inputs, target, outputs and new leaves."""
    with Tracer() as tracer:
        xs = [Value(v, f"x[{j}]") for j, v in enumerate(x)]
        if isinstance(y, list):
            ys: Any = [Value(v, f"y[{k}]") for k, v in enumerate(y)]
        else:
            ys = Value(y, "y")
        out = per_example(xs, ys)
    tracer.allow_retrace_hint = False  # batched replay has no retrace
    tracer.refuse_comparisons()
    if tracer.data_reads:
        reads = tracer.data_reads
        more = f" (and {len(reads) - 1} more)" if len(reads) > 1 else ""
        warnings.warn(
            TracingWarning(
                f"the per-example function read .data at {reads[0]}{more}: the number read "
                "(from the example used to trace) is frozen into the replay of every example."
            ),
            stacklevel=4,
        )
    return xs, ys, out, tracer.created


# ---------------------------------------------------------------------------
# The replay plan: units (single nodes, dense layers, elementwise maps over a
# layer) in an order where every unit comes after what it reads.

_SINGLE, _DENSE, _MAP = 0, 1, 2


class _Group:
    """Nodes whose values live as the columns of one [B, n] matrix."""

    __slots__ = ("gid", "members", "kind", "op", "source", "cols", "ws", "bs", "pos")

    def __init__(self, gid: int, kind: int, op: Any, source: Any, pos: int) -> None:
        self.gid = gid
        self.kind = kind
        self.op = op
        self.source = source  # the group read (dense: the inputs x; map: the operand)
        self.members: list[Value] = []
        self.cols: list[int] = []  # column of each member's operand(s) in source
        self.ws: list[list[Any]] = []  # dense: per member, each weight (param index or float)
        self.bs: list[Any] = []  # dense: per member, the bias (param index or float)
        self.pos = pos


class BatchedStep:
    """One example's loss, traced once, replayed over batches: see `compile_batched`."""

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
        params = list(params)
        for i, p in enumerate(params):
            if p.__class__ is not Value:
                raise TypeError(
                    f"compile_batched: params[{i}] must be a Value, got "
                    f"{type(p).__qualname__}: {p!r}"[:300]
                )
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

        xs, ys, out, created = _trace(per_example, x0, y0)
        aux: list[Any] = []
        if isinstance(out, tuple) and len(out) == 2 and out[0].__class__ is Value:
            out, aux = out[0], list(out[1])
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
        self.loss_node = out
        self.aux = aux
        self._plan(xs, ys, out, created, dense)
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
        if isinstance(y, numbers.Real) and y.__class__ is not Value:
            return float(y)
        if isinstance(y, (list, tuple)) or hasattr(y, "__len__"):
            return self._row(y)
        raise TypeError(
            f"compile_batched: an example's target must be a number or a sequence of numbers, "
            f"got {type(y).__qualname__}: {y!r}"[:300]
        )

    def _array(self, data: Any, what: str, ndim: int, width: int | None) -> Any:
        np = _np
        if isinstance(data, np.ndarray) and data.dtype == np.float64:
            arr = data
        else:
            try:
                arr = np.asarray(data, dtype=np.float64)
            except ValueError as e:
                if "inhomogeneous" in str(e) or "sequence" in str(e):
                    raise ValueError(
                        f"batched step: {what} must have rows of equal length ({e})"[:300]
                    ) from None
                msg = f"batched step: {what} must hold real numbers ({e})"[:300]
                raise TypeError(msg) from None
            except TypeError as e:
                msg = f"batched step: {what} must hold real numbers ({e})"[:300]
                raise TypeError(msg) from None
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

    # -- the plan ----------------------------------------------------------------

    def _plan(self, xs: list, ys: Any, out: Value, created: set, dense: bool) -> None:
        np = _np
        targets = [out, *(a for a in self.aux if a.__class__ is Value)]
        order = walk(targets)
        position = {node: k for k, node in enumerate(order)}
        param_index = {p: i for i, p in enumerate(self.params)}
        input_set = set(xs)
        target_list = ys if isinstance(ys, list) else [ys]
        target_set = set(target_list)

        # Slots: every node's value lives in vals[slot].
        slot: dict[Value, int] = {}
        for node in order:
            slot[node] = len(slot)
        for node in (*xs, *target_list):
            if node not in slot:
                slot[node] = len(slot)
        self.n_slots = len(slot)
        self.input_slots = [slot[v] for v in xs]
        self.target_slots = [slot[v] for v in target_list]
        self.param_slots: list[tuple[int, int]] = []
        constants: list[tuple[int, float]] = []
        for node in order:
            if node._op is not None:
                continue
            if node in param_index:
                self.param_slots.append((slot[node], param_index[node]))
            elif node in input_set or node in target_set:
                pass
            elif node in created:
                constants.append((slot[node], node._data))
            else:
                raise TracingError(
                    f"the per-example function uses {describe_node(node)}, a leaf Value it did not "
                    "create and that is not in params (a captured Value, or a result computed "
                    "under no_grad()). Pass it in params, or .detach() it inside the function "
                    "to freeze its number on purpose."
                )
        self.constants = constants

        # Which nodes lead to a parameter (only they need gradients).
        needs = set(param_index)
        for node in order:
            if node._op is not None and any(
                o.__class__ is Value and o in needs for o in node.operands
            ):
                needs.add(node)
        self.needs_grad = needs

        # Groups: the inputs, then dense layers and maps over them, found in order.
        linear = OPS["linear"]
        member: dict[Value, tuple[_Group, int]] = {}
        groups: list[_Group] = []
        inputs = _Group(0, -1, None, None, -1)
        inputs.members = list(xs)
        for j, v in enumerate(xs):
            member[v] = (inputs, j)
        buckets: dict[tuple, _Group] = {}

        def weight(w: Any) -> Any:
            if w.__class__ is Value:
                return param_index.get(w)
            return float(w)

        for node in order if dense else ():
            op = node._op
            if op is None:
                continue
            operands = node.operands
            if op is linear:
                n = len(operands) // 2
                ws, xin, b = operands[:n], operands[n : 2 * n], operands[-1]
                wk = [weight(w) for w in ws]
                bk = weight(b)
                if n == 0 or None in wk or bk is None:
                    continue
                if any(x.__class__ is not Value or x not in member for x in xin):
                    continue
                sources = {member[x][0].gid for x in xin}
                if len(sources) != 1:
                    continue
                source = member[xin[0]][0]
                cols = tuple(member[x][1] for x in xin)
                key = (_DENSE, source.gid, cols)
                g = buckets.get(key)
                if g is None:
                    g = buckets[key] = _Group(len(groups) + 1, _DENSE, op, source, position[node])
                    g.cols = list(cols)
                    groups.append(g)
                member[node] = (g, len(g.members))
                g.members.append(node)
                g.ws.append(wk)
                g.bs.append(bk)
            elif op.arity == 1:
                x = operands[0]
                if x.__class__ is not Value or x not in member:
                    continue
                source, col = member[x]
                if source is inputs:
                    continue
                key = (_MAP, source.gid, op)
                g = buckets.get(key)
                if g is None:
                    g = buckets[key] = _Group(len(groups) + 1, _MAP, op, source, position[node])
                    groups.append(g)
                member[node] = (g, len(g.members))
                g.members.append(node)
                g.cols.append(col)

        # Units in an order where each follows what it reads (Kahn, by first position).
        import heapq

        unit_of: dict[Value, Any] = {}
        units: list[Any] = []
        for g in groups:
            units.append(g)
            for m_ in g.members:
                unit_of[m_] = g
        for node in order:
            if node._op is not None and node not in unit_of:
                units.append(node)
                unit_of[node] = node

        def reads(u: Any) -> set:
            if isinstance(u, _Group):
                nodes = [o for m_ in u.members for o in m_.operands]
            else:
                nodes = list(u.operands)
            return {unit_of[o] for o in nodes if o.__class__ is Value and o in unit_of} - {u}

        deps = {id(u): reads(u) for u in units}
        users: dict[int, list] = {id(u): [] for u in units}
        waiting = {}
        for u in units:
            waiting[id(u)] = len(deps[id(u)])
            for d in deps[id(u)]:
                users[id(d)].append(u)

        def first(u: Any) -> int:
            return u.pos if isinstance(u, _Group) else position[u]

        heap = [(first(u), i, u) for i, u in enumerate(units) if waiting[id(u)] == 0]
        heapq.heapify(heap)
        index = {id(u): i for i, u in enumerate(units)}
        schedule = []
        while heap:
            _, _, u = heapq.heappop(heap)
            schedule.append(u)
            for v in users[id(u)]:
                waiting[id(v)] -= 1
                if waiting[id(v)] == 0:
                    heapq.heappush(heap, (first(v), index[id(v)], v))
        if len(schedule) != len(units):  # cannot happen for layers; never replay wrongly
            if dense:
                return self._plan(xs, ys, out, created, False)
            raise AssertionError("batched replay: the graph has a cycle")

        # Compile the units into tuples the replay loop reads.
        def ref(o: Any) -> Any:
            return slot[o] if o.__class__ is Value else None

        steps: list[tuple] = []
        for u in schedule:
            if isinstance(u, _Group):
                member_slots = [slot[m_] for m_ in u.members]
                if u.kind == _DENSE:
                    n_out, n_in = len(u.members), len(u.cols)
                    widx = np.zeros((n_out, n_in), dtype=np.intp)
                    wconst = np.zeros((n_out, n_in))
                    wmask = np.zeros((n_out, n_in), dtype=bool)
                    for r, row in enumerate(u.ws):
                        for c, w in enumerate(row):
                            if isinstance(w, float):
                                wconst[r, c] = w
                            else:
                                widx[r, c] = w
                                wmask[r, c] = True
                    bidx = np.array([b if isinstance(b, int) else 0 for b in u.bs], np.intp)
                    bconst = np.array([b if isinstance(b, float) else 0.0 for b in u.bs])
                    bmask = np.array([isinstance(b, int) for b in u.bs])
                    cols = None if u.cols == list(range(len(u.source.members))) else u.cols
                    steps.append(
                        (
                            _DENSE,
                            u.gid,
                            u.source.gid,
                            np.array(cols, np.intp) if cols is not None else None,
                            widx,
                            wconst,
                            wmask,
                            bidx,
                            bconst,
                            bmask,
                            member_slots,
                            any(m_ in needs for m_ in u.members),
                            u.source.gid != 0 and any(m_ in needs for m_ in u.source.members),
                        )
                    )
                else:
                    cols = None if u.cols == list(range(len(u.source.members))) else u.cols
                    steps.append(
                        (
                            _MAP,
                            u.gid,
                            u.source.gid,
                            np.array(cols, np.intp) if cols is not None else None,
                            u.op.rule,
                            member_slots,
                            any(m_ in needs for m_ in u.members),
                            u.op,
                        )
                    )
            else:
                ops = u.operands
                steps.append(
                    (
                        _SINGLE,
                        slot[u],
                        u._op.rule,
                        [ref(o) for o in ops],
                        [o for o in ops if o.__class__ is not Value],
                        [
                            (k, slot[o])
                            for k, o in enumerate(ops)
                            if o.__class__ is Value and o in needs
                        ],
                        u in needs,
                        u._op,
                    )
                )
        self.steps = steps
        # where each group member's value and gradient live: slot -> (gid, column)
        self.member_of = {slot[m_]: (g.gid, c) for g in groups for c, m_ in enumerate(g.members)}
        self.group_sizes = {g.gid: len(g.members) for g in groups}
        self.group_sizes[0] = len(xs)
        self.loss_slot = slot[out]
        self.aux_refs = [slot[a] if a.__class__ is Value else float(a) for a in self.aux]
        self.n_groups = len(groups)
        self.n_nodes = len(order)
        self.dense_layers = sum(1 for g in groups if g.kind == _DENSE)

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
        X = self._array(X, "X", 2, self.n_inputs)
        B = X.shape[0]
        if self.target_size is None:
            Y = self._array(Y, "Y", 1, None)
        else:
            Y = self._array(Y, "Y", 2, self.target_size)
        if Y.shape[0] != B:
            raise ValueError(
                f"batched step: X and Y must have one row per example, got {B} and {Y.shape[0]}"
            )
        params = self.params
        if param_data is None:
            pdata = np.array([p._data for p in params], dtype=np.float64)
        else:
            pdata = param_data
        vals: list[Any] = [None] * self.n_slots
        mats: list[Any] = [None] * (self.n_groups + 1)
        mats[0] = X
        for j, s in enumerate(self.input_slots):
            vals[s] = X[:, j]
        if self.target_size is None:
            vals[self.target_slots[0]] = Y
        else:
            for k, s in enumerate(self.target_slots):
                vals[s] = Y[:, k]
        for s, i in self.param_slots:
            vals[s] = float(pdata[i])
        for s, c in self.constants:
            vals[s] = c
        locals_: list[Any] = [None] * len(self.steps)
        weights: list[Any] = [None] * len(self.steps)
        with np.errstate(all="ignore"):
            for k, st in enumerate(self.steps):
                kind = st[0]
                try:
                    if kind == _SINGLE:
                        _, s, rule, refs, consts, _, _, _ = st
                        ci = 0
                        args = []
                        for r in refs:
                            if r is None:
                                args.append(consts[ci])
                                ci += 1
                            else:
                                args.append(vals[r])
                        result = rule(NUMPY, *args)
                        vals[s] = result[0]
                        locals_[k] = result
                    elif kind == _DENSE:
                        _, gid, src, cols, widx, wconst, wmask, bidx, bconst, bmask = st[:10]
                        W = np.where(wmask, pdata[widx], wconst)
                        b = np.where(bmask, pdata[bidx], bconst)
                        A = mats[src] if cols is None else mats[src][:, cols]
                        if A.ndim == 1:
                            A = A[:, None]
                        Z = A @ W.T + b
                        mats[gid] = Z
                        weights[k] = (W, A)
                        for c, s in enumerate(st[10]):
                            vals[s] = Z[:, c]
                    else:
                        _, gid, src, cols, rule, member_slots = st[:6]
                        A = mats[src] if cols is None else mats[src][:, cols]
                        out, local = rule(NUMPY, A)
                        out = np.broadcast_to(out, A.shape) if np.ndim(out) < 2 else out
                        mats[gid] = out
                        locals_[k] = local
                        for c, s in enumerate(member_slots):
                            vals[s] = out[:, c]
                except ValueError as e:
                    if "truth value" not in str(e):
                        raise
                    op = st[-1] if kind != _DENSE else None
                    name = getattr(op, "name", "?")
                    raise TracingError(
                        f"primitive {name!r} branches on its operand with `if`, which cannot run "
                        "in the numpy namespace (batched replay); write the rule with m.where "
                        "(or m.step, m.sign) so it decides elementwise"
                    ) from None

            loss = np.broadcast_to(vals[self.loss_slot], (B,))
            mean = float(np.sum(loss)) * (1.0 / B)
            aux = None
            if self.aux_refs:
                aux = np.column_stack(
                    [
                        np.broadcast_to(vals[r] if isinstance(r, int) else r, (B,))
                        for r in self.aux_refs
                    ]
                )
            if not backward:
                return mean, [], aux
            return mean, self._backward(B, vals, mats, locals_, weights, pdata), aux

    def _backward(
        self, B: int, vals: list, mats: list, locals_: list, weights: list, pdata: Any
    ) -> list[float]:
        np = _np
        grads: list[Any] = [None] * self.n_slots
        ups: list[Any] = [None] * (self.n_groups + 1)
        member_of = self.member_of
        sizes = self.group_sizes

        def add(s: int, c: Any) -> None:
            where = member_of.get(s)
            if where is None:
                g = grads[s]
                grads[s] = c if g is None else g + c
            else:
                gid, col = where
                U = ups[gid]
                if U is None:
                    U = ups[gid] = np.zeros((B, sizes[gid]))
                U[:, col] += c

        ptotal = np.zeros(len(self.params))
        add(self.loss_slot, 1.0 / B)
        steps = self.steps
        for k in range(len(steps) - 1, -1, -1):
            st = steps[k]
            kind = st[0]
            if kind == _SINGLE:
                s = st[1]
                up = grads[s]
                if up is None:
                    continue
                result = locals_[k]
                for i, o in st[5]:
                    add(o, result[i + 1] * up)
            elif kind == _DENSE:
                U = ups[st[1]]
                if U is None:
                    continue
                W, A = weights[k]
                widx, wmask, bidx, bmask = st[4], st[6], st[7], st[9]
                dW = U.T @ A
                np.add.at(ptotal, widx[wmask], dW[wmask])
                db = U.sum(axis=0)
                np.add.at(ptotal, bidx[bmask], db[bmask])
                if st[12]:
                    dA = U @ W
                    src, cols = st[2], st[3]
                    S = ups[src]
                    if S is None:
                        S = ups[src] = np.zeros((B, sizes[src]))
                    if cols is None:
                        S += dA
                    else:
                        np.add.at(S, (slice(None), cols), dA)
            else:
                U = ups[st[1]]
                if U is None:
                    continue
                src, cols = st[2], st[3]
                S = ups[src]
                if S is None:
                    S = ups[src] = np.zeros((B, sizes[src]))
                dA = locals_[k] * U
                if cols is None:
                    S += dA
                else:
                    np.add.at(S, (slice(None), cols), dA)
        out = []
        for s, i in self.param_slots:
            g = grads[s]
            if g is not None:
                ptotal[i] += float(np.sum(g)) if np.ndim(g) else float(g) * B
        out = ptotal.tolist()
        return out

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
