"""gradcheck and numerical_gradient at the edges of floating point, and bad arguments.

An absolute step vanished next to a large x (1e20 + 1e-6 == 1e20) and the
difference quotient divided by zero; the step is now eps * max(1, |x|), and a
step that still rounds away (or leaves the finite floats) is refused clearly.
"""

import math

import pytest

from autograd_core.engine import Value
from autograd_core.gradcheck import GradcheckError, gradcheck, numerical_gradient


def square(x):
    return x * x


def cube_over(x):
    return x * x * x / 3.0


@pytest.mark.parametrize("x", [1e20, -1e20, 1e300, 12345.678, 1e-20, 0.0])
def test_large_and_small_inputs_get_a_step_that_moves_them(x):
    (g,) = numerical_gradient(cube_over, [x])
    if abs(x) < 1e100:  # x**3 overflows past 1e102
        assert math.isclose(g, x * x, rel_tol=1e-6, abs_tol=1e-9)
        assert gradcheck(cube_over, [Value(x)])
    (g,) = numerical_gradient(lambda v: v * 2.5 - 1.0, [x])
    assert math.isclose(g, 2.5, rel_tol=1e-6)


def test_gradcheck_of_1e20_no_longer_divides_by_zero():
    x = Value(1e20, "x")
    assert gradcheck(lambda v: v * 3.0, [x])
    assert x.data == 1e20 and x.grad == 0.0  # untouched


@pytest.mark.parametrize("x", [1.0, 1e20, 0.5])
def test_an_eps_too_small_to_move_x_is_refused(x):
    with pytest.raises(ValueError, match=r"eps=5e-324 is too small to move input 0") as info:
        numerical_gradient(square, [x], eps=5e-324)
    assert "x + h == x - h" in str(info.value) and "larger eps" in str(info.value)
    with pytest.raises(ValueError, match="too small to move input 0 \\('w'\\)"):
        gradcheck(square, [Value(x, "w")], eps=5e-324)


def test_the_smallest_eps_still_works_where_it_can_move_x():
    # at x = 0 the step 5e-324 is representable: the quotient is finite, no division by zero
    (g,) = numerical_gradient(lambda v: v * 2.0, [0.0], eps=5e-324)
    assert g == 2.0


def test_a_step_leaving_the_finite_floats_is_refused():
    with pytest.raises(ValueError, match="leaves the finite floats"):
        numerical_gradient(lambda v: v * 1.0, [1.7e308], eps=0.1)


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_a_non_finite_input_is_refused(x):
    with pytest.raises(
        ValueError, match=r"input 1 \('b'\) is .*finite differences need a finite point"
    ):
        numerical_gradient(lambda a, b: a * b, [Value(1.0), Value(x, "b")])


def test_data_is_restored_after_a_refusal():
    a, b = Value(3.0, "a"), Value(1e20, "b")
    with pytest.raises(ValueError):
        numerical_gradient(lambda x, y: x * y, [a, b], eps=1e-17)
    assert (a.data, b.data) == (3.0, 1e20)


def test_a_relative_step_still_catches_wrong_gradients_at_large_x():
    from autograd_core.engine import primitive

    @primitive("wrong_square")
    def wrong(m, x):
        return x * x, 3 * x  # derivative should be 2x

    with pytest.raises(GradcheckError):
        gradcheck(lambda v: wrong(v), [1e10])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"eps": 0.0}, ValueError, "eps must be a positive finite number"),
        ({"eps": -1e-6}, ValueError, "eps must be a positive finite number"),
        ({"eps": math.inf}, ValueError, "eps must be a positive finite number"),
        ({"eps": math.nan}, ValueError, "eps must be a positive finite number"),
        ({"eps": "1e-6"}, ValueError, "eps must be a positive finite number"),
        ({"eps": True}, ValueError, "eps must be a positive finite number"),
        ({"atol": -1.0}, ValueError, "atol must be a number >= 0"),
        ({"rtol": math.nan}, ValueError, "rtol must be a number >= 0"),
        ({"atol": None}, ValueError, "atol must be a number >= 0"),
    ],
)
def test_bad_tolerances_and_steps_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(square, [1.0], **kwargs)


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        ([], ValueError, "inputs is empty"),
        ("12", TypeError, "inputs must be a list or tuple"),
        ({1.0: 2.0}, TypeError, "inputs must be a list or tuple"),
        ([1.0, "2"], TypeError, r"inputs\[1\] must be a Value or a real number"),
        ([1j], TypeError, r"inputs\[0\] must be a Value or a real number"),
    ],
)
def test_bad_inputs_are_refused(inputs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(square, inputs)
    with pytest.raises(error, match=match):
        numerical_gradient(square, inputs)


def test_a_function_returning_the_wrong_thing_is_named():
    with pytest.raises(TypeError, match="f must return a scalar Value"):
        gradcheck(lambda v: [v], [1.0])
    with pytest.raises(TypeError, match="f must return a scalar Value"):
        numerical_gradient(lambda v: "x", [1.0])
    with pytest.raises(TypeError, match="f must be a callable"):
        gradcheck(3.0, [1.0])
