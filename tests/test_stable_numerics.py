"""Stable losses and primitives against mpmath at 60 digits (issue 19 item 9).

`binary_cross_entropy_with_logits` is (1 - y) softplus(z) + y softplus(-z),
softmax cross-entropy is logsumexp(z - z_k): both built on op-table
primitives with exact derivatives, accurate to <= 1e-13 relative.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from autograd_core import Value, compile_function
from autograd_core.batched import compile_batched
from autograd_core.engine import OPS, gradients
from autograd_core.stable import log1p, logsumexp, maximum, softplus
from nn.batched import per_example_loss
from nn.losses import binary_cross_entropy_with_logits, softmax_cross_entropy

mpmath.mp.dps = 60
REL = 1e-13


def _rel(got: float, want: mpmath.mpf) -> float:
    want_f = float(want)
    if want_f == 0.0:
        return abs(got)
    return abs(got - want_f) / abs(want_f)


def _bce_exact(z: float, y: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    zm, ym = mpmath.mpf(z), mpmath.mpf(y)
    loss = (1 - ym) * mpmath.log1p(mpmath.exp(zm)) + ym * mpmath.log1p(mpmath.exp(-zm))
    return loss, 1 / (1 + mpmath.exp(-zm)) - ym


@pytest.mark.parametrize("y", [0.0, 0.25, 1.0])
@pytest.mark.parametrize(
    "z", [0.0, -0.0, 1e-300, 1e-8, 0.5, -3.0, 20.0, 40.0, -40.0, 700.0, -745.0]
)
def test_bce_with_logits_loss_and_gradient_match_mpmath(z: float, y: float) -> None:
    zv = Value(z)
    loss = binary_cross_entropy_with_logits([zv], [y])
    (dz,) = gradients(loss, [zv])
    want_loss, want_grad = _bce_exact(z, y)
    assert _rel(loss.data, want_loss) <= REL, (loss.data, float(want_loss))
    assert abs(dz - float(want_grad)) <= 1e-15 + REL * abs(float(want_grad)), (dz, want_grad)


def test_bce_with_logits_at_zero_has_gradient_half_minus_y() -> None:
    # A dead relu layer and an output bias at its 0.0 init: z is exactly 0.
    for y in (0.0, 0.5, 1.0):
        z = Value(0.0)
        binary_cross_entropy_with_logits([z], [y]).backward()
        assert z.grad == 0.5 - y


def test_bce_with_logits_keeps_a_tiny_loss() -> None:
    loss = binary_cross_entropy_with_logits([Value(40.0)], [1.0]).data
    assert loss > 0 and _rel(loss, _bce_exact(40.0, 1.0)[0]) <= REL  # 4.25e-18, not 0.0


def _ce_exact(zs: list[float], k: int) -> tuple[mpmath.mpf, list[mpmath.mpf]]:
    zm = [mpmath.mpf(z) for z in zs]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(z - zm[k]) for z in zm))
    soft = [mpmath.exp(z - zm[k] - lse) for z in zm]
    return lse, [p - (1 if j == k else 0) for j, p in enumerate(soft)]


CASES = [[m, m - 1, m - 2.5] for m in (1e8, 1e12)] + [[20.0, 0.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("logits", CASES)
def test_softmax_ce_matches_mpmath_for_every_target(logits: list[float]) -> None:
    for k in range(len(logits)):
        zs = [Value(z) for z in logits]
        loss = softmax_cross_entropy(zs, k)
        got = gradients(loss, zs)
        want, want_grad = _ce_exact(logits, k)
        assert _rel(loss.data, want) <= REL, (logits, k, loss.data, float(want))
        for g, w in zip(got, want_grad):
            assert abs(g - float(w)) <= 1e-16 + REL * abs(float(w)), (logits, k, got, want_grad)


@pytest.mark.parametrize("name", ["bce-logits", "softmax-ce"])
def test_batched_losses_share_the_stable_formula(name: str) -> None:
    loss = per_example_loss(name)
    if name == "bce-logits":
        z, y = Value(40.0), Value(1.0)
        assert _rel(loss(z, y).data, _bce_exact(40.0, 1.0)[0]) <= REL
        assert gradients(loss(Value(0.0), Value(1.0)), [z])[0] == 0.0
        z0 = Value(0.0)
        assert gradients(loss(z0, Value(1.0)), [z0]) == [-0.5]
    else:
        zs = [Value(1e12), Value(1e12 - 1), Value(1e12 - 2.5)]
        onehot = [Value(1.0), Value(0.0), Value(0.0)]
        want, _ = _ce_exact([z.data for z in zs], 0)
        assert _rel(loss(zs, onehot).data, want) <= REL


def test_softmax_ce_compiles_and_batches_without_comparisons() -> None:
    def f(a: Value, b: Value, c: Value) -> Value:
        return softmax_cross_entropy([a, b, c], 0)

    point = [1e12, 1e12 - 1, 1e12 - 2.5]
    compiled = compile_function(f, point)
    value, grads, _ = compiled(point)
    zs = [Value(z) for z in point]
    want = f(*zs)
    assert value == want.data and list(grads) == gradients(want, zs)

    w = Value(0.0, label="w")
    per_example = per_example_loss("softmax-ce")
    step = compile_batched(
        lambda x, t: per_example([xi + w for xi in x], t), [w], (point, [1.0, 0.0, 0.0])
    )
    X = np.array([point, [20.0, 0.0, -1.0], [0.0, 20.0, -1.0]])
    Y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    mean_loss, _ = step(X, Y)
    exact = mpmath.fsum(_ce_exact(row, 0)[0] for row in X.tolist()) / 3
    assert _rel(float(mean_loss), exact) <= REL, (mean_loss, float(exact))


# ---------------------------------------------------------------------------
# The primitives themselves.


@pytest.mark.parametrize("x", [-0.999, -0.5, -1e-20, 0.0, 1e-300, 1e-10, 0.5, 3.0, 1e300])
def test_log1p_and_its_derivative(x: float) -> None:
    v = Value(x)
    out = log1p(v)
    (d,) = gradients(out, [v])
    assert _rel(out.data, mpmath.log1p(mpmath.mpf(x))) <= REL
    assert _rel(d, 1 / (1 + mpmath.mpf(x))) <= REL
    with pytest.raises(ValueError, match="log1p needs x > -1"):
        log1p(-1.0)


@pytest.mark.parametrize("x", [-745.0, -40.0, -1.0, 0.0, 1e-12, 2.0, 40.0, 800.0])
def test_softplus_and_its_derivative(x: float) -> None:
    v = Value(x)
    out = softplus(v)
    (d,) = gradients(out, [v])
    xm = mpmath.mpf(x)
    assert _rel(out.data, mpmath.log1p(mpmath.exp(xm))) <= REL
    assert _rel(d, 1 / (1 + mpmath.exp(-xm))) <= REL


def test_logsumexp_derivative_is_the_softmax_and_differentiates_again() -> None:
    zs = [Value(0.3), Value(-1.2), Value(2.0)]
    out = logsumexp(zs)
    first = gradients(out, zs, create_graph=True)
    exact = [mpmath.exp(mpmath.mpf(z.data)) for z in zs]
    total = mpmath.fsum(exact)
    for g, e in zip(first, exact):
        assert _rel(g.data, e / total) <= REL
    # d softmax_0 / d z_1 = -p0 p1
    (h01,) = gradients(first[0], [zs[1]])
    assert _rel(h01, -(exact[0] / total) * (exact[1] / total)) <= 1e-12


def test_logsumexp_edges() -> None:
    assert logsumexp([Value(1000.0), Value(1000.0)]).data == 1000 + math.log(2)
    assert logsumexp([-math.inf, -math.inf]).data == -math.inf
    assert logsumexp([math.inf, 1.0]).data == math.inf
    assert math.isnan(logsumexp([math.nan, 1.0]).data)
    with pytest.raises(ValueError, match="at least one"):
        logsumexp([])


def test_maximum_picks_and_routes_the_gradient() -> None:
    a, b = Value(1.0), Value(2.0)
    assert maximum(a, b).data == 2.0 and gradients(maximum(a, b), [a, b]) == [0.0, 1.0]
    assert gradients(maximum(b, a), [a, b]) == [0.0, 1.0]
    assert gradients(maximum(a, a * 1.0), [a]) == [1.0]  # a tie: to b, which is a
    assert math.isnan(maximum(math.nan, 1.0).data) and math.isnan(maximum(1.0, math.nan).data)
    assert OPS["maximum"] is __import__("nn.batched").batched.maximum


@pytest.mark.parametrize("name", ["log1p", "softplus", "maximum", "logsumexp"])
def test_every_interpreter_gives_the_float_result(name: str) -> None:
    """Compiled and batched replay, and ONNX, agree with the engine on the new primitives."""
    op = OPS[name]
    points = {
        "log1p": [[1e-12], [-0.75], [3.0]],
        "softplus": [[-40.0], [0.0], [40.0]],
        "maximum": [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]],
        "logsumexp": [[1e12, 1e12 - 1, 1e12 - 2.5], [20.0, 0.0, -3.0], [0.0, 0.0, 0.0]],
    }[name]
    n = len(points[0])

    def f(*xs: Value) -> Value:
        return op(*xs)

    compiled = compile_function(f, points[0])
    for p in points:
        xs = [Value(v) for v in p]
        want = f(*xs)
        value, grads, _ = compiled(p)
        assert value == want.data and list(grads) == gradients(want, xs)

    pytest.importorskip("onnxruntime")
    from autograd_core.onnx_export import function_to_onnx
    from tests.test_onnx_functions import run

    proto = function_to_onnx(f, points[0])
    feeds = {f"x{i}": np.array([p[i] for p in points]) for i in range(n)}
    names = [i.name for i in proto.graph.input]
    (got,) = run(proto, dict(zip(names, feeds.values())))
    want = np.array([f(*[Value(v) for v in p]).data for p in points])
    assert np.allclose(got, want, rtol=REL, atol=0), (got, want)
