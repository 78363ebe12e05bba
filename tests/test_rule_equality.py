"""A rule comparing with == or != is refused where it would mislead (issue 19 item 5).

On floats `x == 0` is a number comparison; on Values (the rule under
`backward(create_graph=True)`) it is identity. A rule whose numbers differ
on Values and on floats is a ValueError naming the primitive and saying what
to write instead.
"""

from __future__ import annotations

import pytest

from autograd_core import Value, primitive
from autograd_core.functional import grad


@primitive("kinked_abs_eq")
def kinked_abs_eq(m, x):
    # derivative 1 at exactly 0 (written with ==), sign(x) elsewhere
    return m.abs(x), m.where(x == 0, 1.0, lambda: m.sign(x))


@primitive("kinked_abs_ne")
def kinked_abs_ne(m, x):
    return m.abs(x), m.where(x != 0, lambda: m.sign(x), 1.0)


@primitive("kinked_abs_ok")
def kinked_abs_ok(m, x):
    # the same meaning, with <=: the same on floats and on Values
    return m.abs(x), m.where(m.abs(x) <= 0, 1.0, lambda: m.sign(x))


@pytest.mark.parametrize("op", [kinked_abs_eq, kinked_abs_ne])
def test_equality_in_a_rule_is_refused_under_create_graph(op) -> None:
    x = Value(0.0)
    y = op(x) * 3.0
    with pytest.raises(ValueError) as info:
        y.backward(create_graph=True)
    message = str(info.value)
    assert op.name in message and "== or !=" in message and "m.where(m.abs(x - y) <= 0" in message
    assert "1.0 on floats" in message and "on Values" in message


@pytest.mark.parametrize("op", [kinked_abs_eq, kinked_abs_ne])
def test_nested_grad_does_not_silently_disagree(op) -> None:
    with pytest.raises(ValueError, match="== or !="):
        grad(grad(lambda x: op(x) * x))(0.0)


def test_the_same_rule_with_le_works_everywhere() -> None:
    for x0, want in ((0.0, 1.0), (2.0, 1.0), (-2.0, -1.0)):
        x = Value(x0)
        kinked_abs_ok(x).backward(create_graph=True)
        assert x.grad.data == want  # type: ignore[union-attr]
        z = Value(x0)
        kinked_abs_ok(z).backward()
        assert z.grad == want


def test_a_rule_with_equality_away_from_the_tie_is_still_refused_only_when_it_matters() -> None:
    # At x = 2 both namespaces agree (x == 0 is False either way): nothing to refuse.
    x = Value(2.0)
    kinked_abs_eq(x).backward(create_graph=True)
    assert x.grad.data == 1.0  # type: ignore[union-attr]
