"""ONNX export: the door from this engine to ONNX Runtime, PyTorch and the rest.

Two exports live here, both writing float64 models checked by `onnx.checker`:

- `export_onnx(fn, example_inputs, path)` traces a function of Values once and
  writes the graph it built. ONNX is one more namespace the rules run in: each
  node's `op.rule` runs on `OnnxSymbol`s, whose operators add nodes, and on
  `m.*` functions generated from `ops.MATH` (each entry's `onnx` field writes
  its nodes with the small builder `OnnxGraph`). The maths is not written twice.
- `export_module(model, path)` writes an `nn` model (Neuron, Layer, MLP) as one
  `Gemm` per layer with the trained weights as initializers, followed by the
  layer's activation as its ONNX op (Relu, Tanh, Sigmoid; none for linear).
  `Module.export_onnx` calls it.

Initializer names of `nn` models follow `named_parameters()`: drop the neuron
index `.<j>` and the input index `[<k>]` from a parameter's name and you have
the name of the tensor holding it; the dropped indices are its element. So
`layers.0.neurons.w` is layer 0's weight matrix of shape [nout, nin], whose
element [j, k] is `layers.0.neurons.<j>.w[<k>]`, and `layers.0.neurons.b[j]`
is `layers.0.neurons.<j>.b`. For a lone Neuron the tensors are `w` [1, nin]
and `b` [1].

The `onnx` package is an optional extra (`pip install 'autograd-core[onnx]'`)
imported only when something is exported, so `import autograd_core` never
needs it.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_core import ops
from autograd_core.engine import Value
from autograd_core.errors import as_float, printable
from autograd_core.files import atomic_write
from autograd_core.program.core import COLUMN, DENSE, MAP, PACK, Program, Var
from autograd_core.program.make import program_from_graph
from autograd_core.program.passes import optimize
from autograd_core.trace import Tracer

__all__ = [
    "OPSET",
    "ExportError",
    "OnnxGraph",
    "OnnxSymbol",
    "export_module",
    "export_onnx",
    "exported_program",
    "function_to_onnx",
    "module_to_onnx",
    "onnx_namespace",
]

#: The ONNX operator set the exported models declare (ONNX Runtime >= 1.13 runs it).
OPSET = 17
#: The IR version written: the oldest that opset 17 allows, so older runtimes load the files.
IR_VERSION = 8

PRODUCER = "autograd_core"

# nn activation -> ONNX op (None: no node, the layer is affine).
_ACTIVATION_OPS: dict[str, str | None] = {
    "relu": "Relu",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "linear": None,
}


def import_onnx() -> Any:
    """The `onnx` module, or an ImportError saying which extra to install."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the onnx package, which autograd_core does not install by "
            "default: pip install 'autograd-core[onnx]' (onnx, onnxruntime, numpy)"
            f" [{type(e).__name__}: {e}]"
        ) from None
    return onnx


# ---------------------------------------------------------------------------
# nn models.


@dataclass
class _Dense:
    """One layer as the file stores it: `act(x @ W.T + b)`."""

    prefix: str  # "layers.0.neurons." or "neurons." or "" (a lone Neuron)
    weights: list[list[float]]  # [nout][nin]
    bias: list[float] | None  # [nout], None for a layer without bias
    activation: str


def _layer(prefix: str, neurons: Sequence[Any]) -> _Dense:
    first = neurons[0]
    return _Dense(
        prefix=prefix,
        weights=[[w.data for w in n.w] for n in neurons],
        bias=None if first.b is None else [n.b.data for n in neurons],
        activation=first.activation,
    )


def _dense_layers(model: Any) -> tuple[int, list[_Dense]]:
    """`(nin, layers)` of a Neuron, Layer or MLP, read from its attributes.

    Read by structure rather than by class so that the core does not import `nn`.
    """
    kind = type(model).__name__
    try:
        arch = model.architecture()
        kind = arch["type"]
        if kind == "Neuron":
            return model.nin, [_layer("", [model])]
        if kind == "Layer":
            return model.nin, [_layer("neurons.", model.neurons)]
        if kind == "MLP":
            return model.nin, [
                _layer(f"layers.{i}.neurons.", layer.neurons)
                for i, layer in enumerate(model.layers)
            ]
    except (AttributeError, KeyError, TypeError):
        pass
    raise TypeError(
        f"export_onnx writes nn Neuron, Layer and MLP models, got {kind} ({type(model).__name__})"
    )


