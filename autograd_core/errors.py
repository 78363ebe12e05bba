"""One error policy for the whole library.

A wrong type is a TypeError, a bad value a ValueError (or the arithmetic
error Python itself would raise: ZeroDivisionError, OverflowError). Every
message names the operation, shows the offending value and says what was
expected. `numbers.Real` (ints, floats, bools, real NumPy scalars, Fractions)
is a number everywhere; long reprs are cut here and nowhere else.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

__all__ = ["MAX_REPR", "as_float", "cut", "describe", "is_number", "printable", "type_name"]

MAX_REPR = 120  # characters of a value's repr shown in a message


# Characters with no glyph that file formats reject or misread (NUL and other C0
# controls, DEL, lone surrogates, which are not even UTF-8): written as Python writes them.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _show_unprintable(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with NUL, controls and lone surrogates as escapes (`\\x00`, `\\ud800`).

    What drawings, explorer pages and ONNX names show of a user's label or op
    name: always encodable as UTF-8, and the same text everywhere.
    """
    return _UNPRINTABLE.sub(_show_unprintable, str(text))


def cut(text: str, limit: int = MAX_REPR) -> str:
    """`text`, shortened with an ellipsis past `limit` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(x: object) -> str:
    """The type of `x` as a user would write it (`numpy.str_`, not a bare `str_`)."""
    t = type(x)
    if t.__module__.partition(".")[0] in ("builtins", "autograd_core", "nn"):
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def describe(x: object) -> str:
    """`type: repr`, the repr cut to a readable length."""
    try:
        text = repr(x)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type_name(x)} object>"
    return f"{type_name(x)}: {cut(text)}"


def is_number(x: object) -> bool:
    """A real number. (A Value is not one: it is a graph node, not a `numbers.Real`.)"""
    return isinstance(x, numbers.Real)


def as_float(x: Any, what: str) -> float:
    """`x` as a plain float, for the operation `what`.

    TypeError for anything that is not a real number; ValueError for an int
    too large for a float (10**400), instead of Python's bare OverflowError.
    """
    if x.__class__ is float:
        return x
    if is_number(x):
        try:
            return float(x)
        except OverflowError:
            raise ValueError(
                f"{what}: {cut(repr(x), 40)} is too large for a float "
                "(the largest is about 1.8e308)"
            ) from None
    # A type that is not a number but holds one says how to get it (Value does):
    # read from the type, so this module imports nothing above it.
    hint = getattr(type(x), "_not_a_number_hint", "")
    raise TypeError(
        f"{what} needs a real number (int, float, bool or a real numpy scalar), "
        f"got {describe(x)}{hint}"
    )
