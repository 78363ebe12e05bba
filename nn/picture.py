"""The main job's `network.svg`: a model you can read at a glance, and one neuron's chain rule.

Drawing a whole MLP on one input gives hundreds of boxes nobody studies.
This picture has two parts instead:

- a summary, one box per layer: its size, activation and parameter count,
  with the number of values flowing between layers on the arrows;
- one neuron's complete graph (the first neuron of the first layer, on one
  training input), drawn by `autograd_core.draw.to_digraph` with the local
  derivative on every edge. `backward()` runs on exactly that drawn graph,
  on a copy of the neuron, so every gradient shown comes from it and the
  model's own `.grad` fields are left alone.

The drawing guard of `to_digraph` is kept: the whole picture has at most
`MAX_DRAWN_NODES` nodes, and a neuron with too many inputs to fit is left
out with a note saying so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import graphviz

from autograd_core.draw import GraphvizNotFound, to_digraph
from autograd_core.engine import Value
from autograd_core.errors import describe
from autograd_core.files import atomic_write
from nn.layers import MLP, Layer, Neuron
from nn.module import Module

__all__ = ["MAX_DRAWN_NODES", "network_digraph", "render_network"]

MAX_DRAWN_NODES = 150
"""At most this many nodes in the picture: boxes, ellipses and notes together."""


def _layers(model: Module) -> list[Layer]:
    if isinstance(model, MLP):
        return list(model.layers)
    if isinstance(model, Layer):
        return [model]
    if isinstance(model, Neuron):
        layer = Layer(model.nin, 1, model.activation, model.bias, _label=False)
        layer.neurons = [model]
        return [layer]
    raise TypeError(f"network picture needs an MLP, Layer or Neuron, got {describe(model)}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary(dot: graphviz.Digraph, model: Module, layers: list[Layer]) -> int:
    """One box per layer, between an input and an output box; returns the nodes drawn."""
    total = len(model.parameters())
    sub = graphviz.Digraph(name="cluster_summary")
    sub.attr(
        label=f"{model!r}: {_plural(total, 'parameter')}",
        style="rounded",
        color="gray40",
        fontname="Helvetica",
    )
    nin = layers[0].nin
    sub.node(
        "summary_in",
        f"input\\n{_plural(nin, 'number')}: x[0] .. x[{nin - 1}]" if nin > 1 else "input\\nx[0]",
        shape="box",
        style="rounded,filled",
        fillcolor="aliceblue",
    )
    previous = "summary_in"
    for i, layer in enumerate(layers):
        per = layer.nin + (1 if layer.bias else 0)
        each = _plural(layer.nin, "weight") + (" + 1 bias" if layer.bias else "")
        name = f"summary_layer{i}"
        last = i == len(layers) - 1
        title = f"layer {i}" + (" (output)" if last else "")
        sub.node(
            name,
            f"{title}\\n{_plural(layer.nout, 'neuron')}, {layer.activation}\\n"
            f"{each} each\\n{_plural(layer.nout * per, 'parameter')}",
            shape="box",
            style="rounded,filled",
            fillcolor="lightyellow",
        )
        sub.edge(previous, name, label=_plural(layer.nin, "value"))
        previous = name
    nout = layers[-1].nout
    sub.node(
        "summary_out",
        "output\\n" + ("one score" if nout == 1 else f"{nout} scores"),
        shape="box",
        style="rounded,filled",
        fillcolor="aliceblue",
    )
    sub.edge(previous, "summary_out", label=_plural(nout, "value"))
    dot.subgraph(sub)
    return len(layers) + 2


def _pick_input(neuron: Neuron, X: Sequence[Sequence[float]]) -> list[float]:
    """The first example on which the neuron is active (a relu passes its gradient), else X[0]."""
    from autograd_core.engine import no_grad

    rows = [[float(v) for v in row] for row in X]
    if neuron.activation == "relu":
        with no_grad():
            for row in rows:
                if neuron(row).data > 0:
                    return row
    return rows[0]


def _neuron_graph(layers: list[Layer], X: Sequence[Sequence[float]], budget: int) -> Any:
    """The first neuron of the first layer on one input, after backward(); or a note why not."""
    original = layers[0].neurons[0]
    x = _pick_input(original, X)
    # A copy with the same numbers: backward() below must not touch the model's .grad.
    neuron = Neuron(original.nin, original.activation, original.bias, _label=False)
    neuron.load_state_dict(original.state_dict())
    for name, p in neuron.named_parameters():
        p.label = name  # w[0], w[1], ..., b
    inputs = [Value(v, f"x[{i}]") for i, v in enumerate(x)]
    out = neuron(inputs)
    out.label = "out"
    if neuron.activation != "linear":
        z = out.parents[0][0]
        z.label = "z"
    out.backward()
    # Values are at most half the drawn nodes (each computed Value adds one op ellipse).
    graph = to_digraph(out, edge_labels=True, clusters=False, max_nodes=max(1, budget // 2))
    return graph, x


def network_digraph(model: Module, X: Sequence[Sequence[float]]) -> graphviz.Digraph:
    """The picture as a `graphviz.Digraph`: layer summary, then one neuron's chain rule."""
    layers = _layers(model)
    if len(layers) + 3 > MAX_DRAWN_NODES:
        raise ValueError(
            f"network picture: {len(layers)} layers are more than one picture of at most "
            f"{MAX_DRAWN_NODES} boxes can show"
        )
    if not X:
        raise ValueError("network picture needs at least one input to draw a neuron on")
    dot = graphviz.Digraph(
        name="network",
        graph_attr={"rankdir": "LR", "compound": "true", "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )
    drawn = _summary(dot, model, layers)
    budget = MAX_DRAWN_NODES - drawn - 1  # the note below
    try:
        graph, x = _neuron_graph(layers, X, budget)
    except ValueError as e:
        if "max_nodes" not in str(e):
            raise
        nin = layers[0].nin
        dot.node(
            "neuron_note",
            f"one neuron of layer 0 has {nin} inputs: too many to draw in this picture",
            shape="note",
        )
        return dot
    shown = ", ".join(f"{v:.4g}" for v in x)
    graph.name = "cluster_neuron"
    graph.graph_attr.update(
        label=f"layer 0, neuron 0 on the training input x = ({shown}), after out.backward()",
        style="rounded",
        color="gray40",
        # Draw every operation's operands in their order: w[0], w[1], ..., x[0], ..., b.
        ordering="in",
    )
    dot.subgraph(graph)
    dot.node(
        "neuron_note",
        "How to read the neuron: each box is a Value with its data and its grad (d out / d box).\\l"
        "Each edge into an operation carries the local derivative of its result by that operand.\\l"
        "Chain rule: a box's grad = sum over its outgoing edges of\\l"
        "    (local derivative on the edge) x (grad of the box the operation makes).\\l",
        shape="note",
        fontsize="10",
    )
    # Keep the summary above the neuron, and the note beside it.
    dot.edge("summary_in", "neuron_note", style="invis")
    return dot


def render_network(
    model: Module, X: Sequence[Sequence[float]], path: str | os.PathLike[str]
) -> Path:
    """Write `network_digraph(model, X)` as SVG to `path`, atomically."""
    target = Path(path)
    dot = network_digraph(model, X)
    try:
        svg = dot.pipe(format="svg")
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFound(
            "Graphviz's `dot` program was not found on PATH; install Graphviz itself "
            "(sudo apt-get install graphviz, brew install graphviz, or "
            "https://graphviz.org/download/)."
        ) from e
    return atomic_write(target, svg)
