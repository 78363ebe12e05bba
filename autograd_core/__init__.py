"""autograd_core: a scalar reverse-mode automatic differentiation engine.

Every operation is declared once in `ops` (the op table: elementary math
functions and primitive rules); `engine` builds `Value` and its operations
from it and walks graphs; `trace` watches a function run (an observer of the
engine); `errors` holds the one error policy. Everything else only reads the
graphs they build: `draw` (Graphviz, SVG), `graph` (statistics), `gradcheck`
(finite differences), `anomaly` (where a NaN came from), `explain` (the
chain rule written out, path by path); `functional` turns functions of floats
into their gradients and Hessians; `compiled` records a graph once and replays
it as generated float code (`codegen`, `symbolic`); `batched` traces one
example and replays it over a batch with NumPy arrays (NumPy imported only
then); `onnx_export` writes a traced function or a model as ONNX; `explore`
writes a page that steps through the forward and backward passes.
`program` turns a traced function into a `Program` (equations, printed one
a line) and rewrites it with passes; the backends consume programs.
"""

from autograd_core._version import __version__
from autograd_core.anomaly import AnomalyError, detect_anomaly
from autograd_core.batched import BatchedStep, compile_batched
from autograd_core.compiled import (
    CompiledFunction,
    TracingError,
    TracingWarning,
    compile_function,
    compile_loss,
)
from autograd_core.draw import GraphvizNotFound, draw_dot, render_svg, to_digraph
from autograd_core.engine import (
    FLOAT,
    VALUE,
    GraphBusyError,
    Op,
    Value,
    detach,
    enable_grad,
    is_grad_enabled,
    linear,
    no_grad,
    primitive,
    topological_order,
)
from autograd_core.explain import (
    BackwardTrace,
    PathExplanation,
    backward_trace,
    draw_explained,
    explain_paths,
)
from autograd_core.explore import explore
from autograd_core.functional import grad, hessian, hvp, value_and_grad
from autograd_core.gradcheck import GradcheckError, gradcheck, numerical_gradient
from autograd_core.graph import GraphStats, graph_stats
from autograd_core.onnx_export import export_onnx
from autograd_core.program import Program, make_program, optimize

__all__ = [
    "__version__",
    "FLOAT",
    "VALUE",
    "AnomalyError",
    "BatchedStep",
    "GradcheckError",
    "GraphBusyError",
    "GraphStats",
    "GraphvizNotFound",
    "Op",
    "Value",
    "BackwardTrace",
    "CompiledFunction",
    "TracingError",
    "TracingWarning",
    "compile_batched",
    "compile_function",
    "compile_loss",
    "PathExplanation",
    "Program",
    "make_program",
    "optimize",
    "backward_trace",
    "detach",
    "draw_explained",
    "enable_grad",
    "explain_paths",
    "export_onnx",
    "explore",
    "grad",
    "hessian",
    "hvp",
    "value_and_grad",
    "detect_anomaly",
    "draw_dot",
    "gradcheck",
    "graph_stats",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "numerical_gradient",
    "primitive",
    "render_svg",
    "to_digraph",
    "topological_order",
]

# Gradients returned, never stored (issue 19), and the op table's stable functions.
from autograd_core.engine import gradient_table, gradients  # noqa: E402
from autograd_core.stable import log1p, logsumexp, maximum, softplus  # noqa: E402

__all__ += ["gradient_table", "gradients", "log1p", "logsumexp", "maximum", "softplus"]
