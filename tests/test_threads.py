"""What the engine promises to threads: no_grad, observers, retraces and backward."""

import threading

from autograd_core import Value, compile_function, no_grad
from autograd_core.engine import is_grad_enabled

ROUNDS = 300


def run_together(*targets):
    errors = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        def run():
            barrier.wait()
            try:
                target()
            except BaseException as e:  # reported to the test below
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_one_no_grad_instance_shared_by_two_threads_restores_each_threads_mode():
    shared = no_grad()  # as a module-level NO_GRAD = no_grad() would be

    def recording():
        for _ in range(ROUNDS * 10):
            with shared:
                assert not is_grad_enabled()
            assert is_grad_enabled()  # back to this thread's own mode
        x = Value(1.0)
        assert (x * x).parents  # this thread still builds graphs

    def evaluating():
        with no_grad():  # this thread's outer mode is off: what it restores is off
            for _ in range(ROUNDS * 10):
                with shared:
                    pass
                assert not is_grad_enabled()

    run_together(recording, evaluating)
    assert is_grad_enabled()


def test_a_retrace_at_explicit_params_never_writes_into_the_shared_weights():
    w = Value(1.0, label="w")

    def f(x):
        y = x * w
        return y if y > 0 else -y  # a branch: each sign of w needs its own trace

    cf = compile_function(f, [1.0], [w], retrace=True, max_traces=1)

    def retracer():
        for k in range(ROUNDS):
            p = -2.0 if k % 2 else 3.0  # the guard flips every call: a retrace each time
            value, (gx,), (gw,) = cf([1.0], [p])
            assert value == abs(p) and gw == (1.0 if p > 0 else -1.0)

    def writer():
        for k in range(ROUNDS * 10):
            w.data = float(k)
            for _ in range(20):
                assert w.data == float(k)  # nobody else writes here

    run_together(retracer, writer)
    assert cf.n_traces > ROUNDS // 2


def test_tracing_in_one_thread_leaves_another_threads_comparisons_alone():
    stop = threading.Event()
    w = Value(2.0)

    def tracer():
        try:
            for _ in range(50):
                compile_function(lambda x: (x * w).tanh(), [0.5], [w])
        finally:
            stop.set()

    def comparer():
        while not stop.is_set():
            assert (w > 1.0) is True and bool(w) is True

    run_together(tracer, comparer)


def test_two_threads_backward_through_their_own_graphs_over_shared_leaves():
    # The documented, supported case: each thread its own forward pass; only
    # leaves are shared, and each thread's gradients land on its own leaves.
    shared = Value(0.5)

    def worker():
        for _ in range(ROUNDS):
            x = Value(2.0)
            y = (x * shared).tanh() * x
            y.backward()
            assert x.grad != 0.0

    run_together(worker, worker)


def test_a_second_backward_through_a_graph_in_use_is_refused_and_the_first_is_right():
    from autograd_core import GraphBusyError, topological_order
    from autograd_core.engine import Observer, observing

    x = Value(0.5)
    h = (x * x).tanh()
    y = h * h + h  # h is shared: its gradient accumulates from two uses
    inside, resume = threading.Event(), threading.Event()

    class Pause(Observer):
        wants_backward = True

        def backward(self, node, parent, local, contribution):
            if not inside.is_set():
                inside.set()
                assert resume.wait(10)

    grads = {}

    def first():
        with observing(Pause()):
            y.backward()
        grads["x"] = x.grad

    def second():
        assert inside.wait(10)  # the first pass is in the middle of accumulating
        try:
            y.backward()
        except GraphBusyError as e:
            grads["refused"] = str(e)
        grads["walk"] = len(topological_order(y))  # reading (drawing) is fine meanwhile
        resume.set()

    run_together(first, second)
    assert "another thread is running backward() through the graph" in grads["refused"]
    assert grads["walk"] == 5  # x, x*x, tanh, h*h, +
    x2 = Value(0.5)
    h2 = (x2 * x2).tanh()
    (h2 * h2 + h2).backward()
    assert grads["x"] == x2.grad  # the first pass, unmixed
    y.backward()  # once the first is done, the graph is free again
    assert x.grad == 2 * grads["x"]


def test_tracing_in_one_thread_leaves_the_per_node_path_of_the_others_fast():
    # The per-node slow path is switched on only by no_grad() and by observers of every
    # node (anomaly mode); a tracer watches leaves, comparisons and reads only.
    from autograd_core import engine
    from autograd_core.trace import Tracer

    inside, leave = threading.Event(), threading.Event()

    def tracing():
        with Tracer():
            inside.set()
            assert leave.wait(10)

    seen = {}

    def other():
        assert inside.wait(10)
        seen["slow"], seen["watch"] = engine._slow, engine._watch
        leave.set()

    run_together(tracing, other)
    assert seen == {"slow": 0, "watch": 1}
    assert engine._slow == engine._watch == 0


def test_threads_walking_their_own_graphs_over_shared_weights_never_conflict():
    # Drawing, statistics, compiling and backward all walk graphs; weights (leaves) are
    # never marked, so graphs that share only them can be walked at the same moment.
    from autograd_core import compile_function, graph_stats, topological_order

    weights = [Value(0.001 * i, f"w{i}") for i in range(2000)]  # walks long enough to overlap

    def worker():
        for k in range(15):
            x = Value(0.5 + k)
            y = sum((w * x for w in weights), Value(0.0)).tanh()
            assert len(topological_order(y)) == 3 * len(weights) + 3  # 0, x, tanh
            assert graph_stats(y).nodes == len(topological_order(y))
            compile_function(lambda v: (v * weights[0]).tanh(), [0.5], weights[:1])
            y.backward()

    run_together(worker, worker, worker)