def module_to_onnx(
    model: Any, *, input_name: str = "x", output_name: str = "y"
) -> Any:  # -> onnx.ModelProto
    """The ONNX model of an nn Neuron, Layer or MLP, checked by `onnx.checker`.

    Input `x` of shape [N, nin] (N, the batch, is free), output `y` of shape
    [N, nout] ([N, 1] for one output), float64 throughout.
    """
    onnx = import_onnx()
    from onnx import TensorProto, helper

    nin, layers = _dense_layers(model)
    nodes, initializers = [], []
    current = input_name
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        nout = len(layer.weights)
        w_name, b_name = f"{layer.prefix}w", f"{layer.prefix}b"
        example = layer.prefix.replace("neurons.", "neurons.<j>.")
        fan_in = len(layer.weights[0])
        w_tensor = helper.make_tensor(
            w_name, TensorProto.DOUBLE, [nout, fan_in], [x for row in layer.weights for x in row]
        )
        w_tensor.doc_string = f"element [j, k] is parameter {example}w[<k>]"
        initializers.append(w_tensor)
        inputs = [current, w_name]
        if layer.bias is not None:
            b_tensor = helper.make_tensor(b_name, TensorProto.DOUBLE, [nout], layer.bias)
            b_tensor.doc_string = f"element [j] is parameter {example}b"
            initializers.append(b_tensor)
            inputs.append(b_name)
        op = _ACTIVATION_OPS[layer.activation]
        tag = layer.prefix.removesuffix("neurons.").rstrip(".") or type(model).__name__.lower()
        affine = output_name if (i == last and op is None) else f"{tag}.affine"
        # y = x @ W.T (+ b): W is stored [nout, nin], as the neurons hold it.
        nodes.append(helper.make_node("Gemm", inputs, [affine], name=f"{tag}.gemm", transB=1))
        current = affine
        if op is not None:
            out = output_name if i == last else f"{tag}.{layer.activation}"
            nodes.append(helper.make_node(op, [current], [out], name=f"{tag}.{layer.activation}"))
            current = out
    nout = len(layers[-1].weights)
    graph = helper.make_graph(
        nodes,
        type(model).__name__,
        [helper.make_tensor_value_info(input_name, TensorProto.DOUBLE, ["N", nin])],
        [helper.make_tensor_value_info(output_name, TensorProto.DOUBLE, ["N", nout])],
        initializer=initializers,
    )
    arch = model.architecture()
    proto = _model(helper, graph, doc=f"{model!r} exported by autograd_core")
    helper.set_model_props(proto, {"architecture": json.dumps(arch)})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_module(model: Any, path: str | os.PathLike) -> Path:
    """Write `module_to_onnx(model)` to `path` atomically; returns the path."""
    proto = module_to_onnx(model)
    return atomic_write(path, proto.SerializeToString())


# ---------------------------------------------------------------------------
# Shared.


def _model(helper: Any, graph: Any, doc: str) -> Any:
    proto = helper.make_model(
        graph,
        producer_name=PRODUCER,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=doc,
    )
    proto.ir_version = IR_VERSION
    return proto


# ---------------------------------------------------------------------------
# Traced functions: ONNX as one more namespace the rules run in.
#
# Each op's rule is run once with symbols for operands; the symbols' operators
# and the namespace's functions (generated from `ops.MATH`, whose `onnx` field
# says how to write each function with the builder below) add ONNX nodes. The
# rule also builds its local derivatives; nothing reads them, and they are
# pruned before the model is written.


class ExportError(ValueError):
    """A function or op that has no ONNX form; the message names it and says why."""


class _NoOnnxForm(Exception):
    """Raised inside a rule run on symbols; `export_onnx` adds the op's name."""


_BOOL_OPS = frozenset({"Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal", "Not", "And"})
_NAMESPACE = "ONNX"


