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

import heapq
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from autograd_core import ops
from autograd_core.engine import OPS, Value, is_grad_enabled, walk
from autograd_core.trace import Tracer, TracingError, describe_node

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
    tracer.refuse_comparisons(retrace_hint=False)  # batched replay has no retrace
    tracer.warn_data_reads(
        "the replay of every example (it was read from the example used to trace)", stacklevel=4
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


def _needing_grad(order: list, param_index: dict) -> set:
    """The params and the nodes that lead to one: only they need gradients."""
    needs = set(param_index)
    for node in order:
        if node._op is not None and any(o.__class__ is Value and o in needs for o in node.operands):
            needs.add(node)
    return needs


class _Layers:
    """Finds the dense layers over one group, and the elementwise maps over a layer."""

    def __init__(self, xs: list, param_index: dict, position: dict) -> None:
        self.param_index = param_index
        self.position = position
        self.inputs = _Group(0, -1, None, None, -1)  # group 0: the inputs, columns of X
        self.inputs.members = list(xs)
        self.member: dict[Value, tuple[_Group, int]] = {
            v: (self.inputs, j) for j, v in enumerate(xs)
        }
        self.buckets: dict[tuple, _Group] = {}
        self.groups: list[_Group] = []

    def weight(self, w: Any) -> Any:
        """A weight or bias as a param index, a float, or None (a Value that is no param)."""
        if w.__class__ is Value:
            return self.param_index.get(w)
        return float(w)

    def add_dense(self, node: Value) -> None:
        """A `linear` node of params over columns of one group joins that group's layer."""
        operands = node.operands
        n = len(operands) // 2
        ws, xin, b = operands[:n], operands[n : 2 * n], operands[-1]
        wk = [self.weight(w) for w in ws]
        bk = self.weight(b)
        if n == 0 or None in wk or bk is None:
            return
        member = self.member
        if any(x.__class__ is not Value or x not in member for x in xin):
            return
        if len({member[x][0].gid for x in xin}) != 1:
            return
        source = member[xin[0]][0]
        cols = tuple(member[x][1] for x in xin)
        g = self._join(node, (_DENSE, source.gid, cols), source)
        g.cols = list(cols)
        g.ws.append(wk)
        g.bs.append(bk)

    def add_map(self, node: Value) -> None:
        """A one-operand node over a layer's column joins the map of its op over that layer."""
        x = node.operands[0]
        if x.__class__ is not Value or x not in self.member:
            return
        source, col = self.member[x]
        if source is self.inputs:
            return
        g = self._join(node, (_MAP, source.gid, node._op), source)
        g.cols.append(col)

    def _join(self, node: Value, key: tuple, source: _Group) -> _Group:
        """The group of `key` (new at this node's position if none), with `node` added."""
        g = self.buckets.get(key)
        if g is None:
            g = _Group(len(self.groups) + 1, key[0], node._op, source, self.position[node])
            self.buckets[key] = g
            self.groups.append(g)
        self.member[node] = (g, len(g.members))
        g.members.append(node)
        return g


def _find_layers(order: list, xs: list, param_index: dict, position: dict) -> list[_Group]:
    """The graph's dense layers and maps over them, in order, numbered from 1."""
    layers = _Layers(xs, param_index, position)
    linear = OPS["linear"]
    for node in order:
        op = node._op
        if op is linear:
            layers.add_dense(node)
        elif op is not None and op.arity == 1:
            layers.add_map(node)
    return layers.groups


def _units(order: list, groups: list[_Group]) -> tuple[list[Any], dict[Value, Any]]:
    """The groups, then every op node outside them; and each node's unit."""
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
    return units, unit_of


def _schedule(order: list, groups: list[_Group], position: dict) -> list[Any] | None:
    """Units in an order where each follows what it reads (Kahn, by first position); None if
    there is a cycle."""
    units, unit_of = _units(order, groups)

    def reads(u: Any) -> set:
        if isinstance(u, _Group):
            nodes = [o for m_ in u.members for o in m_.operands]
        else:
            nodes = list(u.operands)
        return {unit_of[o] for o in nodes if o.__class__ is Value and o in unit_of} - {u}

    def first(u: Any) -> int:
        return u.pos if isinstance(u, _Group) else position[u]

    users: dict[int, list] = {id(u): [] for u in units}
    waiting = {}
    for u in units:
        deps = reads(u)
        waiting[id(u)] = len(deps)
        for d in deps:
            users[id(d)].append(u)
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
    return schedule if len(schedule) == len(units) else None


# The steps: one tuple per unit, read by position in the replay loops.
#   single: (_SINGLE, slot, rule, operand slots (None: a number), numbers, [(k, slot) of
#           operands that need gradients], op)
#   dense:  (_DENSE, gid, source gid, columns, widx, wconst, wmask, bidx, bconst, bmask,
#           member slots, whether the source needs gradients)
#   map:    (_MAP, gid, source gid, columns, rule, member slots, op)


def _compile_unit(u: Any, slot: dict, needs: set) -> tuple:
    """The tuple the replay loops read for one unit."""
    if not isinstance(u, _Group):
        operands = u.operands
        return (
            _SINGLE,
            slot[u],
            u._op.rule,
            [slot[o] if o.__class__ is Value else None for o in operands],
            [o for o in operands if o.__class__ is not Value],
            [(k, slot[o]) for k, o in enumerate(operands) if o.__class__ is Value and o in needs],
            u._op,
        )
    member_slots = [slot[m_] for m_ in u.members]
    if u.kind == _MAP:
        return (_MAP, u.gid, u.source.gid, _columns(u), u.op.rule, member_slots, u.op)
    source_needs = u.source.gid != 0 and any(m_ in needs for m_ in u.source.members)
    widx, wconst, wmask = _param_table(u.ws)
    (bidx,), (bconst,), (bmask,) = _param_table([u.bs])
    return (
        _DENSE,
        u.gid,
        u.source.gid,
        _columns(u),
        widx,
        wconst,
        wmask,
        bidx,
        bconst,
        bmask,
        member_slots,
        source_needs,
    )


def _columns(u: _Group) -> Any:
    """The source columns a group reads, as an index array; None when it reads them all."""
    if u.cols == list(range(len(u.source.members))):
        return None
    return _np.array(u.cols, _np.intp)


def _param_table(rows: list[list[Any]]) -> tuple[Any, Any, Any]:
    """(index, constant, mask) arrays: where mask is set the entry is pdata[index], else
    the constant."""
    np = _np
    shape = (len(rows), len(rows[0]))
    idx = np.zeros(shape, dtype=np.intp)
    const = np.zeros(shape)
    mask = np.zeros(shape, dtype=bool)
    for r, row in enumerate(rows):
        for c, w in enumerate(row):
            if isinstance(w, float):
                const[r, c] = w
            else:
                idx[r, c] = w
                mask[r, c] = True
    return idx, const, mask


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
        """Turn the traced graph into `self.steps`, the tuples the replay loop reads."""
        targets = [out, *(a for a in self.aux if a.__class__ is Value)]
        order = walk(targets)
        position = {node: k for k, node in enumerate(order)}
        param_index = {p: i for i, p in enumerate(self.params)}
        target_list = ys if isinstance(ys, list) else [ys]
        slot = self._assign_slots(order, xs, target_list)
        self._sort_leaves(order, slot, param_index, {*xs, *target_list}, created)
        needs = _needing_grad(order, param_index)
        self.needs_grad = needs
        groups = _find_layers(order, xs, param_index, position) if dense else []
        schedule = _schedule(order, groups, position)
        if schedule is None:  # cannot happen for layers; never replay wrongly
            if dense:
                return self._plan(xs, ys, out, created, False)
            raise AssertionError("batched replay: the graph has a cycle")
        self.steps = [_compile_unit(u, slot, needs) for u in schedule]
        self._record_layout(groups, slot, len(xs), out, len(order))

    def _assign_slots(self, order: list, xs: list, target_list: list) -> dict[Value, int]:
        """Every node's value lives in vals[slot]: the graph's nodes, then unread inputs."""
        slot: dict[Value, int] = {}
        for node in (*order, *xs, *target_list):
            if node not in slot:
                slot[node] = len(slot)
        self.n_slots = len(slot)
        self.input_slots = [slot[v] for v in xs]
        self.target_slots = [slot[v] for v in target_list]
        return slot

    def _sort_leaves(
        self, order: list, slot: dict, param_index: dict, data: set, created: set
    ) -> None:
        """Params are read each step, constants frozen; any other leaf is refused."""
        self.param_slots: list[tuple[int, int]] = []
        constants: list[tuple[int, float]] = []
        for node in order:
            if node._op is not None:
                continue
            if node in param_index:
                self.param_slots.append((slot[node], param_index[node]))
            elif node in data:
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

    def _record_layout(
        self, groups: list[_Group], slot: dict, n_inputs: int, out: Value, n_nodes: int
    ) -> None:
        """Where each group member lives (slot -> (gid, column)), group sizes, output slots."""
        self.member_of = {slot[m_]: (g.gid, c) for g in groups for c, m_ in enumerate(g.members)}
        self.group_sizes = {g.gid: len(g.members) for g in groups}
        self.group_sizes[0] = n_inputs
        self.loss_slot = slot[out]
        self.aux_refs = [slot[a] if a.__class__ is Value else float(a) for a in self.aux]
        self.n_groups = len(groups)
        self.n_nodes = n_nodes
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
        X, Y = self._batch(X, Y)
        B = X.shape[0]
        if param_data is None:
            pdata = np.array([p._data for p in self.params], dtype=np.float64)
        else:
            pdata = param_data
        vals, mats = self._load(X, Y, pdata)
        with np.errstate(all="ignore"):
            locals_, weights = self._forward(vals, mats, pdata)
            mean, aux = self._outputs(B, vals)
            if not backward:
                return mean, [], aux
            return mean, self._backward(B, locals_, weights), aux

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

    def _load(self, X: Any, Y: Any, pdata: Any) -> tuple[list[Any], list[Any]]:
        """Slots and group matrices before the first step: inputs, targets, params, constants."""
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
        return vals, mats

    def _forward(self, vals: list, mats: list, pdata: Any) -> tuple[list[Any], list[Any]]:
        """Run the steps in order; keep what backward needs (locals; W and A of dense layers)."""
        steps = self.steps
        locals_: list[Any] = [None] * len(steps)
        weights: list[Any] = [None] * len(steps)
        try:
            for k, st in enumerate(steps):
                kind = st[0]
                if kind == _SINGLE:
                    _, s, rule, refs, consts, _, _ = st
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
                    weights[k] = _dense_forward(st, vals, mats, pdata)
                else:
                    locals_[k] = _map_forward(st, vals, mats)
        except ValueError as e:
            if "truth value" not in str(e):
                raise
            raise _branching_error(st) from None
        return locals_, weights

    def _outputs(self, B: int, vals: list) -> tuple[float, Any]:
        """The mean loss and the extra outputs as a [B, k] array (None when there are none)."""
        np = _np
        loss = np.broadcast_to(vals[self.loss_slot], (B,))
        mean = float(np.sum(loss)) * (1.0 / B)
        aux = None
        if self.aux_refs:
            aux = np.column_stack(
                [np.broadcast_to(vals[r] if isinstance(r, int) else r, (B,)) for r in self.aux_refs]
            )
        return mean, aux

    def _backward(self, B: int, locals_: list, weights: list) -> list[float]:
        """Each param's gradient of the mean loss: the steps in reverse, local * upstream."""
        np = _np
        grads: list[Any] = [None] * self.n_slots  # upstream of the nodes outside groups
        ups: list[Any] = [None] * (self.n_groups + 1)  # upstream of each group, [B, n]
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
                up = grads[st[1]]
                if up is None:
                    continue
                result = locals_[k]
                for i, o in st[5]:
                    add(o, result[i + 1] * up)
            elif ups[st[1]] is None:
                continue
            elif kind == _DENSE:
                _dense_backward(st, ups, sizes, weights[k], ptotal, B)
            else:
                _add_to_group(ups, sizes, B, st[2], st[3], locals_[k] * ups[st[1]])
        for s, i in self.param_slots:
            g = grads[s]
            if g is not None:
                ptotal[i] += float(np.sum(g)) if np.ndim(g) else float(g) * B
        return ptotal.tolist()

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

    def run_arrays(self, X: Any, Y: Any, pdata: Any, *, outputs: bool = False) -> tuple:
        """(mean loss, gradient as a new float64 array), the params' numbers read from `pdata`.

        With `outputs=True`, also the extra outputs [B, k] (as `run`'s third item).
        The caller (nn's batched trainer) keeps the gradient array until its next step.
        (A minimal version over `run`, for nn's batched trainer.)
        """
        mean, grads, aux = self.run(X, Y, param_data=pdata)
        grad = _np.asarray(grads, dtype=_np.float64)
        return (mean, grad, aux) if outputs else (mean, grad)


# ---------------------------------------------------------------------------
# The replay of one group: a dense layer is a matrix product, a map one rule
# call on the whole [B, n] matrix.


def _dense_forward(st: tuple, vals: list, mats: list, pdata: Any) -> tuple[Any, Any]:
    """Z = A @ W.T + b over the source's columns; returns (W, A) for backward."""
    np = _np
    _, gid, src, cols, widx, wconst, wmask, bidx, bconst, bmask, member_slots, _ = st
    # (with no parameter at all, every weight and bias is a constant: nothing to index)
    W = np.where(wmask, pdata[widx], wconst) if pdata.size else wconst
    b = np.where(bmask, pdata[bidx], bconst) if pdata.size else bconst
    A = mats[src] if cols is None else mats[src][:, cols]
    if A.ndim == 1:
        A = A[:, None]
    Z = A @ W.T + b
    mats[gid] = Z
    for c, s in enumerate(member_slots):
        vals[s] = Z[:, c]
    return W, A


def _map_forward(st: tuple, vals: list, mats: list) -> Any:
    """The op's rule on the whole source matrix; returns its local derivative."""
    np = _np
    _, gid, src, cols, rule, member_slots, _ = st
    A = mats[src] if cols is None else mats[src][:, cols]
    out, local = rule(NUMPY, A)
    out = np.broadcast_to(out, A.shape) if np.ndim(out) < 2 else out
    mats[gid] = out
    for c, s in enumerate(member_slots):
        vals[s] = out[:, c]
    return local


def _branching_error(st: tuple) -> TracingError:
    """A rule that ran `if` on an array: name its op and say how to write it."""
    op = st[-1] if st[0] != _DENSE else None
    name = getattr(op, "name", "?")
    return TracingError(
        f"primitive {name!r} branches on its operand with `if`, which cannot run "
        "in the numpy namespace (batched replay); write the rule with m.where "
        "(or m.step, m.sign) so it decides elementwise"
    )


def _dense_backward(st: tuple, ups: list, sizes: dict, WA: tuple, ptotal: Any, B: int) -> None:
    """Add the layer's weight and bias gradients to ptotal; pass U @ W to its source."""
    np = _np
    U = ups[st[1]]
    W, A = WA
    widx, wmask, bidx, bmask = st[4], st[6], st[7], st[9]
    dW = U.T @ A
    np.add.at(ptotal, widx[wmask], dW[wmask])
    db = U.sum(axis=0)
    np.add.at(ptotal, bidx[bmask], db[bmask])
    if st[11]:
        _add_to_group(ups, sizes, B, st[2], st[3], U @ W)


def _add_to_group(ups: list, sizes: dict, B: int, src: int, cols: Any, dA: Any) -> None:
    """ups[src][:, cols] += dA (all columns when cols is None), made at the first use."""
    S = ups[src]
    if S is None:
        S = ups[src] = _np.zeros((B, sizes[src]))
    if cols is None:
        S += dA
    else:
        _np.add.at(S, (slice(None), cols), dA)


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
