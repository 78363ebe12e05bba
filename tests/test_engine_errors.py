"""Errors from `autograd_core.engine`: the right type, and a message that names
the operation and the offending value (or the type received and what is accepted).
"""

import re

import numpy as np
import pytest

from autograd_core.engine import Value, linear, primitive, topological_order


def raises(exc: type[Exception], *fragments: str):
    """pytest.raises matching every fragment literally, in order."""
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


# ---------------------------------------------------------------------------
# Domain errors.


@pytest.mark.parametrize("x", [0.0, -1.0])
def test_log_of_non_positive_is_a_value_error(x):
    with raises(ValueError, "log", repr(x)):
        Value(x).log()


def test_sqrt_of_negative_is_a_value_error():
    with raises(ValueError, "sqrt", "-4.0"):
        Value(-4.0).sqrt()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(0.0) ** -1,
        lambda: Value(0.0) ** Value(-1.0),
        lambda: 0 ** Value(-1.0),
    ],
)
def test_zero_to_a_negative_power_is_a_zero_division_error(make):
    with raises(ZeroDivisionError, "pow", "0.0", "-1.0"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(-8.0) ** Value(0.5),
        lambda: (-8.0) ** Value(0.5),
        lambda: Value(-8.0) ** 0.5,
    ],
)
def test_negative_base_to_a_non_integer_power_is_a_value_error(make):
    with raises(ValueError, "pow", "-8.0", "0.5"):
        make()


def test_exp_overflow_is_an_overflow_error():
    with raises(OverflowError, "exp", "1000.0"):
        Value(1000.0).exp()


def test_pow_overflow_is_an_overflow_error():
    with raises(OverflowError, "pow", "10.0", "400.0"):
        Value(10.0) ** 400


@pytest.mark.parametrize(
    "make",
    [lambda: Value(1.0) / 0, lambda: 1 / Value(0.0), lambda: Value(1.0) / Value(0.0)],
)
def test_division_by_zero(make):
    with raises(ZeroDivisionError, "division by zero", "1.0 / 0.0"):
        make()


@pytest.mark.parametrize("method", ["sin", "cos"])
def test_sin_and_cos_of_infinity_name_the_operation(method):
    with raises(ValueError, method, "inf"):
        getattr(Value(float("inf")), method)()


# ---------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "bad, type_name",
    [
        ("a", "str"),
        (None, "NoneType"),
        (1j, "complex"),
        ([1.0], "list"),
        ({"data": 1.0}, "dict"),
        (np.array([1.0]), "numpy.ndarray"),
        (np.bool_(True), "numpy.bool"),  # not a numbers.Real, unlike Python's bool
    ],
)
def test_value_of_a_non_number_is_a_type_error(bad, type_name):
    with raises(TypeError, "Value needs a real number", "int, float", f"got {type_name}"):
        Value(bad)


def test_value_of_a_value_suggests_data_or_detach():
    with raises(TypeError, "got", "Value", ".data", ".detach()"):
        Value(Value(1.0))


@pytest.mark.parametrize(
    "good, expected",
    [
        (3, 3.0),
        (2.5, 2.5),
        (True, 1.0),
        (False, 0.0),
        (np.float64(1.5), 1.5),
        (np.int64(7), 7.0),
        (np.float32(0.5), 0.5),
    ],
)
def test_value_accepts_real_numbers_as_floats(good, expected):
    v = Value(good)
    assert v.data == expected and type(v.data) is float


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x + "a",
        lambda x: "a" + x,
        lambda x: x * None,
        lambda x: x ** "2",
        lambda x: x - [1.0],
        lambda x: 1j * x,
    ],
)
def test_arithmetic_with_a_non_number_is_a_type_error(make):
    with pytest.raises(TypeError, match="Value"):
        make(Value(1.0))


def test_comparison_with_a_non_number_is_a_type_error():
    with raises(TypeError, "comparison with a Value", "got str"):
        Value(1.0) < "a"  # noqa: B015


def test_bad_label_type():
    with raises(TypeError, "label", "str", "got int"):
        Value(1.0, label=3)


def test_backward_with_a_non_number_gradient():
    y = Value(2.0) * 3
    with raises(TypeError, "backward(gradient=...)", "got str"):
        y.backward(gradient="x")


def test_topological_order_of_a_non_value():
    with raises(TypeError, "topological_order", "got float"):
        topological_order(1.0)


def test_linear_length_mismatch_is_a_value_error():
    with raises(ValueError, "2 weights", "3 inputs"):
        linear([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])


def test_linear_with_a_non_number_operand():
    with raises(TypeError, "linear", "got str"):
        linear([Value(1.0)], ["x"])


# ---------------------------------------------------------------------------
# User primitives: bad definitions, bad calls, malformed rule results.


def test_primitive_arity_must_be_positive():
    with raises(ValueError, "arity", "0"):
        primitive("nothing", arity=0)(lambda m: (1.0,))


def test_primitive_called_with_the_wrong_number_of_operands():
    @primitive("double")
    def double(m, x):
        return 2 * x, 2.0

    with raises(TypeError, "double", "1 operand", "got 2"):
        double(Value(1.0), Value(2.0))
    with raises(TypeError, "double", "got str"):
        double("x")


def test_nary_primitive_with_no_operands():
    @primitive("total", arity=None)
    def total(m, *xs):
        return (sum(xs), *[1.0] * len(xs))

    assert total(Value(1.0), 2.0).data == 3.0
    with raises(TypeError, "total", "at least one operand"):
        total()


@pytest.mark.parametrize(
    "result, fragments",
    [
        (lambda x: x * 2, ("'bad'", "tuple", "1 local derivative", "got")),
        (lambda x: [x * 2, 2.0], ("'bad'", "tuple", "got list: [")),
        (lambda x: (x * 2,), ("'bad'", "1 local derivative", "got tuple: (")),
        (lambda x: (x * 2, 2.0, 0.0), ("'bad'", "1 local derivative", "got tuple: (")),
        (lambda x: (x * 2, "2"), ("'bad'", "output or derivative", "got str")),
        (lambda x: (None, 2.0), ("'bad'", "output or derivative", "got NoneType")),
        (lambda x: (Value(x), 2.0), ("'bad'", "output or derivative", "Value")),
    ],
)
def test_malformed_rule_result_is_a_clear_type_error(result, fragments):
    @primitive("bad")
    def bad(m, x):
        return result(x)

    with raises(TypeError, "primitive", *fragments):
        bad(Value(1.0))


def test_a_value_where_a_number_is_needed_says_how_to_get_its_number() -> None:
    from autograd_core.errors import as_float

    with pytest.raises(TypeError, match=r"use v\.data for its number, or v\.detach\(\)"):
        as_float(Value(1.0), "Value.data")