class OnnxGraph:
    """The small graph builder `g` that the `onnx` entries of `ops.MATH` write with.

    `g.node(op_type, *inputs, **attrs)` adds one node and returns its output's
    name; inputs may be names, symbols or numbers (numbers become scalar
    constants). `g.const(value)` is the name of a float64 scalar constant,
    one per distinct value.
    """

    def __init__(self) -> None:
        from onnx import TensorProto, helper

        self._helper, self._tensor = helper, TensorProto
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[str] = []
        self._consts: set[str] = set()
        self._types: dict[str, str] = {}  # name -> "double" | "bool"
        self._batched: set[str] = set()  # names whose value has the batch axis
        self._count = 0
        self.scope = ""  # prefix of node names: the traced node being written

    # -- what the table entries call --------------------------------------------

    def node(self, op_type: str, *inputs: Any, **attrs: Any) -> str:
        """Add an `op_type` node reading `inputs`; its output's name."""
        names = [self._name_of(x, op_type) for x in inputs]
        self._count += 1
        out = f"{self.scope}{op_type}_{self._count}"
        self.nodes.append(self._helper.make_node(op_type, names, [out], name=out, **attrs))
        self._types[out] = "bool" if op_type in _BOOL_OPS else "double"
        if any(n in self._batched for n in names):
            self._batched.add(out)
        return out

    def const(self, value: float) -> str:
        """The name of a float64 scalar constant holding `value` (cached)."""
        value = float(value)
        name = f"const:{value!r}"
        if name not in self._consts:
            self._consts.add(name)
            self._add_initializer(name, value)
        return name

    # -- what export_onnx calls ---------------------------------------------------

    def index(self, value: Any) -> str:
        """The name of an int64 constant (a scalar, or a list as a 1-D tensor), cached."""
        name = f"index:{value!r}"
        if name not in self._consts:
            self._consts.add(name)
            dims = [] if isinstance(value, int) else [len(value)]
            vals = [value] if isinstance(value, int) else list(value)
            self.initializers.append(self._helper.make_tensor(name, self._tensor.INT64, dims, vals))
        return name

    def tensor(self, name: str, rows: Any, doc: str) -> str:
        """A float64 initializer of shape [len(rows)] or [len(rows), len(rows[0])]."""
        flat = [x for row in rows for x in row] if isinstance(rows[0], list) else list(rows)
        dims = [len(rows), len(rows[0])] if isinstance(rows[0], list) else [len(rows)]
        t = self._helper.make_tensor(name, self._tensor.DOUBLE, dims, flat)
        t.doc_string = doc
        self.initializers.append(t)
        return name

    def batched_column(self, x: Any) -> str:
        """`x` as a name with the batch shape [N] (a weight or number is expanded)."""
        name = self._name_of(x, "Expand")
        if name in self._batched:
            return name
        return self.node("Expand", name, self.node("Shape", self.inputs[0]))

    def input(self, name: str) -> OnnxSymbol:
        """A graph input of shape [N] (float64)."""
        self.inputs.append(name)
        self._types[name] = "double"
        self._batched.add(name)
        return OnnxSymbol(self, name)

    def weight(self, name: str, value: float) -> OnnxSymbol:
        """A named scalar initializer: a Value the function captured (a trained weight)."""
        self._add_initializer(name, float(value))
        return OnnxSymbol(self, name)

    def output(self, value: Any, name: str) -> None:
        """Make `value` the graph output `name`, of shape [N] like the inputs."""
        if isinstance(value, OnnxSymbol) and value.name in self._batched:
            self.nodes.append(self._helper.make_node("Identity", [value.name], [name], name=name))
            return
        # The same number for every row (a constant, or made of captured weights only).
        shape = self.node("Shape", self.inputs[0])
        source = self._name_of(value, "Expand")
        self.nodes.append(self._helper.make_node("Expand", [source, shape], [name], name=name))

    def symbol(self, out: Any) -> Any:
        """What a table entry returned, as a symbol (numbers stay numbers)."""
        if isinstance(out, OnnxSymbol):
            return out
        if isinstance(out, str):
            return OnnxSymbol(self, out)
        return _plain_number(out)

    def batched(self, name: str) -> bool:
        """Whether `name` depends on an input (else it is a scalar)."""
        return name in self._batched

    def kind(self, name: str) -> str:
        return self._types.get(name, "double")

    def _add_initializer(self, name: str, value: float) -> None:
        self.initializers.append(self._helper.make_tensor(name, self._tensor.DOUBLE, [], [value]))
        self._types[name] = "double"

    def _name_of(self, x: Any, op_type: str) -> str:
        if isinstance(x, OnnxSymbol):
            if x.graph is not self:
                raise ValueError(f"{op_type}: a symbol from another ONNX graph ({x.name!r})")
            return x.name
        if isinstance(x, str):
            return x
        if _is_real(x):
            return self.const(float(x))
        raise TypeError(
            f"ONNX node {op_type}: an input must be a symbol, a name or a number, "
            f"got {type(x).__name__}: {x!r}"[:300]
        )


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _plain_number(x: Any) -> float:
    if not _is_real(x):
        raise _NoOnnxForm(f"it produced {type(x).__name__}: {x!r}"[:300] + ", not a number or node")
    return float(x)


