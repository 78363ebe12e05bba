"""Checks shared by the replay tests: bit-for-bit equality with the engine."""

import math

from autograd_core import Value


def same(a: float, b: float) -> bool:
    """Bit for bit: NaN equals NaN, 0.0 differs from -0.0."""
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def engine_result(f, inputs, params=()):
    """What the engine gives: output and fresh gradients for inputs and params."""
    xs = [Value(x) for x in inputs]
    for p in params:
        p.grad = 0.0
    out = f(*xs)
    out.backward()
    return out.data, [x.grad for x in xs], [p.grad for p in params]


def assert_same_result(got, want):
    """A replay's (value, input grads, param grads, ...) equals the engine's, bit for bit."""
    (v1, gi1, gp1), (v2, gi2, gp2) = got[:3], want
    assert same(v1, v2), (v1, v2)
    assert len(gi1) == len(gi2) and len(gp1) == len(gp2)
    for a, b in zip([*gi1, *gp1], [*gi2, *gp2]):
        assert same(a, b), (a, b)
