"""Compiled graphs give the engine's numbers, refuse or re-trace data-dependent graphs."""

from __future__ import annotations

import math
import random
import sys

import pytest
from checks import assert_same_result, engine_result, same
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import graphs

from autograd_core import engine
from autograd_core.compiled import TracingError, compile_function, compile_loss
from autograd_core.engine import Value, linear, no_grad, primitive

# ---------------------------------------------------------------------------
# Random graphs (tests/strategies.py): every primitive, shared sub-expressions,
# constants on either side. Operands are kept in domain only where the forward
# value needs it (r*r + c > 0 for log, sqrt, the divisor, pow's base); kinks
# (relu, abs at 0) need no care here: the compiled code must match the engine
# there too, by the same convention. A draw where the engine itself raises
# (overflow) is discarded with assume(). Every node reaches the output (a node
# nothing uses is not replayed, so its errors would not be either: see the
# dead-code test below).

values = st.floats(-3, 3, allow_nan=False)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    inputs=st.lists(values, min_size=1, max_size=3),
    params=st.lists(values, min_size=0, max_size=2),
    new_inputs=st.lists(values, min_size=3, max_size=3),
)
def test_random_graphs_match_engine_bit_for_bit(data, inputs, params, new_inputs):
    n = len(inputs) + len(params)
    graph = data.draw(graphs(n_inputs=n, max_steps=12, smooth=False), label="graph")
    pvals = [Value(p, f"p{i}") for i, p in enumerate(params)]
    g = lambda *xs: graph(*xs, *pvals)  # noqa: E731
    try:
        want = engine_result(g, inputs, pvals)
    except (OverflowError, ValueError, ZeroDivisionError):
        assume(False)
    cf = compile_function(g, inputs, pvals)
    assert_same_result(cf(inputs), want)
    # Replayed at other numbers: still the engine's result, or an error where the engine
    # raises one (where several nodes fail, perhaps another of theirs: the replay runs
    # in the graph walk's order; nodes the output does not use are not replayed at all).
    other = new_inputs[: len(inputs)]
    try:
        want = engine_result(g, other, pvals)
    except (OverflowError, ValueError, ZeroDivisionError):
        with pytest.raises((OverflowError, ValueError, ZeroDivisionError)):
            cf(other)
        return
    assert_same_result(cf(other), want)


def test_nodes_the_output_does_not_use_are_not_replayed():
    def f(x):
        (x - 1.0).log()  # built by the engine, used by nothing
        return x * 2.0

    cf = compile_function(f, [2.0])
    assert "_log" not in cf.source
    assert cf([0.5]) == (1.0, [2.0], [])  # the engine would raise on log(-0.5)
    with pytest.raises(ValueError, match="log needs x > 0"):
        engine_result(f, [0.5])


def test_every_builtin_op_is_written_as_code():
    # Built-in rules branch with m.where, never `if`: every node becomes code.
    x = 0.7

    def f(a):
        b = a.exp() + a.log() + a.tanh() + a.sigmoid() + a.relu() + abs(a) + a.sin()
        c = a.cos() - a / 2.0 + 3.0 / a - a * a + linear([a, a], [a, 2.0], a)
        return b + c + a**2 + a.sqrt()

    cf = compile_function(f, [x])
    assert cf.stats["rule_calls"] == 0
    assert cf.stats["symbolic"] == cf.stats["nodes"] - 1  # minus the input leaf
    assert_same_result(cf([x]), engine_result(f, [x]))
    assert_same_result(cf([1.9]), engine_result(f, [1.9]))


def test_user_primitives_symbolic_and_branching():
    @primitive("softplus")
    def softplus(m, x):
        return m.log(1 + m.exp(x)), m.sigmoid(x)

    @primitive("clip1")
    def clip1(m, x):  # branches on its operand: traced as a rule call
        return (x, 1.0) if x < 1 else (1.0, 0.0)

    def f(a):
        return softplus(a) * clip1(a * 3.0)

    cf = compile_function(f, [0.2])
    assert cf.stats["rule_calls"] == 1
    for x in (0.2, 0.9, -1.0):
        assert_same_result(cf([x]), engine_result(f, [x]))


# ---------------------------------------------------------------------------
# An MLP loss, as nn trains it.


def make_mlp(sizes=(2, 4, 4, 1), seed=0):
    rng = random.Random(seed)
    return [
        [([Value(rng.uniform(-1, 1)) for _ in range(nin)], Value(0.0)) for _ in range(nout)]
        for nin, nout in zip(sizes, sizes[1:])
    ]


