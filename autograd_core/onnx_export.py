"""ONNX export: the door from this engine to ONNX Runtime, PyTorch and the rest.

`export_module(model, path)` writes an `nn` model (Neuron, Layer, MLP) as one
`Gemm` per layer with the trained weights as float64 initializers, followed by
the layer's activation as its ONNX op. `Module.export_onnx` calls it.

Initializer names follow `named_parameters()`: drop the neuron index `.<j>`
and the input index `[<k>]` from a parameter's name and you have the name of
the tensor holding it; the dropped indices are its element. So
`layers.0.neurons.w` is layer 0's weight matrix of shape [nout, nin], whose
element [j, k] is `layers.0.neurons.<j>.w[<k>]`, and `layers.0.neurons.b[j]`
is `layers.0.neurons.<j>.b`. For a lone Neuron the tensors are `w` [1, nin]
and `b` [1].

The `onnx` package is an optional extra (`pip install 'autograd-core[onnx]'`)
imported only when something is exported, so `import autograd_core` never
needs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_core.files import atomic_write

__all__ = ["OPSET", "export_module", "module_to_onnx"]

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
