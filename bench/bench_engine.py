"""Engine benchmark: micrograd's demo training step, memory per node, deep graphs.

Runs side by side in one process, with Python's default GC settings, timed in
process CPU time (the machine may be shared):

1. micrograd's demo step (MLP(2, [16, 16, 1]), 100 two-moons points, SVM
   max-margin loss + 1e-4 L2, forward + backward + SGD) on micrograd 0.1.0 and
   on this library, from the same initial weights; checks the losses agree to
   1e-12 and prints ms per step (median of interleaved repetitions) in both
   protocols: heap collected before each step, and consecutive steps as a
   training loop runs; then ours once more with each step inside
   `engine.collector_paused()` (what nn.train can do), ns per node for forward
   and backward, and the ratios. Twice: with our `nn.MLP` (one `linear` node
   per neuron) and with micrograd-style user code run on our Value
   (micrograd's own MLP classes and demo loss, elementary operators only:
   `sum(wi*xi ...)`, `p*p` summed, no `linear`).
2. ns per elementary node, forward and backward, on 100,000 `w*x` and `+`
   nodes, both engines; then the parts of that cost, each timed alone: the
   forward floor (a minimal slotted `__mul__`) against our `x*y`, and our
   backward split into the walk and the propagation loop.
3. Python memory per graph node (tracemalloc) for the demo graph and for
   graphs of elementary operations, against micrograd's.
4. A 1,000,000-node chain and a 200,000-term `sum()` taken backward at the
   default recursion limit.

Run: `python bench/bench_engine.py` (needs `pip install micrograd==0.1.0`, the
`bench` extra). `--quick` runs fewer repetitions.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograd_core import Value, topological_order  # noqa: E402
from nn import MLP, hinge, l2_penalty  # noqa: E402
from nn.data import moons  # noqa: E402

try:
    from autograd_core.engine import collector_paused
except ImportError:  # an engine before issue 20: --callgrind-steps still runs on it
    from contextlib import nullcontext as collector_paused  # type: ignore[assignment]

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:  # pragma: no cover - a benchmark-only dependency
    sys.exit("bench_engine: micrograd 0.1.0 is needed: pip install micrograd==0.1.0")


# Process CPU time: the machine may be shared, and time spent waiting for a
# core is not the engine's.
_clock = time.process_time


# ---------------------------------------------------------------------------
# The demo step, written once for both libraries: they share the Value API.


def demo_step(model, X, y, k: int, value_cls) -> tuple[float, float, float, object]:
    """One step of micrograd's demo; returns (loss, t_forward, t_backward, root).

    Each library's loss is written the way its users write it: micrograd's
    demo notebook for micrograd (`value_cls` given), `nn.losses` for ours.
    Both add the same floats in the same order.
    """
    t0 = _clock()
    if value_cls is not None:
        inputs = [[value_cls(v) for v in row] for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
    else:
        scores = list(map(model, X))
        total = hinge(scores, y) + l2_penalty(model.parameters(), 1e-4)
    t1 = _clock()
    for p in model.parameters():
        p.grad = 0.0
    total.backward()
    lr = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= lr * p.grad
    t2 = _clock()
    return total.data, t1 - t0, t2 - t1, total


def micrograd_nodes(root) -> int:
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(v._prev)
    return len(seen)


def make_models(seed: int):
    random.seed(seed)  # micrograd draws its initial weights from `random`
    theirs = mg_nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1], seed=seed)
    ps, qs = theirs.parameters(), ours.parameters()
    assert len(ps) == len(qs) == 337, (len(ps), len(qs))
    for p, q in zip(ps, qs):
        q.data = p.data
    return theirs, ours


def make_elementary_models(seed: int):
    """micrograd's MLP twice from the same weights: once on its Value, once on ours.

    The second runs micrograd's own Neuron code (`sum((wi*xi ...), b)`) on our
    Values: user code written with elementary operators, no `linear`.
    """
    random.seed(seed)
    theirs = mg_nn.MLP(2, [16, 16, 1])
    random.seed(seed)
    ours = mg_nn.MLP(2, [16, 16, 1])
    for layer in ours.layers:
        for n in layer.neurons:
            n.w = [Value(w.data) for w in n.w]
            n.b = Value(n.b.data)
    return theirs, ours


def bench_demo(reps: int, elementary: bool = False) -> dict:
    X, y = moons(100, noise=0.1, seed=1, signed=True)
    theirs, ours = make_elementary_models(1337) if elementary else make_models(1337)
    ours_cls = Value if elementary else None  # None: our nn's own loss code

    # Same losses, step by step, from the same weights: Value arithmetic is the
    # same IEEE arithmetic in the same order (b + w1 x1 + w2 x2 + ...).
    worst = 0.0
    for k in range(3):
        lt = demo_step(theirs, X, y, k, mg_engine.Value)[0]
        lo = demo_step(ours, X, y, k, ours_cls)[0]
        worst = max(worst, abs(lt - lo))
    if worst > 1e-12:
        sys.exit(f"bench_engine: losses differ by {worst:.3g} (> 1e-12)")

    nodes_theirs = micrograd_nodes(demo_step(theirs, X, y, 3, mg_engine.Value)[3])
    nodes_ours = len(topological_order(demo_step(ours, X, y, 3, ours_cls)[3]))

    # Interleaved repetitions, so drifting machine load hits both alike. Each
    # step starts from a collected heap (untimed): micrograd's graphs are
    # reference cycles, and its garbage from earlier steps would otherwise
    # slow its later steps down; this way it is timed at its best.
    rt, ro = [], []
    for k in range(reps):  # keep the timings, not the graphs
        gc.collect()
        rt.append(demo_step(theirs, X, y, 4 + k, mg_engine.Value)[:3])
        gc.collect()
        ro.append(demo_step(ours, X, y, 4 + k, ours_cls)[:3])

    # As a training loop runs: consecutive steps, garbage left to the collector.
    # (Each block starts from a collected heap, so that neither pays for the
    # other's garbage.)
    gc.collect()
    loop_t = [sum(demo_step(theirs, X, y, k, mg_engine.Value)[1:3]) for k in range(reps)]
    gc.collect()
    loop_o = [sum(demo_step(ours, X, y, k, ours_cls)[1:3]) for k in range(reps)]
    # The same loop with the collector paused around each step, as nn.train
    # can do: our graphs have no cycles (micrograd's do: not run for it).
    gc.collect()
    paused = []
    for k in range(reps):
        with collector_paused():
            paused.append(sum(demo_step(ours, X, y, k, ours_cls)[1:3]))

    def med(rows, i):
        return statistics.median(r[i] for r in rows)

    return {
        "loop": (statistics.median(loop_t), statistics.median(loop_o)),
        "paused": statistics.median(paused),
        "loss_diff": worst,
        "theirs": {"fwd": med(rt, 1), "bwd": med(rt, 2), "nodes": nodes_theirs},
        "ours": {"fwd": med(ro, 1), "bwd": med(ro, 2), "nodes": nodes_ours},
    }


class _MinimalNode:
    """The least a Python `*` can do that builds a slotted node: the forward floor."""

    __slots__ = ("data", "grad", "_a", "_b", "_ga", "_gb")

    def __mul__(self, other: _MinimalNode) -> _MinimalNode:
        node = _NEW(_MinimalNode)
        node.data = self.data * other.data
        node.grad = 0.0
        node._a, node._b, node._ga, node._gb = self, other, other.data, self.data
        return node


_NEW = object.__new__


def bench_floor(reps: int) -> list[tuple[str, float]]:
    """Where the ns per elementary node go, each part timed alone (best of `reps`).

    The forward floor (a minimal slotted `__mul__`) against our `x*y`; the
    backward split into the graph walk (`_walk`) and the loop that adds
    `local * grad` over a ready order (`_propagate`, every gradient non-zero),
    on 100,000 products summed as in `bench_elementary_nodes`.
    """
    from autograd_core.engine import _Mark, _propagate, _walk

    n = 100_000
    a = _MinimalNode()
    a.data, a.grad = 1.5, 0.0
    x, y = Value(1.5), Value(2.0)

    def per_op(f: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(reps):
            t = _clock()
            f()
            best = min(best, _clock() - t)
        return best / n

    def minimal() -> None:
        for _ in range(n):
            a * a

    def ours() -> None:
        for _ in range(n):
            x * y

    def loop() -> None:
        for _ in range(n):
            pass

    empty = per_op(loop)
    ws = [Value(0.5 + i / n) for i in range(n // 2)]
    xs = [Value(1.0 - i / n) for i in range(n // 2)]
    total = Value(0.0)
    for k in range(0, n // 2, 200):
        s = Value(0.0)
        for w, v in zip(ws[k : k + 200], xs[k : k + 200]):
            s = s + w * v
        total = total + s
    walks, props = [], []
    for _ in range(reps):
        visiting, done = _Mark(), _Mark()
        t0 = _clock()
        order = _walk(total, visiting, done, True)
        t1 = _clock()
        total.grad = 1.0
        _propagate(order)
        t2 = _clock()
        visiting.active = done.active = False
        walks.append((t1 - t0) / len(order))
        props.append((t2 - t1) / len(order))
    return [
        ("forward: minimal slotted __mul__", per_op(minimal) - empty),
        ("forward: our x*y", per_op(ours) - empty),
        ("backward: walk (_walk)", min(walks)),
        ("backward: propagate over a ready order", min(props)),
    ]


# ---------------------------------------------------------------------------
# Memory per node.


def elementary_graphs(value_cls, params: list, copies: int = 100) -> list:
    """`copies` forward passes of the demo MLP written with * and + only."""
    roots = []
    for c in range(copies):
        it = iter(params)
        xs = [value_cls(0.5 + c / copies), value_cls(-0.25)]
        for nin, nout, act in ((2, 16, True), (16, 16, True), (16, 1, False)):
            outs = []
            for _ in range(nout):
                w = [next(it) for _ in range(nin)]
                b = next(it)
                s = sum((wi * xi for wi, xi in zip(w, xs)), b)
                outs.append(s.relu() if act else s)
            xs = outs
        roots.append(xs[0])
    return roots


def traced_bytes(build: Callable[[], object]) -> tuple[float, int]:
    """Bytes allocated by `build()` that are still alive, and its node count."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, root


