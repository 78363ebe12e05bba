"""The passes over a Program, each a small function Program -> Program, and `optimize`.

Each pass returns a new program (the one given is not changed) whose history
has one more record: the equation counts before and after and the equations
it wrote. `print(program.history)` shows them.
"""

from __future__ import annotations

from autograd_core.errors import describe
from autograd_core.program.core import Program
from autograd_core.program.passes.dce import eliminate_dead_code
from autograd_core.program.passes.dense import fold_packs, group_dense, group_maps
from autograd_core.program.passes.dots import recognize_dots
from autograd_core.program.passes.hoist import hoist_parameter_only
from autograd_core.program.passes.sums import recognize_column_sums, recognize_rowwise_dots

__all__ = [
    "PIPELINE",
    "eliminate_dead_code",
    "fold_packs",
    "group_dense",
    "group_maps",
    "hoist_parameter_only",
    "optimize",
    "recognize_column_sums",
    "recognize_dots",
    "recognize_rowwise_dots",
]

#: The passes `optimize` runs, in order.
PIPELINE = (
    eliminate_dead_code,
    hoist_parameter_only,
    recognize_dots,
    group_dense,
    group_maps,
    fold_packs,
    recognize_column_sums,
    recognize_rowwise_dots,
    eliminate_dead_code,
)


def optimize(program: Program) -> Program:
    """The program after every pass of `PIPELINE` (see each pass for what it changes)."""
    if not isinstance(program, Program):
        raise TypeError(f"optimize needs a Program (from make_program), got {describe(program)}")
    for p in PIPELINE:
        program = p(program)
    return program