class OnnxSymbol:
    """A value inside an ONNX graph being built; its operators add nodes.

    Comparisons build Less/Greater nodes (conditions for `m.where`); asking
    for the truth of one (`if x > 0:`) is an error, since the graph must hold
    both branches.
    """

    __slots__ = ("graph", "name")

    def __init__(self, graph: OnnxGraph, name: str) -> None:
        self.graph = graph
        self.name = name

    def __repr__(self) -> str:
        return f"OnnxSymbol({self.name!r})"

    def _op(self, op_type: str, *inputs: Any) -> OnnxSymbol:
        for x in inputs:
            if isinstance(x, OnnxSymbol) and self.graph.kind(x.name) == "bool":
                raise _NoOnnxForm(
                    f"it does arithmetic ({op_type}) on a comparison; use m.where(cond, a, b)"
                )
        return OnnxSymbol(self.graph, self.graph.node(op_type, *inputs))

    def __add__(self, other: Any) -> OnnxSymbol:
        return self._op("Add", self, other)

    def __radd__(self, other: Any) -> OnnxSymbol:
        return self._op("Add", other, self)

    def __sub__(self, other: Any) -> OnnxSymbol:
        return self._op("Sub", self, other)

    def __rsub__(self, other: Any) -> OnnxSymbol:
        return self._op("Sub", other, self)

    def __mul__(self, other: Any) -> OnnxSymbol:
        return self._op("Mul", self, other)

    def __rmul__(self, other: Any) -> OnnxSymbol:
        return self._op("Mul", other, self)

    def __truediv__(self, other: Any) -> OnnxSymbol:
        return self._op("Div", self, other)

    def __rtruediv__(self, other: Any) -> OnnxSymbol:
        return self._op("Div", other, self)

    def __pow__(self, other: Any) -> OnnxSymbol:
        return self._op("Pow", self, other)

    def __rpow__(self, other: Any) -> OnnxSymbol:
        return self._op("Pow", other, self)

    def __neg__(self) -> OnnxSymbol:
        return self._op("Neg", self)

    def __pos__(self) -> OnnxSymbol:
        return self

    def __abs__(self) -> OnnxSymbol:
        return self._op("Abs", self)

    def __lt__(self, other: Any) -> OnnxSymbol:
        return self._op("Less", self, other)

    def __le__(self, other: Any) -> OnnxSymbol:
        return self._op("LessOrEqual", self, other)

    def __gt__(self, other: Any) -> OnnxSymbol:
        return self._op("Greater", self, other)

    def __ge__(self, other: Any) -> OnnxSymbol:
        return self._op("GreaterOrEqual", self, other)

    def __bool__(self) -> bool:
        raise _NoOnnxForm(
            "it branches on its operand with `if` (or and/or/not), which cannot run in the "
            f"{_NAMESPACE} namespace: the graph must hold both branches; use m.where(cond, a, b)"
        )

    def __float__(self) -> float:
        raise _NoOnnxForm(
            f"it turns an operand into a Python float (math.* or float()), which cannot run in "
            f"the {_NAMESPACE} namespace; use the m.* functions"
        )

    __int__ = __index__ = __float__

    __hash__ = object.__hash__  # rules never use ==; keep identity


def _graph_of(args: Sequence[Any]) -> OnnxGraph | None:
    for a in args:
        if isinstance(a, OnnxSymbol):
            return a.graph
        if isinstance(a, (list, tuple)):
            g = _graph_of(a)
            if g is not None:
                return g
    return None


def _onnx_function(entry: Any) -> Any:
    """`m.<name>` in the ONNX namespace: nodes for symbols, the float function for numbers."""

    def apply(*args: Any) -> Any:
        g = _graph_of(args)
        if g is None:  # only numbers (constants): fold them as the engine computes them
            return entry.fn(*args)
        return g.symbol(entry.onnx(g, *args))

    apply.__name__ = entry.name
    apply.__qualname__ = f"ONNX.{entry.name}"
    return apply


