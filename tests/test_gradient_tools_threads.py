"""The gradient tools compute into tables of their own: never a `.grad` written.

`explain_paths`, `backward_trace`, `explore`, `grad`/`value_and_grad`/
`hessian` and `gradcheck` used to run a real backward() that zeroed, then
restored, every leaf's `.grad`: a monitor thread running them on shared
weights corrupted a training thread's gradients. They now use the engine's
`gradients`/`gradient_table`, which write nothing into the graph.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading

import pytest
from checks import same
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import graphs

from autograd_core import (
    Value,
    backward_trace,
    explain_paths,
    grad,
    gradcheck,
    hessian,
    value_and_grad,
)
from autograd_core.engine import gradient_table, gradients, linear
from autograd_core.explore import explorer_bundle
from autograd_core.gradcheck import GradcheckError

STEPS = 1500


@pytest.fixture(autouse=True)
def _fast_switching():
    """Switch threads every microsecond, so that any race shows within a few steps."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _weights() -> list[Value]:
    return [Value(0.1 * (i + 1) - 0.35, label=f"w{i}") for i in range(6)]


def _loss(ws: list[Value], x: float) -> Value:
    h1 = linear(ws[:2], [x, 1.0 - x], ws[2]).tanh()
    h2 = linear(ws[3:5], [x * x, h1], 0.0).sigmoid()
    return (h1 * ws[5] + h2 - 0.3) ** 2


def _train(ws: list[Value], stop: threading.Event | None = None) -> list[list[float]]:
    """A training loop's gradients at every step (each step its own forward pass)."""
    seen = []
    for step in range(STEPS):
        for w in ws:
            w.grad = 0.0
        loss = sum((_loss(ws, 0.1 * k + 0.01 * step) for k in range(4)), Value(0.0))
        loss.backward()
        seen.append([w.grad for w in ws])
        for w in ws:
            w.data -= 0.01 * w.grad
    if stop is not None:
        stop.set()
    return seen


def _monitor(ws: list[Value], stop: threading.Event, tools: list, errors: list) -> None:
    try:
        while not stop.is_set():
            for tool in tools:
                tool(ws)
    except BaseException as e:  # reported by the test
        errors.append(e)
        stop.set()


def _gradcheck(ws: list[Value]) -> None:
    # The weights may move between its evaluations: then the check, not training, is off.
    with contextlib.suppress(GradcheckError):
        gradcheck(lambda a: _loss(ws, 0.9) * a, [Value(1.25)])


TOOLS = {
    "explain_paths": lambda ws: explain_paths(_loss(ws, 0.3), ws[0]),
    "backward_trace": lambda ws: backward_trace(_loss(ws, 0.7)),
    "grad": lambda ws: grad(lambda a: _loss(ws, 0.2) * a)(1.5),
    "value_and_grad": lambda ws: value_and_grad(lambda a, b: _loss(ws, 0.4) * a * b)(1.0, 2.0),
    "hessian": lambda ws: hessian(lambda a: _loss(ws, 0.6) * a * a)(2.0),
    "gradcheck": lambda ws: _gradcheck(ws),
    "explore": lambda ws: explorer_bundle(_loss(ws, 0.8), max_nodes=1),  # summarised: no dot
}


@pytest.mark.parametrize("name", [*sorted(TOOLS), "all"])
def test_training_gradients_stay_bitwise_equal_with_a_monitor_thread(name: str) -> None:
    reference = _train(_weights())
    ws = _weights()
    tools = list(TOOLS.values()) if name == "all" else [TOOLS[name]]
    stop, errors = threading.Event(), []
    monitor = threading.Thread(target=_monitor, args=(ws, stop, tools, errors))
    monitor.start()
    try:
        seen = _train(ws, stop)
    finally:
        stop.set()
        monitor.join()
    assert errors == []
    bad = [i for i, (a, b) in enumerate(zip(seen, reference)) if a != b]
    assert bad == [], f"{name}: training gradients changed at {len(bad)} of {STEPS} steps"


