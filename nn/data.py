"""Built-in data sets, generated here from a seed; nothing is downloaded.

Each function returns `(X, y)`: X a list of input rows (lists of floats), y
a list of targets. Binary classification sets label their classes 0 and 1,
or -1 and +1 with `signed=True` (what the hinge loss wants). `digits` is the
one real data set: scikit-learn's bundled 8x8 handwritten digits (read from
the installed package, not downloaded). `DATASETS` names them for the command
line; `train_test_split` holds out a seeded test set.
"""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_core.errors import describe, is_number
from nn.layers import make_rng

__all__ = [
    "DATASETS",
    "Dataset",
    "and_",
    "circles",
    "digits",
    "moons",
    "not_",
    "or_",
    "sleep_study",
    "spirals",
    "train_test_split",
    "xor",
]

Data = tuple[list[list[float]], list[int] | list[float]]


def _labels(y: list[int], signed: bool) -> list[int]:
    return [2 * t - 1 for t in y] if signed else y


def _truth_table(outputs: list[int], signed: bool) -> Data:
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    return X, _labels(outputs, signed)


# ---------------------------------------------------------------------------
# Logic gates (Brandon Brown's backpropagation tutorial uses NOT and XOR).


def xor(signed: bool = False) -> Data:
    """XOR's truth table: the classic problem no single neuron can solve."""
    return _truth_table([0, 1, 1, 0], signed)


def and_(signed: bool = False) -> Data:
    """AND's truth table."""
    return _truth_table([0, 0, 0, 1], signed)


def or_(signed: bool = False) -> Data:
    """OR's truth table."""
    return _truth_table([0, 1, 1, 1], signed)


def not_(signed: bool = False) -> Data:
    """NOT: one input, the opposite bit out (Brandon Brown's one-neuron-with-bias example)."""
    return [[0.0], [1.0]], _labels([1, 0], signed)


# ---------------------------------------------------------------------------
# Point clouds in the plane.


def _check(n: int, noise: float) -> None:
    if not is_number(n):
        raise TypeError(f"n must be an int >= 2, got {describe(n)}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {describe(n)}")
    if not is_number(noise):
        raise TypeError(f"noise must be a finite number >= 0, got {describe(noise)}")
    if not 0 <= noise < math.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {describe(noise)}")


def _shuffled(
    points: list[tuple[float, float, int]], rng: random.Random, noise: float, signed: bool
) -> Data:
    rng.shuffle(points)
    X = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for x, y, _ in points]
    return X, _labels([c for _, _, c in points], signed)


def moons(
    n: int = 100, noise: float = 0.1, seed: int | random.Random | None = 0, signed: bool = False
) -> Data:
    """Two interleaving half circles (micrograd's demo data, made without sklearn).

    Class 0 is the upper half circle of radius 1 around (0, 0), class 1 the
    lower one around (1, 0.5); points are evenly spaced along each arc, then
    shuffled and moved by Gaussian noise of standard deviation `noise`.
    """
    _check(n, noise)
    rng = make_rng(seed)
    n0 = n // 2
    n1 = n - n0
    points = []
    for i in range(n0):
        t = math.pi * i / max(n0 - 1, 1)
        points.append((math.cos(t), math.sin(t), 0))
    for i in range(n1):
        t = math.pi * i / max(n1 - 1, 1)
        points.append((1.0 - math.cos(t), 0.5 - math.sin(t), 1))
    return _shuffled(points, rng, noise, signed)


def circles(
    n: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | random.Random | None = 0,
    signed: bool = False,
) -> Data:
    """Two concentric circles: class 0 of radius 1, class 1 of radius `factor`."""
    _check(n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor!r}")
    rng = make_rng(seed)
    n0 = n // 2
    n1 = n - n0
    points = []
    for count, radius, label in ((n0, 1.0, 0), (n1, factor, 1)):
        for i in range(count):
            t = 2 * math.pi * i / count
            points.append((radius * math.cos(t), radius * math.sin(t), label))
    return _shuffled(points, rng, noise, signed)


