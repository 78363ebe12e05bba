"""`export_onnx` of traced functions: random expression graphs run in ONNX Runtime.

Every built-in op and several user primitives (written with `m.*` and
`m.where`) appear in the generated graphs; each exported model passes
`onnx.checker` and gives the engine's numbers on a batch of random points to
1e-12 relative, with an absolute floor of 1e-12: ONNX Runtime's exp, tanh,
sin, ... may differ from the C library's by an ulp, and a difference that
later cancels leaves an absolute, not a relative, trace. Graphs keep log,
sqrt, the divisor and the base of pow on positive numbers (v*v + c, c >= 0.2, itself
part of the graph) and are discarded when a value leaves [-1e3, 1e3], so that
rounding is not amplified past what the tolerance is meant to measure.

Needs the `onnx` extra, which scripts/setup.sh installs.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import Builder, Graph, graphs

from autograd_core import export_onnx, ops
from autograd_core.engine import OPS, Value, primitive
from autograd_core.onnx_export import ExportError, function_to_onnx
from autograd_core.trace import TracingError, TracingWarning

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
np = pytest.importorskip("numpy", reason="the onnx extra is not installed")

RTOL = 1e-12
LIMIT = 1e3


# ---------------------------------------------------------------------------
# User primitives, written as users are told to: m.* functions and m.where.


@primitive("softplus")
def softplus(m, x):
    return m.log(1 + m.exp(x)), m.sigmoid(x)


@primitive("pick_max", 2)
def pick_max(m, x, y):
    bigger = x > y
    return (
        m.where(bigger, lambda: x, lambda: y),
        m.where(bigger, 1.0, 0.0),
        m.where(bigger, 0.0, 1.0),
    )


@primitive("huber")
def huber(m, x):
    small = m.abs(x) <= 1.0
    out = m.where(small, lambda: 0.5 * x * x, lambda: m.abs(x) - 0.5)
    return out, m.where(small, lambda: x, lambda: m.sign(x))


@primitive("ramp")
def ramp(m, x):
    # step and sign in a forward value; relu' is step
    return m.step(x) * x + 0.25 * m.sign(x), m.step(x)


@primitive("mix", 3)
def mix(m, a, b, c):
    # dot, pow, div, sqrt, tanh, cos and sin in one rule
    t, r = m.tanh(c), m.sqrt(a * a + 1.0)
    out = m.dot([a, b], [t, m.cos(c)], m.sin(a)) + m.div(m.pow(r, 1.5), 2.0)
    da = t + m.cos(a) + 0.75 * a * m.div(m.pow(r, 1.5), r * r)
    return out, da, m.cos(c), a * (1.0 - t * t) - b * m.sin(c)


USER = {op.name: op for op in (softplus, pick_max, huber, ramp, mix)}
ALL_OPS = sorted(OPS) + sorted(USER)

# Random graphs (tests/strategies.py) over every built-in op and the user
# primitives; log, sqrt, the divisor and pow's base see r*r + c > 0, kinks are
# left in.
onnx_graphs = graphs(extra=USER, n_inputs=(1, 3), max_steps=8, n_outputs=(1, 2), smooth=False)


def one_op(name: str, width: int = 2) -> Graph:
    """`name` applied to its own inputs (fitted with c = 0.5 where the forward needs it)."""
    op = OPS.get(name) or USER[name]
    k = 2 * width + 1 if op.arity is None else op.arity
    b = Builder(k, USER)
    b.add(name, *[b.fit(name, i, i, 0.5, smooth=False) for i in range(k)])
    return b.graph()


def engine_rows(fn, rows):
    """The engine's outputs per row; None when a row leaves the tested range."""
    from autograd_core.engine import walk

    results = []
    for row in rows:
        try:
            out = fn(*[Value(x) for x in row])
        except (ArithmeticError, ValueError):
            return None
        outs = out if isinstance(out, tuple) else (out,)
        if any(abs(v.data) > LIMIT or not math.isfinite(v.data) for v in walk(outs)):
            return None
        results.append([v.data for v in outs])
    return np.array(results)


def run(proto, feeds):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    bad = ~(np.abs(got - want) <= RTOL * np.maximum(np.abs(want), 1.0))
    assert not bad.any(), f"ORT {got[bad][:4]} vs engine {want[bad][:4]}"


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(
    fn=onnx_graphs,
    rows=st.lists(st.lists(st.floats(-3, 3), min_size=3, max_size=3), min_size=1, max_size=6),
)
def test_random_graphs_run_in_onnx_runtime_as_in_the_engine(fn, rows):
    n_inputs = fn.n_inputs
    rows = [r[:n_inputs] for r in rows]
    want = engine_rows(fn, rows)
    assume(want is not None)
    proto = function_to_onnx(fn, rows[0])
    onnx.checker.check_model(proto, full_check=True)
    feeds = {f"x{i}": np.array([r[i] for r in rows]) for i in range(n_inputs)}
    got = run(proto, feeds)
    assert len(got) == want.shape[1]
    for j, column in enumerate(got):
        assert column.dtype == np.float64 and column.shape == (len(rows),)
        assert_close(column, want[:, j])