def test_concurrent_backward_traces_of_one_graph_all_succeed_and_agree() -> None:
    ws = _weights()
    root = _loss(ws, 0.7)
    expected = [(s.contribution, s.parent_grad) for s in backward_trace(root).steps]
    results, errors = [], []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            for _ in range(30):
                trace = backward_trace(root)
                results.append([(s.contribution, s.parent_grad) for s in trace.steps])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 120 and all(r == expected for r in results)


def test_the_tools_leave_every_grad_as_it_was() -> None:
    ws = _weights()
    for i, w in enumerate(ws):
        w.grad = float(i) + 0.5
    before = [w.grad for w in ws]
    for tool in TOOLS.values():
        tool(ws)
    assert [w.grad for w in ws] == before


# ---------------------------------------------------------------------------
# The engine functions themselves.


def _backward_grads(root: Value, leaves: list[Value], create_graph: bool = False) -> list:
    for w in leaves:
        w.grad = 0.0
    root.backward(create_graph=create_graph)
    return [w.grad for w in leaves]


def test_gradients_equal_backward_bitwise_and_write_nothing() -> None:
    ws = _weights()
    root = sum((_loss(ws, 0.1 * k) for k in range(5)), Value(0.0))
    table = gradient_table(root)
    got = gradients(root, ws)
    assert all(n.grad == 0.0 for n in table)  # nothing written (all start at 0.0)
    assert got == _backward_grads(root, ws)
    assert got == [table[w] for w in ws]


def test_gradients_of_an_unreached_node_are_zero_and_of_a_leaf_root_the_seed() -> None:
    a, b = Value(2.0), Value(3.0)
    assert gradients(a * a, [a, b]) == [4.0, 0.0]
    assert gradients(a, [a, b], 2.5) == [2.5, 0.0]


def test_gradients_with_create_graph_differentiate_again() -> None:
    x = Value(0.7)
    (dy,) = gradients((x * x * x).sin(), [x], create_graph=True)
    (d2y,) = gradients(dy, [x])
    u = x.data**3
    expected = 6 * x.data * math.cos(u) - 9 * x.data**4 * math.sin(u)
    assert d2y == pytest.approx(expected, rel=1e-12)
    assert x.grad == 0.0


def test_gradients_refuse_what_is_not_a_value() -> None:
    with pytest.raises(TypeError, match="wrt\\[1\\] must be a Value"):
        gradients(Value(1.0) * 2, [Value(1.0), 3.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="gradient_table"):
        gradient_table(2.0)  # type: ignore[arg-type]


def test_anomaly_mode_sees_the_tables_upstream_gradient_not_grad() -> None:
    from autograd_core.anomaly import AnomalyError, detect_anomaly

    x = Value(0.0, "x")
    s = x.sqrt()
    s.grad = 7.0  # a stale .grad the message must not show
    y = s * 0.0  # backward: d y / d s = 0, then inf * 0 = nan into x
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        gradients(y, [x])
    assert "is nan = local derivative inf * upstream gradient 0.0" in str(info.value)
    assert x.grad == 0.0 and s.grad == 7.0


@settings(max_examples=80, deadline=None)
@given(graph=graphs(n_inputs=(1, 3), max_steps=10, smooth=False), data=st.data())
def test_gradients_equal_backward_bit_for_bit_on_random_graphs(graph, data) -> None:
    # gradient_table keeps its own accumulation loop beside backward()'s: the same bits.
    inputs = data.draw(st.lists(st.floats(-2, 2), min_size=graph.n_inputs, max_size=graph.n_inputs))
    xs = [Value(x) for x in inputs]
    try:
        out = graph(*xs)
    except (ValueError, ZeroDivisionError, OverflowError):
        assume(False)
    out = out[0] if isinstance(out, tuple) else out
    assume(isinstance(out, Value))
    got = gradients(out, xs)
    out.backward()
    assert all(same(g, x.grad) for g, x in zip(got, xs)), (got, [x.grad for x in xs])


def test_gradients_refuse_a_single_value_as_wrt() -> None:
    w = Value(0.5)
    with pytest.raises(TypeError, match=r"wrt must be a list of Values, got Value"):
        gradients(w * 2.0, w)
    with pytest.raises(TypeError, match=r"wrt\[0\] must be a Value, got float"):
        gradients(w * 2.0, [1.0])
