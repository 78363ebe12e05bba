"""`no_grad` and `enable_grad` as decorators and around generators (issue 19 item 6)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from autograd_core import Value, no_grad
from autograd_core.engine import enable_grad, is_grad_enabled


def _records() -> bool:
    x = Value(1.0)
    return bool((x * 2).parents)


def test_no_grad_without_parentheses_decorates() -> None:
    @no_grad
    def f(x: Value) -> Value:
        """Doc kept."""
        assert not is_grad_enabled()
        return x * 2

    y = f(Value(3.0))
    assert y.is_leaf and y.data == 6.0 and f.__doc__ == "Doc kept." and f.__name__ == "f"
    assert is_grad_enabled()

    @enable_grad
    def g() -> bool:
        return is_grad_enabled()

    with no_grad():
        assert g() is True and not is_grad_enabled()


def test_no_grad_with_something_not_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="no_grad\\(\\) takes no argument .* got int"):
        no_grad(3)  # type: ignore[call-arg]


def test_a_decorated_generator_runs_its_body_in_the_mode_and_only_then() -> None:
    @no_grad()
    def gen():
        for i in range(3):
            assert not is_grad_enabled()
            got = yield Value(float(i)) * 2
            assert not is_grad_enabled() and got == i
        return "done"

    g = gen()
    out = [next(g)]
    assert is_grad_enabled() and _records()  # the caller between steps: its own mode
    out.append(g.send(0))
    out.append(g.send(1))
    with pytest.raises(StopIteration) as stop:
        g.send(2)
    assert stop.value.value == "done"
    assert all(v.is_leaf for v in out)
    assert is_grad_enabled()


def test_a_decorated_generator_sees_thrown_exceptions_and_close_in_the_mode() -> None:
    seen = []

    @no_grad
    def gen():
        try:
            yield 1
        except KeyError:
            seen.append(("thrown", is_grad_enabled()))
            yield 2
        finally:
            seen.append(("closed", is_grad_enabled()))

    g = gen()
    next(g)
    assert g.throw(KeyError("k")) == 2
    g.close()
    assert seen == [("thrown", False), ("closed", False)] and is_grad_enabled()


def test_a_decorated_async_function_applies_while_its_body_runs() -> None:
    modes = {}

    @no_grad()
    async def evaluate() -> float:
        modes["start"] = is_grad_enabled()
        await asyncio.sleep(0)
        modes["after await"] = is_grad_enabled()
        return (Value(2.0) * 3).data

    async def other() -> None:
        await asyncio.sleep(0)
        modes["other task"] = is_grad_enabled()

    async def main() -> float:
        result, _ = await asyncio.gather(evaluate(), other())
        return result

    assert asyncio.run(main()) == 6.0
    assert modes == {"start": False, "after await": False, "other task": True}
    assert is_grad_enabled()


def test_a_generator_suspended_inside_with_no_grad_does_not_leak_the_mode() -> None:
    def gen():
        with no_grad():
            assert not is_grad_enabled()
            yield 1
            assert not is_grad_enabled()  # back inside: the block applies again
            yield 2

    g = gen()
    next(g)
    assert is_grad_enabled() and _records()
    with enable_grad():
        next(g)  # the generator's block runs inside the caller's
        assert is_grad_enabled()
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with contextlib.suppress(StopIteration):
            next(g)  # the generator leaves its block
        assert not is_grad_enabled()  # the caller's block is still open
    assert is_grad_enabled() and _records()


def test_an_abandoned_generator_inside_no_grad_does_not_leak() -> None:
    def gen():
        with no_grad():
            yield 1

    g = gen()
    next(g)
    del g  # closed by the garbage collector: its block exits
    assert is_grad_enabled() and _records()


def test_a_stray_exit_is_a_clear_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="without a matching __enter__"):
        no_grad().__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="without a matching __enter__"):
        enable_grad().__exit__(None, None, None)
    assert is_grad_enabled()


def test_exit_stack_and_manual_calls_still_work() -> None:
    with contextlib.ExitStack() as stack:
        stack.enter_context(no_grad())
        assert not is_grad_enabled()
        stack.enter_context(enable_grad())
        assert is_grad_enabled()
    assert is_grad_enabled()
    ng = no_grad()
    ng.__enter__()
    assert not is_grad_enabled()
    ng.__exit__(None, None, None)
    assert is_grad_enabled()


def test_async_generators_are_refused_as_decorated() -> None:
    async def agen():
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        no_grad()(agen)