_ONNX_NAMESPACE: Any = None


def onnx_namespace() -> Any:
    """The namespace a rule sees when it writes ONNX: one function per `ops.MATH` entry."""
    global _ONNX_NAMESPACE
    if _ONNX_NAMESPACE is None:
        _ONNX_NAMESPACE = ops.namespace(
            _NAMESPACE, lambda entry: None if entry.onnx is None else _onnx_function(entry)
        )
    return _ONNX_NAMESPACE


# ---------------------------------------------------------------------------


def function_to_onnx(
    fn: Any,
    example_inputs: Sequence[float],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> Any:  # -> onnx.ModelProto
    """The ONNX model of `fn` traced at `example_inputs` (see `export_onnx`), checked."""
    onnx = import_onnx()
    numbers_in, names_in = _check_inputs(fn, example_inputs, input_names)
    program, single = trace_program(fn, numbers_in, names_in)
    names_out = _output_names(output_names, len(program.outputs), single, names_in)
    g = _write_program(optimize(program), names_in, names_out)
    return _finish(onnx, g, names_in, names_out, fn)


def exported_program(
    fn: Any, example_inputs: Sequence[float], input_names: Sequence[str] | None = None
) -> Program:
    """The optimized Program `export_onnx` writes for `fn` (print it to see the layers)."""
    numbers_in, names_in = _check_inputs(fn, example_inputs, input_names)
    return optimize(trace_program(fn, numbers_in, names_in)[0])


def trace_program(fn: Any, numbers_in: Sequence[float], names_in: Sequence[str]) -> tuple:
    """(the Program of `fn` at these inputs, whether it returned one output).

    Captured Values become params (written as named weights with their numbers).
    """
    leaves = [Value(x, name) for x, name in zip(numbers_in, names_in)]
    results, single, created = _trace_function(fn, leaves)
    program = program_from_graph(leaves, [], results, created, captured="params")
    return program, single


def _check_inputs(
    fn: Any, example_inputs: Any, input_names: Sequence[str] | None
) -> tuple[list[float], list[str]]:
    """The example inputs as floats and their names, or the error saying what is wrong."""
    if not callable(fn):
        raise TypeError(f"export_onnx needs a function of Values, got {type(fn).__name__}")
    if isinstance(example_inputs, (str, bytes)) or not isinstance(example_inputs, Sequence):
        raise TypeError(
            "export_onnx needs example_inputs as a sequence of numbers, one per argument, "
            f"got {type(example_inputs).__name__}: {example_inputs!r}"[:300]
        )
    if not example_inputs:
        raise ValueError(
            "export_onnx needs at least one input: the batch size N comes from the inputs"
        )
    numbers_in = [
        as_float(x, f"export_onnx example input {i}") for i, x in enumerate(example_inputs)
    ]
    n = len(numbers_in)
    return numbers_in, _names(input_names, n, _parameter_names(fn, n), "input_names")


def _trace_function(fn: Any, leaves: list[Value]) -> tuple[list[Any], bool, set]:
    """Run `fn` once on the leaves: (its outputs, whether it returned one, the Values it made)."""
    with Tracer() as tracer:
        result = fn(*leaves)
    tracer.refuse_comparisons(retrace_hint=False)  # export has no retrace
    tracer.warn_data_reads("the ONNX model as a constant", stacklevel=4)
    single = not isinstance(result, (tuple, list))
    results = [result] if single else list(result)
    if not results:
        raise ValueError("export_onnx: the function returned no outputs (an empty tuple)")
    for i, r in enumerate(results):
        if not isinstance(r, Value) and not _is_real(r):
            raise TypeError(
                f"export_onnx: output {i} of the function must be a Value or a number, "
                f"got {type(r).__name__}: {r!r}"[:300]
            )
    return results, single, tracer.created


def _output_names(
    given: Sequence[str] | None, n: int, single: bool, names_in: list[str]
) -> list[str]:
    """The names given, else "y" (y0, y1, ... for a tuple), with "_" added past input names."""
    stem = "y"
    while True:
        default_out = [stem] if single else [f"{stem}{i}" for i in range(n)]
        if not set(default_out) & set(names_in):
            break
        stem += "_"
    names_out = _names(given, n, default_out, "output_names")
    clash = set(names_in) & set(names_out)
    if clash:
        raise ValueError(f"export_onnx: {sorted(clash)[0]!r} is both an input and an output name")
    return names_out


def _write_program(program: Program, names_in: list[str], names_out: list[str]) -> OnnxGraph:
    """Each equation as ONNX nodes, in order: the graph with its inputs and outputs.

    A scalar equation runs its op's rule on symbols; a dense layer is one Gemm
    with its weights as a [n_out, n_in] initializer, a map one rule call on
    the [N, n] matrix, pack a Concat and col a Gather.
    """
    g = OnnxGraph()
    m = onnx_namespace()
    symbols: dict[Var, Any] = {}
    for v, name in zip(program.inputs, names_in):
        symbols[v] = g.input(name)
    used = set(names_in) | set(names_out)
    for v, value in zip(program.params, program.param_data):  # captured Values: named weights
        symbols[v] = g.weight(_weight_name(v, used), value)
    symbols.update(program.constants)  # constants the function made: folded

    def get(x: Any) -> Any:
        return symbols[x] if x.__class__ is Var else float(x)

    n_dense = 0
    for index, e in enumerate(program.all_eqns()):
        g.scope = f"{index}.{printable(e.prim)}/"
        if e.prim == DENSE:
            symbols[e.out] = _gemm(g, program, e, get, n_dense)
            n_dense += 1
        elif e.prim == PACK:
            columns = [
                g.node("Unsqueeze", g.batched_column(get(x)), g.index([1])) for x in e.operands
            ]
            symbols[e.out] = g.symbol(g.node("Concat", *columns, axis=1))
        elif e.prim == COLUMN:
            j = g.index(e.attrs["j"])
            symbols[e.out] = g.symbol(g.node("Gather", get(e.operands[0]), j, axis=1))
        elif e.prim == MAP:
            args = []
            for x, cols in zip(e.operands, e.attrs["cols"]):
                a = get(x)
                if x.__class__ is Var and x.width is not None:
                    if cols is not None:
                        a = g.symbol(g.node("Gather", a, g.index(list(cols)), axis=1))
                elif isinstance(a, OnnxSymbol) and g.batched(a.name):  # [N] -> [N, 1]
                    a = g.symbol(g.node("Unsqueeze", a, g.index([1])))
                args.append(a)
            symbols[e.out] = _run_rule(g, m, e.op, args)
        else:
            symbols[e.out] = _run_rule(g, m, e.op, [get(x) for x in e.operands])
    g.scope = ""
    for r, name in zip(program.outputs, names_out):
        g.output(get(r), name)
    return g


def _gemm(g: OnnxGraph, program: Program, e: Any, get: Any, k: int) -> Any:
    """One dense layer as Gemm(A, W, b, transB=1), W and b as initializers with their numbers."""
    values = dict(zip(program.params, program.param_data))

    def number(w: Any) -> float:
        return values[w] if w.__class__ is Var else float(w)

    W = [[number(w) for w in row] for row in e.attrs["W"]]
    b = [number(x) for x in e.attrs["b"]]
    src = get(e.operands[0])
    cols = e.attrs.get("cols")
    if cols is not None:
        src = g.symbol(g.node("Gather", src, g.index(list(cols)), axis=1))
    labels = [w.label for row in e.attrs["W"] for w in row if w.__class__ is Var and w.label]
    doc = f"element [j, k] is weight k of neuron j; first: {labels[0]!r}" if labels else ""
    w_name = g.tensor(f"dense{k}.W", W, doc)
    b_name = g.tensor(f"dense{k}.b", b, "")
    return g.symbol(g.node("Gemm", src, w_name, b_name, transB=1))


def _run_rule(g: OnnxGraph, m: Any, op: Any, args: list[Any]) -> Any:
    """The op's output as a symbol (or a folded number); ExportError if its rule cannot."""
    try:
        return g.symbol(op.rule(m, *args)[0])
    except _NoOnnxForm as e:
        raise ExportError(f"op {op.name!r} has no ONNX form: {e}") from None
    except (AttributeError, TypeError) as e:
        raise ExportError(
            f"op {op.name!r} has no ONNX form: its rule does something only floats can "
            f"({type(e).__name__}: {e}); write it with + - * / and the m.* functions"
        ) from None


def export_onnx(
    fn: Any,
    example_inputs: Sequence[float],
    path: str | os.PathLike,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> Path:
    """Trace `fn` once at `example_inputs` and write it as an ONNX model (float64).

    `fn` takes one Value per example input and returns a Value or a tuple of
    Values. The model has one input per argument and one output per result,
    each of shape [N], so one run evaluates a batch of N points. Input names
    default to `fn`'s parameter names (x0, x1, ... for `*args`), outputs to
    `y` (y0, y1, ... for a tuple). Every built-in op and every primitive whose
    rule uses `m.*` functions and `m.where` exports. Refused, naming the
    cause: branches on data in `fn` (TracingError, as in compiled replay) and
    ops whose rule branches with `if`, calls `math.*` or uses a function
    outside the ONNX namespace (ExportError). Values that `fn` uses without
    receiving them (captured weights) are written as named constants with
    their current numbers. Returns the path; the file is written atomically.
    """
    proto = function_to_onnx(fn, example_inputs, input_names, output_names)
    return atomic_write(path, proto.SerializeToString())


def _parameter_names(fn: Any, n: int) -> list[str]:
    """`fn`'s positional parameter names when there are exactly `n`, else x0, x1, ..."""
    fallback = [f"x{i}" for i in range(n)]
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fallback
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params if p.kind in kinds]
    return names if len(names) == n and len(params) == n else fallback


def _names(given: Sequence[str] | None, n: int, default: list[str], what: str) -> list[str]:
    if given is None:
        return default
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise TypeError(f"export_onnx: {what} must be a list of str, got {given!r}"[:300])
    names = list(given)
    if len(names) != n:
        raise ValueError(f"export_onnx: {what} has {len(names)} name(s), the function has {n}")
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"export_onnx: {what} must hold non-empty str, got {name!r}"[:300])
    if len(set(names)) != n:
        dup = next(x for x in names if names.count(x) > 1)
        raise ValueError(f"export_onnx: {what} repeats {dup!r}")
    return names