def mlp_loss(layers, X, y):
    scores = []
    for row in X:
        h = [Value(v) for v in row]
        for i, layer in enumerate(layers):
            h = [linear(w, h, b) for w, b in layer]
            if i < len(layers) - 1:
                h = [v.relu() for v in h]
        scores.append(h[0])
    losses = [(1 + -yi * s).relu() for yi, s in zip(y, scores)]
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)


def test_mlp_loss_and_gradients_equal_the_engine_across_sgd_steps():
    rng = random.Random(1)
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(12)]
    y = [1.0 if a * b > 0 else -1.0 for a, b in X]
    layers = make_mlp()
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    cf = compile_loss(params, lambda: mlp_loss(layers, X, y))
    for _ in range(4):
        loss, _, grads = cf()
        for p in params:
            p.grad = 0.0
        ref = mlp_loss(layers, X, y)
        ref.backward()
        assert same(loss, ref.data)
        assert all(same(g, p.grad) for g, p in zip(grads, params))
        for p in params:
            p.data -= 0.5 * p.grad
    assert cf.n_traces == 1


def test_accumulate_adds_gradients_like_backward():
    a, b = Value(0.5), Value(-1.5)
    cf = compile_loss([a, b], lambda: (a * b).tanh() + a * a)
    a.grad, b.grad = 0.0, 0.0
    loss = cf.accumulate()
    out = (a * b).tanh() + a * a
    ga, gb = a.grad, b.grad
    a.grad = b.grad = 0.0
    out.backward()
    assert same(loss, out.data) and same(ga, a.grad) and same(gb, b.grad)
    cf.accumulate()
    assert a.grad == 2 * ga


def test_no_graph_objects_are_made_per_call():
    layers = make_mlp((2, 3, 1))
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    cf = compile_loss(params, lambda: mlp_loss(layers, [[0.5, -0.2], [1.0, 2.0]], [1.0, -1.0]))
    called = set()

    def profiler(frame, event, arg):
        if event == "call":
            called.add((frame.f_globals.get("__name__"), frame.f_code.co_name))

    sys.setprofile(profiler)
    try:
        cf()
    finally:
        sys.setprofile(None)
    builders = {"apply", "__init__", "_nary_node", "_checked", "_backward"}
    assert not {c for c in called if c[0] == engine.__name__ and c[1] in builders}
    assert "Value" not in cf.source


# ---------------------------------------------------------------------------
# Data dependence and structure changes.


def test_comparison_is_refused_by_default_naming_where():
    def f(x):
        if x > 0:  # the graph depends on the sign of x
            return x * 2.0
        return -x

    with pytest.raises(TracingError) as info:
        compile_function(f, [1.0])
    message = str(info.value)
    assert "test_compiled.py" in message and "in f" in message
    assert "> 0.0 was True" in message and "retrace=True" in message


def test_max_over_values_is_refused():
    with pytest.raises(TracingError, match="compared Values"):
        compile_function(lambda a, b, c: max([a, b, c]) * 2.0, [1.0, 3.0, 2.0])


def test_retrace_rechecks_comparisons_and_traces_each_branch_once():
    def f(x, y):
        big = max([x, y])  # picks a node
        return big * big + (x.log() if x > 0 else -x)

    cf = compile_function(f, [2.0, 1.0], retrace=True)
    assert cf.stats["guards"] == 2
    for args in ([2.0, 1.0], [0.5, 3.0], [-1.0, 3.0], [2.5, 0.5], [0.5, 4.0]):
        # The guard on x > 0 runs before x.log(): no domain error on the other branch.
        assert_same_result(cf(args), engine_result(f, args))
    assert cf.n_traces == 3  # (x>y, x>0), (x<y, x>0), (x<y, x<=0); the rest reused


def test_retrace_keeps_at_most_max_traces():
    def f(x):
        return x * 2.0 if x > 0 else x * 3.0

    cf = compile_function(f, [1.0], retrace=True, max_traces=1)
    for x in (1.0, -1.0, 1.0):
        assert_same_result(cf([x]), engine_result(f, [x]))
    assert cf.n_traces == 3


