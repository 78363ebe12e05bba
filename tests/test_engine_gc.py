"""The engine and the cyclic garbage collector; zero gradients skipped exactly.

backward() runs inside `collector_paused()`: the collector is off while the
gradients are computed and exactly as before afterwards, errors included,
and across threads. Skipping a node whose gradient is zero must change no
gradient: an infinite local derivative still gives NaN.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Iterator

import pytest

from autograd_core import GraphBusyError, Value, linear
from autograd_core.engine import Observer, collector_paused, observing


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


class _SeesCollector(Observer):
    """Records whether the collector was on at each backward edge."""

    wants_backward = True

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def backward(self, node, parent, local, contribution) -> None:
        self.seen.append(gc.isenabled())


def test_backward_runs_with_the_collector_off_and_turns_it_back_on(collector_on):
    x = Value(1.5)
    y = (x * x + 1.0).tanh()
    with observing(_SeesCollector()) as seer:
        y.backward()
    assert seer.seen and not any(seer.seen)
    assert gc.isenabled()
    assert x.grad == pytest.approx(2 * 1.5 * (1 - math.tanh(1.5**2 + 1) ** 2))


def test_backward_leaves_a_collector_that_was_off_off():
    was = gc.isenabled()
    gc.disable()
    try:
        x = Value(2.0)
        (x * 3.0).backward()
        assert not gc.isenabled() and x.grad == 3.0
    finally:
        if was:
            gc.enable()


def test_an_error_in_backward_still_turns_the_collector_back_on(collector_on):
    x = Value(2.0)
    y = x * 3.0
    x.grad = "not a number"  # the accumulation fails on this leaf
    with pytest.raises(TypeError):
        y.backward()
    assert gc.isenabled()
    x.grad = 0.0
    y.backward()  # and the graph is usable again: its marks were released
    assert x.grad == 3.0


def test_create_graph_backward_builds_its_nodes_with_the_collector_off(collector_on):
    x = Value(0.7)
    y = x.sin() * x
    with observing(_SeesCollector()) as seer:
        y.backward(create_graph=True)
    assert seer.seen and not any(seer.seen)
    assert gc.isenabled()
    assert x.grad.data == pytest.approx(math.cos(0.7) * 0.7 + math.sin(0.7))


def test_pauses_nest_and_the_last_one_out_restores(collector_on):
    pause = collector_paused()
    with pause:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block is still open
        with pause:  # one instance, re-entered
            assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_in_two_threads_restore_the_collector_once_both_are_out(collector_on):
    inside, release = threading.Barrier(2), threading.Event()
    states: list[bool] = []

    def first() -> None:
        with collector_paused():
            inside.wait()
            release.wait(5)
        states.append(gc.isenabled())  # the other thread's block is still open

    def second() -> None:
        with collector_paused():
            inside.wait()
            release.set()
            t.join(5)  # the first thread left while this block stays open
            states.append(gc.isenabled())

    t = threading.Thread(target=first)
    u = threading.Thread(target=second)
    t.start()
    u.start()
    u.join(10)
    assert states == [False, False]
    assert gc.isenabled()


def test_graph_busy_error_turns_the_collector_back_on(collector_on):
    # A pass whose marks are still active (as while another thread runs it).
    from autograd_core.engine import _Mark, _walk

    x = Value(1.0)
    y = (x * 2.0).exp() * 3.0
    visiting, done = _Mark(), _Mark()
    _walk(y, visiting, done, True)
    with pytest.raises(GraphBusyError):
        y.backward()
    assert gc.isenabled()
    visiting.active = done.active = False
    y.backward()
    assert x.grad == pytest.approx(2 * 3 * math.exp(2.0))


# ---------------------------------------------------------------------------
# Zero gradients: skipped only where every contribution would be ±0.0.


def test_a_zero_gradient_through_an_infinite_local_derivative_is_still_nan():
    x = Value(2.0)
    w = Value(math.inf)
    y = (w * x) * 0.0  # d y / d(w*x) = 0, d(w*x) / dx = inf
    y.backward()
    assert math.isnan(x.grad)
    assert w.grad == 0.0


def test_a_zero_gradient_into_a_linear_node_with_an_infinite_input_is_still_nan():
    ws = [Value(1.0), Value(2.0)]
    xs = [Value(math.inf), Value(3.0)]
    y = linear(ws, xs, 0.5) * 0.0
    y.backward()
    assert math.isnan(ws[0].grad)  # d/dw0 = x0 = inf, times 0
    assert ws[1].grad == 0.0 and xs[0].grad == 0.0 and xs[1].grad == 0.0


def test_a_nan_gradient_is_never_skipped():
    x = Value(1.0)
    y = (x * 2.0) * math.nan
    y.backward()
    assert math.isnan(x.grad)


def test_zero_gradients_leave_every_grad_a_float_zero_like_full_arithmetic():
    a, b = Value(-1.0), Value(0.5)
    h = (a * b).relu()  # off: its gradient is 0
    out = h * 4.0 + b
    out.backward()
    assert (a.grad, b.grad) == (0.0, 1.0)
    assert math.copysign(1.0, a.grad) == 1.0  # +0.0, as 0.0 + 0.0 * ... gives
    assert h.grad == 4.0 and h.operands[0].grad == 0.0