@pytest.mark.parametrize("name", ALL_OPS)
def test_every_op_exports_on_its_own(tmp_path, name):
    """Each op alone, at points across its domain (the generator may miss a rare one)."""
    fn = one_op(name)
    k = fn.n_inputs
    rng = np.random.default_rng(len(name))
    columns = rng.uniform(-2.5, 2.5, size=(k, 40))
    columns[:, :3] = [-1.0, 0.0, 1.0]  # kinks of relu, abs, step, sign, huber

    path = export_onnx(fn, list(columns[:, 0]), tmp_path / f"{name}.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {f"x{i}": columns[i] for i in range(k)})
    want = [fn(*[Value(float(c)) for c in col]).data for col in columns.T]
    assert_close(got, np.array(want))


def test_every_math_function_runs_in_the_onnx_namespace():
    """Each ops.MATH entry through the namespace, against its float function."""
    from autograd_core.onnx_export import OnnxGraph, _finish, onnx_namespace

    m = onnx_namespace()
    a, b = np.array([0.25, 1.5, 2.0, 0.75]), np.array([1.25, -0.5, 3.0, 0.75])
    for name, entry in ops.MATH.items():
        g = OnnxGraph()
        x, y = g.input("a"), g.input("b")
        if name == "dot":
            calls = (lambda f, u, v: f([u, v], [v, 2.0], u),)
        elif name == "where":
            calls = (lambda f, u, v: f(u > v, u, lambda: v * 2.0),)
        elif name in ("pow", "div", "maximum"):
            calls = (lambda f, u, v: f(u, v),)
        elif name == "logsumexp":
            calls = (lambda f, u, v: f(u, v, 0.5),)
        else:
            calls = (lambda f, u, v: f(u),)
        (call,) = calls
        out = call(getattr(m, name), x, y)
        g.nodes.append(onnx.helper.make_node("Identity", [out.name], ["y"]))
        proto = _finish(onnx, g, ["a", "b"], ["y"], entry.fn)
        (got,) = run(proto, {"a": a, "b": b})
        want = [call(entry.fn, u, v) for u, v in zip(a.tolist(), b.tolist())]
        assert_close(got, np.array(want))


def test_sigmoid_keeps_its_relative_precision_far_out():
    """ORT's float64 Sigmoid gives 9.35e-14 for 9.36e-14 at -30; the exported formula does not."""
    x = np.array([-700.0, -200.0, -40.0, -30.0, -1.0, 0.0, 1.0, 30.0, 40.0])
    (got,) = run(function_to_onnx(lambda v: v.sigmoid(), [0.0]), {"v": x})
    want = np.array([Value(float(v)).sigmoid().data for v in x])
    assert (want[:3] > 0).all()
    assert (np.abs(got - want) <= RTOL * np.abs(want)).all(), (got, want)


def test_derivatives_are_pruned(tmp_path):
    proto = function_to_onnx(lambda x: x.sigmoid(), [0.3])
    types = [n.op_type for n in proto.graph.node]
    # the local derivative s * (1 - s) would add Sub and Mul
    assert "Sub" not in types and "Mul" not in types


# ---------------------------------------------------------------------------
# Names, outputs, constants and captured weights.


def test_names_default_to_the_parameters_and_y(tmp_path):
    proto = function_to_onnx(lambda a, b: a * b + 1, [1.0, 2.0])
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["y"]
    proto = function_to_onnx(lambda *xs: (xs[0], xs[1] * 2), [1.0, 2.0])
    assert [i.name for i in proto.graph.input] == ["x0", "x1"]
    assert [o.name for o in proto.graph.output] == ["y0", "y1"]
    proto = function_to_onnx(lambda x, y: x + y, [1.0, 2.0])
    assert [o.name for o in proto.graph.output] == ["y_"]  # "y" is an input


def test_given_names_and_tuple_outputs(tmp_path):
    def f(u, v):
        return u * v, u - v, u  # an input returned as it is

    path = export_onnx(f, [1.0, 2.0], tmp_path / "f.onnx", ["p", "q"], ["prod", "diff", "same"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    p, q = np.array([1.5, -2.0]), np.array([0.5, 4.0])
    prod, diff, same = session.run(["prod", "diff", "same"], {"p": p, "q": q})
    assert (prod == p * q).all() and (diff == p - q).all() and (same == p).all()


def test_constant_outputs_have_the_batch_shape(tmp_path):
    w = Value(0.5, "w")  # captured: a weight, the same for every row

    def f(x):
        return Value(2.0).exp() + 1, x * 0 + 3, 5.0, w * 4

    proto = function_to_onnx(f, [1.0])
    outs = run(proto, {"x": np.array([1.0, 2.0, 3.0])})
    want = [[math.exp(2.0) + 1] * 3, [3.0] * 3, [5.0] * 3, [2.0] * 3]
    assert [o.tolist() for o in outs] == want


def test_captured_values_become_named_weights():
    w = Value(0.75, "layer.w")
    b = Value(-0.25, "layer.b")
    proto = function_to_onnx(lambda x: (w * x + b).tanh(), [1.0])
    weights = {t.name: onnx.numpy_helper.to_array(t).item() for t in proto.graph.initializer}
    assert weights["layer.w"] == 0.75 and weights["layer.b"] == -0.25
    (y,) = run(proto, {"x": np.array([2.0])})
    assert y[0] == (w * 2.0 + b).tanh().data


def test_an_mlp_traced_as_a_function_matches_module_export(tmp_path):
    from nn.layers import MLP

    model = MLP(2, [4, 1], "tanh")
    proto = function_to_onnx(lambda a, b: model([a, b]), [0.1, 0.2])
    X = np.random.default_rng(0).normal(size=(10, 2))
    (y,) = run(proto, {"a": X[:, 0], "b": X[:, 1]})
    assert_close(y, np.array([model(list(r)).data for r in X]))
    (y2,) = ort.InferenceSession(
        str(model.export_onnx(tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    ).run(None, {"x": X})
    assert_close(y, y2[:, 0])


# ---------------------------------------------------------------------------
# What is refused.


def test_data_dependent_branch_is_a_tracing_error():
    def f(x):
        return x.exp() if x > 0 else -x

    with pytest.raises(TracingError, match="compared Values at .*test_onnx_functions.py") as e:
        function_to_onnx(f, [1.0])
    assert "retrace" not in str(e.value)  # compiled replay's way out; export has none


def test_rule_with_python_if_names_the_op_and_namespace():
    @primitive("branchy")
    def branchy(m, x):
        if x > 0:
            return x, 1.0
        return 0.0 * x, 0.0

    with pytest.raises(ExportError, match=r"'branchy'.*`if`.*ONNX namespace.*m\.where"):
        function_to_onnx(lambda x: branchy(x), [1.0])


def test_rule_calling_math_names_the_op():
    @primitive("mathy")
    def mathy(m, x):
        return math.exp(x), math.exp(x)

    with pytest.raises(ExportError, match=r"'mathy'.*m\.\* functions"):
        function_to_onnx(lambda x: mathy(x), [1.0])


@pytest.mark.parametrize(
    "body", [lambda m, x: (round(x) + x, 1.0), lambda m, x: (x if x.is_integer() else x, 1.0)]
)
def test_rule_using_float_only_python_names_the_op(body):
    floaty = primitive("floaty")(body)
    with pytest.raises(ExportError, match=r"'floaty' has no ONNX form.*m\.\* functions"):
        function_to_onnx(lambda x: floaty(x), [1.0])


def test_reading_data_warns():
    with pytest.warns(TracingWarning, match="constant"):
        function_to_onnx(lambda x: x * x.data, [2.0])


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((lambda x: x, []), ValueError, "at least one input"),
        ((lambda x: x, 1.0), TypeError, "sequence of numbers"),
        ((lambda x: x, ["a"]), TypeError, "real number"),
        ((lambda x: "no", [1.0]), TypeError, "output 0.*Value or a number"),
        ((lambda x: (), [1.0]), ValueError, "no outputs"),
        ((lambda x: x, [1.0], ["a", "b"]), ValueError, "input_names has 2"),
        ((lambda x, y: x, [1.0, 2.0], ["a", "a"]), ValueError, "repeats 'a'"),
        ((lambda x: x, [1.0], ["a"], ["a"]), ValueError, "both an input and an output"),
        ((lambda x: x + 1, [1.0], ["x"], ["const:1.0"]), ValueError, "used inside the graph"),
        ((42, [1.0]), TypeError, "function of Values"),
    ],
)
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        function_to_onnx(*args)


def test_export_writes_atomically_and_returns_the_path(tmp_path):
    path = tmp_path / "f.onnx"
    path.write_bytes(b"old")
    assert export_onnx(lambda x: x.relu(), [1.0], path) == path
    onnx.checker.check_model(str(path), full_check=True)
    assert [p.name for p in tmp_path.iterdir()] == ["f.onnx"]


def test_import_autograd_core_does_not_import_onnx():
    code = "import sys, autograd_core; assert 'onnx' not in sys.modules, 'onnx imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_warning_for_a_plain_function():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        function_to_onnx(lambda x: x * 2, [1.0])


# ---------------------------------------------------------------------------
# Dense layers found by the passes.


def test_a_micrograd_style_mlp_exports_as_gemm_layers():
    """Scalar code (sum of products, relu): a few Gemm and Relu nodes, not thousands of Mul."""
    from micrograd_style import MLP as ScalarMLP

    model = ScalarMLP(2, [16, 16, 1], seed=5)

    def f(a, b):
        return model([a, b]).tanh()

    proto = function_to_onnx(f, [0.1, 0.2])
    types = [n.op_type for n in proto.graph.node]
    assert types.count("Gemm") == 3 and types.count("Relu") == 2
    assert len(types) <= 12, types  # the traced graph has 1,000+ nodes
    assert "Mul" not in types
    from autograd_core.onnx_export import exported_program

    assert exported_program(f, [0.1, 0.2]).count("dense") == 3
    X = np.random.default_rng(0).normal(size=(25, 2))
    (y,) = run(proto, {"a": X[:, 0], "b": X[:, 1]})
    want = np.array([f(Value(r[0]), Value(r[1])).data for r in X])
    scale = np.abs(want).max()
    assert (np.abs(y - want) <= 1e-12 * scale).all(), np.abs(y - want).max()


def test_a_captured_weight_labelled_like_an_output_is_renamed_not_refused():
    # Issue 19: a weight labelled "y" gave "choose other names" when the user chose none.
    w = Value(2.0, "y")
    proto = function_to_onnx(lambda x: w * x, [1.0])
    assert [o.name for o in proto.graph.output] == ["y"]
    assert [t.name for t in proto.graph.initializer] == ["y#1"]
    (y,) = run(proto, {"x": np.array([1.5, -2.0])})
    assert y.tolist() == [3.0, -4.0]


def test_a_captured_weight_labelled_like_a_constant_is_renamed():
    # Issue 19: a label "const:2.0" gave a raw onnx ValidationError (two initializers).
    c = Value(3.0, "const:2.0")
    proto = function_to_onnx(lambda x: c * x + 2.0, [1.0])
    names = sorted(t.name for t in proto.graph.initializer)
    assert names == ["const:2.0", "const:2.0#1"]
    (y,) = run(proto, {"x": np.array([1.0, 2.0])})
    assert y.tolist() == [5.0, 8.0]


def test_an_input_named_like_an_internal_tensor_says_which_and_how_to_rename():
    with pytest.raises(
        ValueError, match=r"input name 'const:2.0' is also used .* a constant.*input_names="
    ):
        function_to_onnx(lambda x: x * 2.0, [1.0], input_names=["const:2.0"])


def test_maps_over_a_layer_and_a_shared_value_run_in_onnx_runtime():
    from micrograd_style import MLP as ScalarMLP

    model = ScalarMLP(2, [6, 3], seed=7, act="tanh")

    def f(a, b):
        zs = model([a, b])
        peak = (zs[0] * b).tanh()
        return sum((z - peak).exp() for z in zs).log() + peak

    proto = function_to_onnx(f, [0.1, 0.2])
    types = [n.op_type for n in proto.graph.node]
    assert types.count("Exp") == 1 and types.count("Gemm") == 3  # two layers, the sum
    X = np.random.default_rng(1).normal(size=(20, 2))
    (y,) = run(proto, {"a": X[:, 0], "b": X[:, 1]})
    want = np.array([f(Value(r[0]), Value(r[1])).data for r in X])
    assert (np.abs(y - want) <= 1e-12 * np.abs(want).max()).all()


def test_labels_and_op_names_with_nul_or_lone_surrogates_export_escaped(tmp_path):
    # ONNX names are UTF-8: a lone surrogate cannot be written, NUL ends a C string.
    # They are written as Python writes them (as drawings and explorer pages show them).
    w = Value(0.5, label="w\ud800\x00")

    @primitive("sq\udfff", symbol="s")
    def sq(m, x):
        return x * x, 2.0 * x

    def f(x):
        return sq(w * x).tanh()

    path = export_onnx(f, [1.5], tmp_path / "m.onnx")
    model = onnx.load(str(path))
    assert [t.name for t in model.graph.initializer if t.name.startswith("w")] == ["w\\ud800\\x00"]
    assert any(n.name.split("/")[0].endswith("sq\\udfff") for n in model.graph.node)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.array([1.5, -0.25])})
    assert y.tolist() == pytest.approx([f(Value(v)).data for v in (1.5, -0.25)], rel=1e-12)