def bench_memory() -> list[tuple[str, float, float | None]]:
    X, y = moons(100, noise=0.1, seed=1, signed=True)
    theirs, ours = make_models(1337)
    rows = []

    def ours_demo():
        return demo_step(ours, X, y, 0, None)[3]

    def theirs_demo():
        return demo_step(theirs, X, y, 0, mg_engine.Value)[3]

    b_o, r_o = traced_bytes(ours_demo)
    n_o = len(topological_order(r_o))
    b_t, r_t = traced_bytes(theirs_demo)
    n_t = micrograd_nodes(r_t)
    rows.append(("demo step graph, whole graph, kB", b_o / 1024, b_t / 1024))
    rows.append(("demo step graph, per node", b_o / n_o, b_t / n_t))
    # Per scalar operation: micrograd's node count is the number of +, *, relu.
    rows.append(("demo step graph, per scalar operation", b_o / n_t, b_t / n_t))
    del r_o, r_t

    # Elementary operations: the same network written as w*x products and sums
    # (no fused `linear` node), so that each node is one scalar operation.
    for value_cls, model, count in (
        (Value, ours, lambda r: len(topological_order(r))),
        (mg_engine.Value, theirs, micrograd_nodes),
    ):
        b, roots = traced_bytes(partial(elementary_graphs, value_cls, model.parameters()))
        # Parameters existed before and are reachable from every root.
        per_node = b / (sum(count(r) for r in roots) - len(roots) * 337)
        rows.append(per_node)
    rows[-2:] = [("elementary ops (MLP without fusion), per node", rows[-2], rows[-1])]

    def chain():
        x = Value(1.0)
        for _ in range(100_000):
            x = x * 1.000001 + 0.5
        return x

    b, r = traced_bytes(chain)
    rows.append(("chain of x*c + c, per node", b / len(topological_order(r)), None))
    return rows


