"""detect_anomaly: the first NaN or infinity, forward or backward, named and located."""

import math
import threading

import pytest

from autograd_core.anomaly import AnomalyError, detect_anomaly, nearest_label
from autograd_core.engine import Value


def deep_graph_with_an_underflow():
    """A chain whose log sees a subnormal number: log is finite, its slope 1/x is inf."""
    x = Value(1e-200, "x")
    h = x * 1e-100  # 1e-300: still normal
    h.label = "hidden"
    t = h * 1e-10  # 1e-310: subnormal, 10 ulps of precision left
    u = t * 3.0
    return x, u.log() + 1.0


def test_forward_points_at_the_log_and_the_nearest_label():
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        deep_graph_with_an_underflow()
    message = str(info.value)
    assert "forward pass" in message
    assert message.startswith("anomaly in the forward pass: log of [")
    assert "local derivative inf" in message
    assert "nearest labelled node: 'hidden', 3 steps back" in message
    assert isinstance(info.value, ArithmeticError)


def test_outside_the_context_nothing_is_checked():
    x, y = deep_graph_with_an_underflow()  # no error: the graph is built
    y.backward()  # and backward runs: the infinity reaches x silently
    assert math.isfinite(y.data)
    assert math.isinf(x.grad)


def test_overflow_in_forward_is_flagged_at_the_multiplication():
    big = Value(1e308, "big")
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        big * 10.0
    message = str(info.value)
    assert "mul (*) of ['big' = 1e+308, 10.0 (constant)] gave output inf" in message
    assert "nearest labelled node: 'big', 1 step back" in message


def test_sqrt_at_zero_is_flagged():
    with detect_anomaly(), pytest.raises(AnomalyError, match="sqrt of \\['z' = 0.0\\]"):
        Value(0.0, "z").sqrt()


def test_backward_nan_from_zero_times_infinity():
    # Built outside anomaly mode, so sqrt's infinite slope is not caught in
    # the forward pass; backward then computes inf * 0 = nan.
    x = Value(0.0, "x")
    y = x.sqrt() * 0.0
    y.label = "y"
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        y.backward()
    message = str(info.value)
    assert "backward pass" in message
    assert "sqrt of ['x' = 0.0]" in message
    assert "into its operand 'x'" in message
    assert "is nan = local derivative inf * upstream gradient 0.0" in message


def test_backward_overflow_with_a_finite_forward():
    w = Value(-1.0, "w")
    with detect_anomaly():
        r = w.relu()  # 0: every forward number is finite
        loss = r * 1e300 * 1e300
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert "anomaly in the backward pass" in message
    assert "mul (*) of [0.0, 1e+300 (constant)]" in message  # the first multiplication
    assert "is inf = local derivative 1e+300 * upstream gradient 1e+300" in message
    assert "nearest labelled node: 'w', 2 steps back" in message


def test_no_label_nearby():
    with detect_anomaly(), pytest.raises(AnomalyError, match="no labelled node nearby"):
        Value(1e308) * 10.0


def test_nearest_label_is_breadth_first():
    far = Value(1.0, "far")
    near = Value(2.0, "near")
    a = far.exp().exp()  # far is 2 steps behind y's first operand path
    y = a * near
    assert nearest_label(y) == ("near", 1)
    y.label = "self"
    assert nearest_label(y) == ("self", 0)
    assert nearest_label(Value(1.0)) is None


def test_mode_ends_with_the_block_even_after_an_error():
    with pytest.raises(AnomalyError), detect_anomaly():
        Value(0.0).sqrt()
    assert Value(0.0).sqrt().data == 0.0  # unchecked again


def test_usable_as_a_decorator():
    @detect_anomaly()
    def f():
        return Value(0.0).sqrt()

    with pytest.raises(AnomalyError):
        f()


def test_other_threads_are_not_checked():
    results = []

    def worker():
        results.append(Value(0.0).sqrt().data)

    with detect_anomaly():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert results == [0.0]


def test_nan_slope_of_a_negative_base_in_the_exponent_is_reported():
    base = Value(-2.0, "base")
    n = Value(2.0, "n")
    with (
        detect_anomaly(),
        pytest.raises(AnomalyError, match="local derivative nan for Value operand #1"),
    ):
        base**n


def test_create_graph_backward_anomaly_is_reported_as_backward_pass():
    # Every forward number is finite; the gradient sent into x is
    # (-1e200) * 1e200 = -inf, which only the backward pass computes.
    x = Value(1e-200, label="x")
    y = 1e-200 / x
    loss = y * 1e200
    with detect_anomaly(), pytest.raises(AnomalyError, match="backward pass"):
        loss.backward(create_graph=True)
    with detect_anomaly(), pytest.raises(AnomalyError, match="backward pass"):
        loss.backward()
