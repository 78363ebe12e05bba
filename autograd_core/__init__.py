"""autograd_core: a scalar reverse-mode automatic differentiation engine."""

from autograd_core.engine import (
    FLOAT,
    VALUE,
    Op,
    Value,
    detach,
    is_grad_enabled,
    linear,
    no_grad,
    primitive,
    topological_order,
)

__all__ = [
    "FLOAT",
    "VALUE",
    "Op",
    "Value",
    "detach",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "primitive",
    "topological_order",
]