# ---------------------------------------------------------------------------
# Deep and wide graphs at the default recursion limit.


def bench_deep() -> list[tuple[str, float, bool]]:
    limit = sys.getrecursionlimit()
    out = []
    t = time.perf_counter()
    x = Value(0.0)
    c = x
    for _ in range(1_000_000):
        c = c + 1.0
    c.backward()
    out.append(("1,000,000-node chain, build + backward", time.perf_counter() - t, x.grad == 1.0))
    del c
    t = time.perf_counter()
    xs = [Value(float(i)) for i in range(200_000)]
    s = sum(xs)
    s.backward()
    ok = all(v.grad == 1.0 for v in xs) and s.data == sum(range(200_000))
    out.append(("200,000-term sum(), build + backward", time.perf_counter() - t, ok))
    assert sys.getrecursionlimit() == limit
    return out


def report_demo(d: dict, reps: int, elementary: bool) -> None:
    t, o = d["theirs"], d["ours"]
    step_t, step_o = t["fwd"] + t["bwd"], o["fwd"] + o["bwd"]
    if elementary:
        print("\nthe same step as micrograd-style user code on our Value (micrograd's MLP")
        print("classes and demo loss: elementary operators only, no `linear`)")
    else:
        print(f"\nmicrograd demo step with our nn.MLP (median of {reps} interleaved runs each,")
        print("process CPU time. 'heap collected': gc.collect() before each step, untimed;")
        print("'consecutive': steps one after another as training runs, default GC)")
    print(f"  same loss: largest difference over 3 steps {d['loss_diff']:.1e} (<= 1e-12)")
    print(f"  {'':30}{'micrograd 0.1.0':>16}{'autograd_core':>15}{'ratio':>9}")

    def row(name: str, a: float | None, b: float, unit: float = 1e3, fmt: str = ".1f") -> None:
        left = f"{a * unit:16{fmt}}" if a is not None else f"{'':16}"
        ratio = f"{a / b:8.1f}x" if a is not None else ""
        print(f"  {name:30}{left}{b * unit:15{fmt}}{ratio}")

    row("step, heap collected, ms", step_t, step_o)
    row("step, consecutive, ms", *d["loop"])
    row("  ours in collector_paused()", d["loop"][0], d["paused"])
    row("forward, ms", t["fwd"], o["fwd"])
    row("backward + SGD, ms", t["bwd"], o["bwd"])
    print(f"  {'graph nodes':30}{t['nodes']:16,}{o['nodes']:15,}")
    per = (t["nodes"], o["nodes"])
    row("forward, ns per node", t["fwd"] / per[0], o["fwd"] / per[1], 1e9, ".0f")
    row("backward + SGD, ns per node", t["bwd"] / per[0], o["bwd"] / per[1], 1e9, ".0f")
    row("step, ns per node", step_t / per[0], step_o / per[1], 1e9, ".0f")
    if not elementary:
        print(
            "  (our MLP computes each neuron's w·x+b as one `linear` node; "
            f"{t['nodes'] / o['nodes']:.1f}x fewer nodes)"
        )


