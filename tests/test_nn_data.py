"""Built-in data sets: contents, seeding, shapes, bad arguments."""

import math

import pytest

from nn.data import DATASETS, and_, circles, moons, not_, or_, sleep_study, spirals, xor


def test_truth_tables():
    inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert xor() == (inputs, [0, 1, 1, 0])
    assert and_() == (inputs, [0, 0, 0, 1])
    assert or_() == (inputs, [0, 1, 1, 1])
    assert not_() == ([[0.0], [1.0]], [1, 0])


def test_signed_labels_are_minus_one_and_plus_one():
    assert xor(signed=True)[1] == [-1, 1, 1, -1]
    assert set(moons(20, signed=True)[1]) == {-1, 1}


@pytest.mark.parametrize("make", [moons, circles, spirals])
def test_point_clouds_are_seeded_balanced_and_two_dimensional(make):
    X, y = make(101, seed=4)
    assert len(X) == len(y) == 101
    assert all(len(row) == 2 and all(isinstance(v, float) for v in row) for row in X)
    assert sorted(set(y)) == [0, 1] and y.count(0) == 50
    assert make(101, seed=4) == (X, y)
    assert make(101, seed=5) != (X, y)


def test_noiseless_moons_lie_on_their_half_circles():
    X, y = moons(50, noise=0.0, seed=0)
    for (a, b), label in zip(X, y):
        cx, cy = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        assert math.hypot(a - cx, b - cy) == pytest.approx(1.0)
        assert (b >= -1e-12) if label == 0 else (b <= 0.5 + 1e-12)


def test_noiseless_circles_have_their_radii():
    X, y = circles(40, noise=0.0, factor=0.3)
    radii = {
        label: {round(math.hypot(a, b), 9) for (a, b), c in zip(X, y) if c == label}
        for label in (0, 1)
    }
    assert radii == {0: {1.0}, 1: {0.3}}


def test_sleep_study_is_seed_002s_data():
    assert sleep_study(normalize=False) == (
        [[3.0, 5.0], [5.0, 1.0], [10.0, 2.0]],
        [75.0, 82.0, 93.0],
    )
    X, y = sleep_study()
    assert X == [[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]]
    assert y == [0.75, 0.82, 0.93]


def test_registry_names_every_data_set():
    assert set(DATASETS) == {
        "xor",
        "not",
        "and",
        "or",
        "moons",
        "circles",
        "spirals",
        "sleep-study",
        "digits",
    }
    for name, d in DATASETS.items():
        X, _ = d.make()
        assert len(X[0]) == d.nin, name
    assert DATASETS["sleep-study"].is_regression and not DATASETS["moons"].is_regression
    assert DATASETS["digits"].classes == 10 and DATASETS["moons"].classes == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: moons(1), "n must be"),
        (lambda: moons(10.5), "n must be"),
        (lambda: moons(10, noise=-0.1), "noise"),
        (lambda: circles(10, factor=1.5), "factor"),
        (lambda: spirals(10, turns=0), "turns"),
    ],
)
def test_bad_arguments_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_seed_is_a_type_error():
    with pytest.raises(TypeError, match="seed"):
        moons(10, seed=1.5)


def test_digits_are_read_once_and_each_call_gets_its_own_lists(monkeypatch):
    pytest.importorskip("sklearn")
    import sklearn.datasets

    from nn import data

    data._digits_read.cache_clear()
    calls = []
    real = sklearn.datasets.load_digits
    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda: calls.append(1) or real())
    try:
        X1, y1 = data.digits()
        X1[0][0], y1[0] = 99.0, 99  # the caller's copy, not the cache
        X2, y2 = data.digits()
        assert len(calls) == 1
        assert X2[0][0] != 99.0 and y2[0] != 99
        assert len(X2) == 1797 and len(X2[0]) == 64 and set(y2) == set(range(10))
    finally:
        data._digits_read.cache_clear()
