"""make_program, the Program's listing and evaluation, and each pass against the unoptimized one."""

import math
import warnings

import pytest
from checks import same
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from micrograd_style import MLP
from strategies import finite_values, graphs

from autograd_core import Program, TracingError, TracingWarning, Value, linear, make_program
from autograd_core.program import optimize
from autograd_core.program.passes import (
    eliminate_dead_code,
    fold_packs,
    group_dense,
    group_maps,
    hoist_parameter_only,
    recognize_column_sums,
    recognize_dots,
)


def engine_forward(f, inputs, params=()):
    xs = [Value(x) for x in inputs]
    out = f(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    return [o.data if isinstance(o, Value) else float(o) for o in outs]


def engine_grads(f, inputs, params):
    xs = [Value(x) for x in inputs]
    for p in params:
        p.grad = 0.0
    out = f(*xs)
    out.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return out.data, [x.grad for x in xs], grads


def assert_close(got, want, rel=1e-12):
    """Each number within rel of the largest in `want` (the issue's exactness bound)."""
    scale = max([1e-300, *(abs(w) for w in want)])
    for a, b in zip(got, want, strict=True):
        assert abs(a - b) <= rel * scale, (a, b)


# ---------------------------------------------------------------------------
# The program itself.


def test_print_lists_one_equation_a_line_and_evaluates_like_the_engine():
    w = Value(0.5, "w")

    def f(x, y):
        return (w * x + y).tanh() * 2.0

    program = make_program(f, [1.0, 2.0], params=[w])
    assert isinstance(program, Program)
    text = str(program)
    assert text.splitlines() == [
        "inputs: x0 x1",
        "params: p0",
        "  v0 = mul p0 x0",
        "  v1 = add v0 x1",
        "  v2 = tanh v1",
        "  v3 = mul v2 2.0",
        "outputs: v3",
    ]
    for x in ([1.0, 2.0], [-3.0, 0.25]):
        assert same(program(x)[0], engine_forward(f, x)[0])
    # other param numbers without touching the Value
    assert same(program([1.0, 2.0], [2.0])[0], math.tanh(2.0 + 2.0) * 2.0)
    assert w.data == 0.5


@settings(max_examples=60, deadline=None)
@given(graph=graphs(n_inputs=(1, 3), max_steps=10, smooth=False, n_outputs=(1, 2)), data=st.data())
def test_program_equals_the_engine_bit_for_bit_on_random_graphs(graph, data):
    xs = data.draw(st.lists(st.floats(-2, 2), min_size=graph.n_inputs, max_size=graph.n_inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = engine_forward(graph, xs)
        except (ValueError, ZeroDivisionError, OverflowError):
            assume(False)
        program = make_program(graph, xs)
    got = program(xs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert same(a, b), (a, b)


def test_refusals_as_compiled_replay():
    def branches(x):
        return x * 2 if x > 0 else -x

    with pytest.raises(TracingError, match="compared Values"):
        make_program(branches, [1.0])
    w = Value(3.0, "w")
    with pytest.raises(TracingError, match="not in params"):
        make_program(lambda x: w * x, [1.0])
    with pytest.warns(TracingWarning, match=r"read \.data"):
        make_program(lambda x: x * x.data, [1.0])
    with pytest.raises(TypeError, match="params\\[1\\] must be a Value"):
        make_program(lambda x: w * x, [1.0], params=[w, 2.0])
    with pytest.raises(ValueError, match="more than once"):
        make_program(lambda x: w * x, [1.0], params=[w, w])
    with pytest.raises(TypeError, match="example_inputs"):
        make_program(lambda x: x, "12")


def test_value_and_grad_on_floats_equals_the_engine():
    model = MLP(2, [4, 3, 1])
    params = model.parameters()

    def f(x0, x1):
        return (model([x0, x1]) - 0.5) ** 2

    program = make_program(f, [0.3, -0.7], params)
    value, _, grads = program.value_and_grad([0.3, -0.7])
    want_value, _, want_grads = engine_grads(f, [0.3, -0.7], params)
    assert same(value, want_value)
    assert_close(grads, want_grads, rel=1e-15)


# ---------------------------------------------------------------------------
# Each pass alone, against the unoptimized program.


def check_pass(pass_, program, inputs, rel=1e-12):
    """The pass keeps outputs and gradients (to rel of the largest); returns its program."""
    after = pass_(program)
    v0, gi0, gp0 = program.value_and_grad(inputs)
    v1, gi1, gp1 = after.value_and_grad(inputs)
    assert_close([v1], [v0], rel)
    assert_close(gi1 + gp1, gi0 + gp0, rel)
    assert after.history[-1].name == pass_.__name__
    return after


def test_dead_code_is_removed():
    def f(x):
        unused = x.exp() * 3.0  # noqa: F841
        return x * x

    program = make_program(lambda x: (x * x, x.exp() * 3.0)[0], [2.0])
    # build one whose equations include a dead one: trace both outputs, keep one
    program = make_program(lambda x: (x * x, x.exp() * 3.0), [2.0])
    program.outputs = program.outputs[:1]
    after = check_pass(eliminate_dead_code, program, [2.0])
    assert program.count() == 3 and after.count() == 1
    assert "removed" in str(after.history)


def l2_inside(model, params, alpha=1e-4):
    def per_example(x0, x1, y):
        score = model([x0, x1])
        return (1 + -y * score).relu() + alpha * sum(p * p for p in params)

    return per_example


def test_hoisting_moves_the_l2_penalty_to_once_per_batch():
    model = MLP(2, [3, 1])
    params = model.parameters()
    program = make_program(l2_inside(model, params), [0.5, -0.2, 1.0], params)
    after = check_pass(hoist_parameter_only, program, [0.5, -0.2, 1.0], rel=1e-15)
    assert same(after([0.5, -0.2, 1.0])[0], program([0.5, -0.2, 1.0])[0])  # values: same bits
    assert len(after.once) == 2 * len(params) + 1  # p*p, the adds, times alpha
    assert not any(v.kind == "input" for e in after.once for v in e.vars())
    assert "once per batch:" in str(after)
    # `equations`: every equation in the order it runs, the once-per-batch part first
    assert after.equations == [*after.once, *after.eqns]
    assert len(after.equations) == len(program.equations) == len(program.eqns)


@pytest.mark.parametrize(
    "style",
    ["sum with start", "sum then bias", "bias then sum", "loop", "loop products first", "tree"],
)
def test_every_association_of_a_sum_of_products_is_one_dot_product(style):
    ws = [Value(v) for v in (0.5, -1.25, 2.0, 0.75)]
    b = Value(0.1)

    def f(*xs):
        terms = [w * x for w, x in zip(ws, xs)]
        if style == "sum with start":
            return sum(terms, b)
        if style == "sum then bias":
            return sum(terms) + b
        if style == "bias then sum":
            return b + sum(terms)
        if style == "loop":
            acc = b
            for t in terms:
                acc = acc + t
            return acc
        if style == "loop products first":
            acc = b
            for t in terms:
                acc = t + acc
            return acc
        return (terms[0] + terms[1]) + (terms[2] + (terms[3] + b))

    xs = [1.5, -0.5, 0.25, 3.0]
    program = make_program(f, xs, [*ws, b])
    after = check_pass(recognize_dots, program, xs, rel=1e-15)
    assert [e.prim for e in after.eqns] == ["linear"]
    n = 4
    lin = after.eqns[0]
    assert lin.operands[:n] == tuple(after.params[:n])  # the weights are the params
    assert lin.operands[-1] is after.params[n]
    if style in ("sum with start", "loop"):  # linear's own order: the same bits
        assert same(after(xs)[0], program(xs)[0])


def test_a_sum_with_two_other_terms_is_not_a_dot_product_but_its_parts_are():
    w = Value(2.0)

    def f(x, y, z):
        return (w * x + w * y + 1.0) * z + (x + z)

    program = make_program(f, [1.0, 2.0, 3.0], [w])
    after = check_pass(recognize_dots, program, [1.0, 2.0, 3.0], rel=1e-15)
    assert after.count("linear") == 1


def test_micrograd_style_mlp_becomes_dense_layers_and_maps():
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    program = make_program(l2_inside(model, params), [0.5, -0.2, 1.0], params)
    inputs = [0.5, -0.2, 1.0]
    p = check_pass(eliminate_dead_code, program, inputs)
    p = check_pass(hoist_parameter_only, p, inputs)
    p = check_pass(recognize_dots, p, inputs)
    p = check_pass(group_dense, p, inputs)
    assert p.count("dense") == 3
    p = check_pass(group_maps, p, inputs)
    assert p.count("map") == 2
    p = check_pass(fold_packs, p, inputs)
    p = check_pass(eliminate_dead_code, p, inputs)
    assert p.count("pack") == 1  # the inputs x0 x1 only
    assert p.count() < 20 < program.count()
    assert str(p) == str(optimize(program))
    history = str(optimize(program).history)
    for name in ("hoist_parameter_only", "recognize_dots", "group_dense", "group_maps"):
        assert name in history


def test_nn_linear_neurons_group_into_dense_layers_too():
    ws = [[Value(0.1 * (i + j)) for j in range(3)] for i in range(4)]
    bs = [Value(0.05 * i) for i in range(4)]

    def f(a, b, c):
        hidden = [linear(w, [a, b, c], bias).tanh() for w, bias in zip(ws, bs)]
        return sum(hidden)

    params = [p for row in ws for p in row] + bs
    program = make_program(f, [0.3, 0.2, -0.1], params)
    after = optimize(program)
    assert after.count("dense") == 2 and after.count("map") == 1  # the layer, then the sum
    v0, _, g0 = program.value_and_grad([0.3, 0.2, -0.1])
    v1, _, g1 = after.value_and_grad([0.3, 0.2, -0.1])
    assert_close([v1], [v0])
    assert_close(g1, g0)


@settings(max_examples=60, deadline=None)
@given(graph=graphs(n_inputs=(1, 3), max_steps=10, smooth=True), data=st.data())
def test_optimize_keeps_values_and_gradients_on_random_graphs(graph, data):
    """Every pass together, on random graphs over the op table, to 1e-12 of the largest."""
    xs = data.draw(st.lists(st.floats(-2, 2), min_size=graph.n_inputs, max_size=graph.n_inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            regs = graph.registers([Value(x) for x in xs])
        except (ValueError, ZeroDivisionError, OverflowError):
            assume(False)
        assume(finite_values(regs, 1e100))
        program = make_program(graph, xs)
    v0, g0, _ = program.value_and_grad(xs)
    v1, g1, _ = optimize(program).value_and_grad(xs)
    assume(all(math.isfinite(g) for g in g0))
    assert_close([v1], [v0])
    assert_close(g1, g0)
    # and against the engine itself
    if len(graph.outputs) == 1:
        ve, ge, _ = engine_grads(graph, xs, [])
        assert_close([v1], [ve])
        assert_close(g1, ge)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=12),
    st.floats(-1e3, 1e3),
)
def test_regrouping_a_sum_stays_within_the_documented_bound(pairs, bias):
    """`sum(w*x) + b` regrouped as `b + w1*x1 + ...`: within n * 2**-53 * sum(|terms|)."""
    ws = [Value(w) for w, _ in pairs]
    b = Value(bias)

    def f(*xs):
        return sum(w * x for w, x in zip(ws, xs)) + b

    xs = [x for _, x in pairs]
    program = make_program(f, xs, [*ws, b])
    after = recognize_dots(program)
    assert after.count("linear") == 1 and after.count() == 1
    terms = [w * x for w, x in pairs] + [bias]
    bound = (len(terms) + 1) * 2.0**-53 * sum(abs(t) for t in terms)
    assert abs(after(xs)[0] - program(xs)[0]) <= bound
    _, _, g0 = program.value_and_grad(xs)
    _, _, g1 = after.value_and_grad(xs)
    assert g1 == g0  # each gradient is one product: the same bits


def test_a_sum_over_a_layer_becomes_one_row_of_ones():
    model = MLP(2, [4, 3], act="tanh")
    params = model.parameters()

    def f(a, b):
        zs = model([a, b])
        return sum(z.exp() for z in zs).log() - zs[0]  # softmax cross-entropy, class 0

    program = make_program(f, [0.3, -0.4], params)
    p = program
    for pass_ in (recognize_dots, group_dense, group_maps, fold_packs):
        p = pass_(p)
    after = check_pass(recognize_column_sums, p, [0.3, -0.4])
    sums = [e for e in after.eqns if e.prim == "dense" and e.attrs["W"] == [[1.0, 1.0, 1.0]]]
    assert len(sums) == 1 and sums[0].attrs["b"] == [0.0]
    assert optimize(program).count("add") == 0


def test_an_op_over_a_layer_and_a_shared_value_is_one_map():
    model = MLP(2, [4, 3], act="tanh")
    params = model.parameters()
    shift = Value(0.25, "shift")

    def f(a, b):
        zs = model([a, b])
        peak = (zs[0] * zs[1]).tanh() + shift  # one per-example scalar, shared by every column
        return sum((z - peak).exp() for z in zs).log() + peak

    inputs = [0.3, -0.4]
    program = make_program(f, inputs, [*params, shift])
    p = program
    for pass_ in (recognize_dots, group_dense):
        p = pass_(p)
    after = check_pass(group_maps, p, inputs)
    maps = {e.op.name: e for e in after.eqns if e.prim == "map"}
    assert set(maps) == {"tanh", "sub", "exp"}  # tanh of the layer, then z - peak, then exp
    sub = maps["sub"]
    assert sub.operands[0].width == 3 and sub.operands[1].width is None
    optimized = optimize(program)
    v0, _, g0 = program.value_and_grad(inputs)
    v1, _, g1 = optimized.value_and_grad(inputs)
    assert_close([v1], [v0])
    assert_close(g1, g0)
    assert "map[sub]" in str(optimized)


def test_a_dot_product_of_two_per_example_vectors_is_a_map_and_a_sum():
    from autograd_core.program.passes import recognize_rowwise_dots

    model = MLP(2, [4, 3], act="tanh")
    params = model.parameters()

    def f(a, b, t0, t1, t2):  # softmax cross-entropy's target term: sum(t_i * z_i)
        zs = model([a, b])
        return sum(t * z for t, z in zip((t0, t1, t2), zs))

    inputs = [0.3, -0.4, 0.0, 1.0, 0.0]
    program = make_program(f, inputs, params)
    p = program
    for pass_ in (recognize_dots, group_dense, group_maps, fold_packs):
        p = pass_(p)
    after = check_pass(recognize_rowwise_dots, p, inputs)
    assert [e.prim for e in after.eqns if e.prim in ("pack", "map")][-2:] == ["pack", "map"]
    assert after.count("linear") == 0


def test_bad_arguments_are_type_and_value_errors_naming_the_entry():
    w = Value(0.5)
    program = make_program(lambda x, y: (w * x + y).tanh(), [1.0, 2.0], params=[w])
    cases = [
        (lambda: program(["a", 1.0]), TypeError, r"program: inputs\[0\] needs a real number"),
        (lambda: program(None), TypeError, "program: inputs must be a sequence of numbers"),
        (lambda: program("12"), TypeError, "program: inputs must be a sequence of numbers"),
        (lambda: program([1.0, 2.0], 5), TypeError, "params must be a sequence of numbers"),
        (lambda: program([1.0, 2.0], ["x"]), TypeError, r"program: params\[0\] needs a real"),
        (lambda: program([1.0]), ValueError, "expected 2 input numbers, got 1"),
        (lambda: program.value_and_grad([None, 1.0]), TypeError, r"inputs\[0\]"),
        (lambda: optimize(None), TypeError, "optimize needs a Program"),
        (lambda: optimize("x"), TypeError, "optimize needs a Program"),
        (lambda: make_program(lambda x: x, [1.0], w), TypeError, "params must be a list"),
        (lambda: make_program(lambda x: x, [1.0], 3), TypeError, "params must be a list"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