def test_other_number_of_inputs_is_refused_or_retraced():
    total = lambda *xs: sum(xs, Value(0.0)) * 2.0  # noqa: E731
    cf = compile_function(total, [1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 input values, got 3"):
        cf([1.0, 2.0, 3.0])
    cf = compile_function(total, [1.0, 2.0], retrace=True)
    assert_same_result(cf([1.0, 2.0, 3.0]), engine_result(total, [1.0, 2.0, 3.0]))
    assert_same_result(cf([4.0, 5.0]), engine_result(total, [4.0, 5.0]))
    assert cf.n_traces == 2


def test_bad_calls_say_what_was_expected():
    w = Value(0.5)
    cf = compile_function(lambda x: x * w, [1.0], [w])
    with pytest.raises(ValueError, match="expected 1 parameter values, got 2"):
        cf([1.0], [1.0, 2.0])
    with pytest.raises(TypeError, match=r"inputs\[0\] needs a real number .*got str"):
        cf(["1.0"])
    with pytest.raises(TypeError, match="must be a list or tuple of numbers"):
        cf(1.0)
    with pytest.raises(TypeError, match="inputs must be a list or tuple of numbers, got dict"):
        cf({1.0: "a"})  # not its keys
    assert cf([3], [2])[0] == 6.0  # ints are numbers


def test_bad_compiles_say_what_was_wrong():
    a = Value(1.0)
    with pytest.raises(TypeError, match=r"must return a Value.*got float"):
        compile_function(lambda x: 1.0, [1.0])
    with pytest.raises(ValueError, match="must be a leaf Value"):
        compile_function(lambda: a * 2.0, [], [a * 3.0])
    with pytest.raises(ValueError, match="same Value more than once"):
        compile_function(lambda: a * 2.0, [], [a, a])
    with pytest.raises(TypeError, match=r"params\[0\] must be a Value"):
        compile_function(lambda: a * 2.0, [], [1.0])
    with pytest.raises(RuntimeError, match="no_grad"), no_grad():
        compile_function(lambda x: x * 2.0, [1.0])


def test_captured_values_must_be_params_or_detached():
    w = Value(2.0, "w")
    with pytest.raises(TracingError, match="'w'.*not in params"):
        compile_function(lambda x: x * w, [1.0])
    frozen = compile_function(lambda x: x * w.detach(), [1.0])
    w.data = 5.0
    assert frozen([1.0])[0] == 2.0  # frozen on purpose at trace time
    live = compile_function(lambda x: x * w, [1.0], [w])
    assert live([1.0]) == (5.0, [5.0], [1.0])
    assert live([1.0], [7.0]) == (7.0, [7.0], [1.0])


def test_output_that_is_an_input_or_a_constant():
    assert compile_function(lambda x: x, [3.0])([4.0]) == (4.0, [1.0], [])
    assert compile_function(lambda x: Value(2.0), [3.0])([4.0]) == (2.0, [0.0], [])


def test_long_dot_products_and_deep_chains_compile_exactly():
    n = 300  # longer than one emitted statement
    rng = random.Random(3)
    consts = [rng.uniform(-1, 1) for _ in range(n)]

    def f(*xs):
        out = linear(list(xs), consts, 0.1)
        for _ in range(2000):  # deeper than Python's recursion limit would allow
            out = (out * 0.999).tanh() + 0.001
        return out

    inputs = [rng.uniform(-1, 1) for _ in range(n)]
    cf = compile_function(f, inputs)
    assert_same_result(cf(inputs), engine_result(f, inputs))


def test_gradients_add_up_in_the_engine_order():
    # Float addition is not associative: 1e16 - 1e16 + 1 is 1, 1 - 1e16 + 1e16 is 0.
    # Fan-out within one node and across nodes must add in backward()'s order.
    def within(x):
        return linear([x, x, x], [1e16, -1e16, 1.0], 0.0)

    def across(x, y):
        a, b, c = x * 1e16, x * -1e16, x * 1.0
        return (a + y) + (b + y * 2.0) + c * y

    assert_same_result(compile_function(within, [0.5])([0.5]), engine_result(within, [0.5]))
    assert engine_result(within, [0.5])[1] == [1.0]
    for args in ([0.5, 1.0], [2.0, -3.0]):
        want = engine_result(across, args)
        assert_same_result(compile_function(across, args)(args), want)


def test_extra_outputs_are_returned_as_numbers():
    def f(x, y):
        a, b = x * y, (x - y).tanh()
        return a + b, [a, b, 2.5]

    cf = compile_function(f, [0.5, 2.0])
    value, gx, gp, extras = cf([1.5, -0.5])
    a, b = 1.5 * -0.5, math.tanh(2.0)
    assert same(value, a + b) and extras == (a, b, 2.5) and gp == []
    assert_same_result((value, gx, gp), engine_result(lambda x, y: f(x, y)[0], [1.5, -0.5]))


def test_reading_data_while_traced_warns_with_the_place():
    from autograd_core.compiled import TracingWarning

    def f(x):
        scale = 2.0 if x.data > 0 else 3.0  # invisible to the engine: frozen at 2.0
        return x * scale

    before = dict(Value.__dict__)
    with pytest.warns(TracingWarning, match=r"read \.data at .*test_compiled\.py:\d+ in f"):
        cf = compile_function(f, [1.0])
    assert cf([-1.0])[0] == -2.0  # the frozen branch, as the warning says
    assert dict(Value.__dict__) == before  # tracing changed nothing on the class


def test_tracing_restores_value_and_ignores_other_threads():
    import threading

    originals = {k: Value.__dict__[k] for k in ("__lt__", "__gt__", "__init__", "data")}

    def f(x):
        seen = []
        worker = threading.Thread(target=lambda: seen.append(Value(1.0) > Value(0.0)))
        worker.start()
        worker.join()  # another thread's comparison is not this trace's business
        assert seen == [True]
        return x * 2.0

    assert compile_function(f, [1.0])([3.0])[0] == 6.0

    def broken(x):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        compile_function(broken, [1.0])
    assert {k: Value.__dict__[k] for k in originals} == originals


def test_a_gradient_built_with_create_graph_compiles_to_second_derivatives():
    def slope(x):
        y = (x * x * x).tanh()
        y.backward(create_graph=True)
        return x.grad  # dy/dx as a Value; its gradient is d2y/dx2

    cf = compile_function(slope, [0.5])
    for v in (0.5, -0.3, 1.2):
        x = Value(v)
        g = slope(x)
        x.grad = 0.0  # it held dy/dx itself; now collect d(dy/dx)/dx
        g.backward()
        assert_same_result(cf([v]), (g.data, [x.grad], []))


# ---------------------------------------------------------------------------
# nn's training loop with compiled=True.


def _trained(compiled: bool, **kwargs):
    from nn.data import moons
    from nn.layers import MLP
    from nn.train import train

    X, y = moons(30, seed=2, signed=True)
    model = MLP(2, [8, 8, 1], seed=3)
    history = train(model, X, y, steps=6, lr=0.5, l2=1e-4, compiled=compiled, **kwargs)
    return history, [p.data for p in model.parameters()]


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9, "weight_decay": 1e-3}])
def test_nn_train_compiled_gives_the_ordinary_losses_bit_for_bit(kwargs, monkeypatch):
    plain, p1 = _trained(False, **kwargs)

    def no_backward(self, *args, **kw):
        raise AssertionError("compiled training called the engine's backward()")

    monkeypatch.setattr(Value, "backward", no_backward)
    fast, p2 = _trained(True, **kwargs)
    assert fast.loss == plain.loss and len(fast.loss) == 6
    assert fast.accuracy == plain.accuracy
    assert fast.final_loss == plain.final_loss and p1 == p2


