"""The NumPy meanings of relu, step and abs (batched replay's maps) against the float ones.

The maps use `np.maximum` and comparison masks instead of `np.where` and
`np.heaviside`; these tests keep their numbers equal to the checked float
implementations everywhere, the kinks and NaN included: relu(NaN) = NaN,
step(NaN) = NaN, step(0) = 0, sign(0) = 0, relu(-0.0) = +0.0.
"""

import math

import pytest

np = pytest.importorskip("numpy")

from autograd_core import ops  # noqa: E402

# The batched replay calls the maps under np.errstate(all="ignore"), as here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SPECIAL = [math.nan, -0.0, 0.0, math.inf, -math.inf, 1e-300, -1e-300, 2.5, -2.5, 5e-324]


def same(a: float, b: float) -> bool:
    """Equal as IEEE numbers: NaN equals NaN, and +0.0 differs from -0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("name", ["relu", "step", "abs", "sign"])
@pytest.mark.parametrize("size", [1, 7, 16, 1000])  # NumPy takes other loops on long arrays
def test_numpy_map_equals_the_float_function_on_arrays(name, size):
    entry = ops.MATH[name]
    rng = np.random.default_rng(size)
    values = np.concatenate([SPECIAL, rng.standard_normal(size)])[: max(size, len(SPECIAL))]
    rng.shuffle(values)
    got = entry.numpy(np, values)
    assert got.dtype == np.float64 and got.shape == values.shape
    for x, g in zip(values.tolist(), got.tolist()):
        assert same(g, entry.fn(x)), (name, x, g, entry.fn(x))


@pytest.mark.parametrize("name", ["relu", "step", "abs", "sign"])
@pytest.mark.parametrize("x", SPECIAL)
def test_numpy_map_equals_the_float_function_on_scalars(name, x):
    # a param or constant operand reaches the map as a bare float, not an array
    entry = ops.MATH[name]
    for arg in (x, np.float64(x)):
        assert same(float(entry.numpy(np, arg)), entry.fn(x))


def test_step_is_nan_where_the_input_is_nan_among_finite_numbers():
    x = np.array([[1.0, math.nan, -1.0], [0.0, 3.0, math.nan]])
    got = ops.MATH["step"].numpy(np, x)
    assert np.array_equal(got, [[1.0, math.nan, 0.0], [0.0, 1.0, math.nan]], equal_nan=True)
    # inf - inf makes the sum NaN with no NaN inside: the exact path still gives 1 and 0
    assert ops.MATH["step"].numpy(np, np.array([math.inf, -math.inf])).tolist() == [1.0, 0.0]


class _Counting:
    """numpy, recording which functions a map looks up."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __getattr__(self, name: str):
        self.used.add(name)
        return getattr(np, name)


def test_relu_and_step_maps_need_no_where_or_heaviside_on_nan_free_data():
    # np.where + np.heaviside took 47 us on a [1000, 16] layer, np.maximum and a mask about 10
    x = np.random.default_rng(0).standard_normal((1000, 16))
    for name in ("relu", "step"):
        spy = _Counting()
        ops.MATH[name].numpy(spy, x)
        assert not spy.used & {"where", "heaviside"}, (name, spy.used)