def bench_elementary_nodes(reps: int) -> list[tuple[str, float, float]]:
    """ns per node to build and take backward a graph of elementary nodes, both engines.

    250 neurons of 200 products each, `s = s + w*x` (two nodes per product),
    added up: 100,250 nodes, shallow enough for micrograd's recursive walk.
    Default GC, heap collected before each run, the best of `reps`
    interleaved runs (the engine's cost with the least noise).
    """
    groups, size = 250, 200
    runs: dict[str, list[tuple[float, float]]] = {}
    models = {}
    for name, cls in (("micrograd 0.1.0", mg_engine.Value), ("autograd_core", Value)):
        n = groups * size
        ws = [cls(0.5 + i / n) for i in range(n)]
        xs = [cls(1.0 - i / n) for i in range(n)]
        models[name] = (cls, ws, xs)
    nodes = groups * 2 * size + groups
    for _ in range(reps):
        for name, (cls, ws, xs) in models.items():
            gc.collect()
            t0 = _clock()
            total = cls(0.0)
            for g in range(groups):
                s = cls(0.0)
                for w, x in zip(ws[g * size : (g + 1) * size], xs[g * size : (g + 1) * size]):
                    s = s + w * x
                total = total + s
            t1 = _clock()
            total.backward()
            t2 = _clock()
            runs.setdefault(name, []).append((t1 - t0, t2 - t1))
            del total, s
    return [
        (name, min(f for f, _ in r) / nodes, min(b for _, b in r) / nodes)
        for name, r in runs.items()
    ]