def test_nn_train_compiled_refuses_what_it_cannot_do():
    from nn.data import moons
    from nn.layers import MLP
    from nn.train import train

    X, y = moons(10, seed=0)
    with pytest.raises(ValueError, match="full batch only"):
        train(MLP(2, [4, 1]), X, y, steps=2, batch_size=4, compiled=True)


def test_nn_train_compiled_softmax_ce_gives_the_ordinary_losses():
    # softmax-ce is a logsumexp primitive now, no Python max(): it traces (issue 19 item 9).
    from nn.data import moons
    from nn.layers import MLP
    from nn.train import train

    X, y = moons(20, seed=1)
    runs = []
    for compiled in (False, True):
        model = MLP(2, [4, 2], seed=5)
        history = train(model, X, y, loss="softmax-ce", steps=3, compiled=compiled)
        runs.append((history.loss, [p.data for p in model.parameters()]))
    assert runs[0] == runs[1] and len(runs[0][0]) == 3


def test_where_two_nodes_fail_the_replay_raises_one_of_their_errors():
    def f(x):
        a = x.sqrt()  # the engine computes this first: fails for x < 0
        b = 1.0 / (x + 1.0)  # fails at x == -1
        return b + a  # the graph walk reaches b first

    cf = compile_function(f, [4.0])
    with pytest.raises(ValueError, match="sqrt needs x >= 0"):
        engine_result(f, [-1.0])
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        cf([-1.0])  # documented: not always the engine's first error
    with pytest.raises(ValueError, match="sqrt needs x >= 0"):
        cf([-2.0])  # only one node fails: its error, as in the engine


def test_compiled_function_exposes_its_program():
    w = Value(0.5, "w")

    def f(x, y):
        return (w * x + y).tanh() * y

    cf = compile_function(f, [1.0, 2.0], [w])
    program = cf.program
    assert [e.prim for e in program.eqns] == ["mul", "add", "tanh", "mul"]
    for xs in ([1.0, 2.0], [0.3, -1.5]):
        value = cf(xs)[0]
        assert program(xs, [w.data])[0] == value
        assert program.value_and_grad(xs)[0] == value
