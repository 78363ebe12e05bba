"""The traced program and its passes: one intermediate form for every backend.

`make_program(fn, example_inputs, params)` traces once and returns a
`Program` (core.py); `passes/` holds the rewrites, each a small function
Program -> Program, and `optimize` runs them in order.
"""

from autograd_core.program.core import Eqn, Program, Var
from autograd_core.program.make import make_program, program_from_graph
from autograd_core.program.passes import optimize

__all__ = ["Eqn", "Program", "Var", "make_program", "optimize", "program_from_graph"]