def spirals(
    n: int = 100,
    noise: float = 0.05,
    turns: float = 1.5,
    seed: int | random.Random | None = 0,
    signed: bool = False,
) -> Data:
    """Two interleaved spirals, one turned half a circle from the other: hard for small nets."""
    _check(n, noise)
    if not is_number(turns):
        raise TypeError(f"turns must be a number in (0, 10], got {describe(turns)}")
    if not 0 < turns <= 10:
        raise ValueError(f"turns must be a number in (0, 10], got {describe(turns)}")
    rng = make_rng(seed)
    n0 = n // 2
    n1 = n - n0
    points = []
    for count, label in ((n0, 0), (n1, 1)):
        for i in range(count):
            s = (i + 1) / count  # radius grows from near 0 to 1
            t = 2 * math.pi * turns * s + math.pi * label
            points.append((s * math.cos(t), s * math.sin(t), label))
    return _shuffled(points, rng, noise, signed)


# ---------------------------------------------------------------------------
# Regression.


def sleep_study(normalize: bool = True) -> tuple[list[list[float]], list[float]]:
    """Test scores from Stephen Welch's Neural Networks Demystified, part 4.

    Hours of (sleep, study) -> score out of 100.

    X = [[3, 5], [5, 1], [10, 2]], y = [75, 82, 93], as in the "Neural
    Networks Demystified" series. With `normalize` (the series' choice) each
    input column is divided by its maximum and the scores by 100, so a
    sigmoid output can reach them.
    """
    X = [[3.0, 5.0], [5.0, 1.0], [10.0, 2.0]]
    y = [75.0, 82.0, 93.0]
    if normalize:
        col_max = [max(row[j] for row in X) for j in range(2)]
        X = [[row[j] / col_max[j] for j in range(2)] for row in X]
        y = [t / 100.0 for t in y]
    return X, y


# ---------------------------------------------------------------------------
# A real data set.


def digits(signed: bool = False) -> tuple[list[list[float]], list[int]]:
    """The 8x8 handwritten digits scikit-learn ships: 1,797 images, labels 0..9.

    Each row is the 64 pixel intensities (0..16) divided by 16, so features
    lie in [0, 1]. `signed` is accepted for a uniform interface and ignored:
    ten classes have no -1/+1 form. Needs scikit-learn, which reads the
    images from a file inside its package (no network).
    """
    rows, labels = _digits_read()
    return [list(row) for row in rows], list(labels)  # fresh lists: the caller may change them


@functools.lru_cache(maxsize=1)
def _digits_read() -> tuple[tuple[tuple[float, ...], ...], tuple[int, ...]]:
    """The images read once per process (the CLI asks for them more than once)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "the digits data set needs scikit-learn: pip install 'autograd-core[digits]'"
        ) from None
    bunch = load_digits()
    rows = tuple(tuple(float(v) / 16.0 for v in row) for row in bunch.data.tolist())
    return rows, tuple(int(t) for t in bunch.target.tolist())


def train_test_split(
    X: Sequence[Any], y: Sequence[Any], test_fraction: float, seed: int | random.Random | None = 0
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Shuffle the examples with `seed` and hold out round(test_fraction * n) of them.

    Returns `(X_train, y_train, X_test, y_test)`; both parts keep at least
    one example, or it is a ValueError.
    """
    if not is_number(test_fraction):
        raise TypeError(f"test_fraction must be a number in (0, 1), got {describe(test_fraction)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {describe(test_fraction)}")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    n = len(X)
    n_test = round(test_fraction * n)
    if not 0 < n_test < n:
        raise ValueError(
            f"a test fraction of {test_fraction:g} of {n} examples leaves "
            f"{n_test} for testing and {n - n_test} for training; both need at least one"
        )
    order = list(range(n))
    make_rng(seed).shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return [X[i] for i in train], [y[i] for i in train], [X[i] for i in test], [y[i] for i in test]


@dataclass(frozen=True)
class Dataset:
    """A named data set: how to make it and what kind of problem it is."""

    name: str
    make: Callable[..., Data]
    task: str  # "classification" (labels 0/1 or -1/+1) or "regression"
    nin: int
    sized: bool  # takes n, noise and seed
    classes: int = 2  # for classification: how many (softmax-ce needs this many outputs)

    @property
    def is_regression(self) -> bool:
        """Whether targets are numbers to fit rather than classes."""
        return self.task == "regression"


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("xor", xor, "classification", 2, False),
        Dataset("not", not_, "classification", 1, False),
        Dataset("and", and_, "classification", 2, False),
        Dataset("or", or_, "classification", 2, False),
        Dataset("moons", moons, "classification", 2, True),
        Dataset("circles", circles, "classification", 2, True),
        Dataset("spirals", spirals, "classification", 2, True),
        Dataset("sleep-study", sleep_study, "regression", 2, False),
        Dataset("digits", digits, "classification", 64, False, classes=10),
    )
}