def callgrind_steps(kind: str, steps: int) -> None:
    """Run `steps` demo steps on our engine only, for instruction counts.

    Under `valgrind --tool=callgrind`, the count of N steps minus that of M
    steps, over N - M, is the instructions of one step, start-up excluded.
    Run it in a checkout of the old engine too to compare (see main's help).
    """
    X, y = moons(100, noise=0.1, seed=1, signed=True)
    elementary = kind == "elementary"
    _, ours = make_elementary_models(1337) if elementary else make_models(1337)
    for k in range(steps):
        demo_step(ours, X, y, k, Value if elementary else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--callgrind-steps",
        nargs=2,
        metavar=("KIND", "N"),
        help="only run N demo steps of KIND (mlp or elementary) on our engine, for "
        "`valgrind --tool=callgrind`: (count at N=5 - count at N=2) / 3 is one step",
    )
    args = parser.parse_args(argv)
    if args.callgrind_steps:
        kind, n = args.callgrind_steps
        if kind not in ("mlp", "elementary"):
            parser.error(f"--callgrind-steps KIND must be mlp or elementary, got {kind!r}")
        callgrind_steps(kind, int(n))
        return 0
    reps = 3 if args.quick else 7

    print(f"Python {sys.version.split()[0]}, gc thresholds {gc.get_threshold()} (default)")
    for elementary in (False, True):
        report_demo(bench_demo(reps, elementary), reps, elementary)

    print("\nElementary nodes (s = s + w*x, 100,000 nodes), build and backward, best of runs")
    print(f"  {'':18}{'forward ns':>12}{'backward ns':>13}{'total ns per node':>19}")
    for name, f, b in bench_elementary_nodes(reps):
        print(f"  {name:18}{f * 1e9:12.0f}{b * 1e9:13.0f}{(f + b) * 1e9:19.0f}")

    print("\nThe parts of an elementary node's cost, ns (best of runs, loop overhead removed)")
    for name, seconds in bench_floor(reps):
        print(f"  {name:42}{seconds * 1e9:8.0f}")

    print("\nPython memory per graph node (tracemalloc, graph alive)")
    print(f"  {'':48}{'autograd_core':>14}{'micrograd':>11}")
    for name, ours_b, theirs_b in bench_memory():
        th = f"{theirs_b:11.0f}" if theirs_b is not None else f"{'':>11}"
        ratio = f"  {theirs_b / ours_b:.1f}x less" if theirs_b is not None else ""
        print(f"  {name:48}{ours_b:14.0f}{th}{ratio}")

    print(f"\nDeep and wide graphs at the default recursion limit ({sys.getrecursionlimit()})")
    for name, seconds, ok in bench_deep():
        print(f"  {name:42}{seconds:7.2f} s   gradients {'right' if ok else 'WRONG'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