#: Names the export gives its own tensors and nodes: constants, indices, dense
#: layers' weights, nodes (`<equation>.<prim>/<Op>_<n>`).
_INTERNAL = re.compile(r"^(const:|index:)|^dense\d+\.[Wb]$|^\d+\.\w+/\w+_\d+$")


def _weight_name(node: Any, used: set[str]) -> str:
    """A captured Value's initializer name: its label, else `weight`; `#1`, `#2`... added
    when that is an input or output name, another weight's, or looks like an internal one."""
    base = printable(node.label) if node.label else "weight"  # ONNX names are UTF-8
    name, k = base, 0
    while name in used or (k == 0 and _INTERNAL.search(name)):  # "#k" names are never internal
        k += 1
        name = f"{base}#{k}"
    used.add(name)
    return name


def _finish(onnx: Any, g: OnnxGraph, inputs: list[str], outputs: list[str], fn: Any) -> Any:
    """Prune what the outputs do not need (the derivatives), name-check, build and check."""
    from onnx import TensorProto, helper

    needed = set(outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    initializers = [t for t in g.initializers if t.name in needed]
    internal = {o for n in kept for o in n.output} - set(outputs)
    internal |= {t.name for t in initializers}
    clash = internal & (set(inputs) | set(outputs))
    if clash:
        name = sorted(clash)[0]
        side, arg = ("input", "input_names") if name in inputs else ("output", "output_names")
        tensors = {t.name for t in initializers}
        what = "a constant tensor" if name in tensors else "a node's output"
        raise ValueError(
            f"export_onnx: the {side} name {name!r} is also used inside the graph, as the "
            f"name of {what} (names starting with 'const:' or 'index:', 'dense<k>.W', "
            f"'dense<k>.b' and '<k>.<op>/<Op>_<n>' are the export's own); pass {arg}=[...] "
            "with another name"
        )
    graph = helper.make_graph(
        kept,
        getattr(fn, "__name__", "function"),
        [helper.make_tensor_value_info(n, TensorProto.DOUBLE, ["N"]) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.DOUBLE, ["N"]) for n in outputs],
        initializer=initializers,
    )
    doc = f"{getattr(fn, '__qualname__', fn)!r} traced by autograd_core"
    proto = _model(helper, graph, doc=doc)
    onnx.checker.check_model(proto, full_check=True)
    return proto
