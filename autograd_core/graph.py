"""Statistics about the graph behind a Value: its size, depth and fan-out.

Separate from `draw` because the numbers are useful on their own (how big is
the graph of one training step? how deep does backward go?) and because
drawing needs them first, to refuse graphs too large to read. Everything here
only reads the graph, through `topological_order`, without recursion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from autograd_core.engine import Value, topological_order
from autograd_core.errors import type_name

__all__ = ["GraphStats", "consumer_counts", "graph_stats"]


@dataclass(frozen=True)
class GraphStats:
    """The size and shape of a graph, to judge what drawing or backward costs.

    - `nodes`: Values in the graph, leaves and the root included.
    - `edges`: parent-to-child links, one per Value operand, repeats kept
      (`x*x` has two edges from `x`); number constants are not nodes.
    - `depth`: the longest path, in edges, from a leaf to the root (0 for a
      leaf on its own).
    - `leaves`: nodes with no operation (inputs, parameters, constants made
      Values).
    - `parameters`: the leaves counted as parameters; by default every leaf
      with a non-empty label (`nn` labels its parameters with their dotted
      names), or the given `parameters=` found in the graph.
    - `fan_out_nodes`: nodes used by more than one edge, where gradients
      from several paths add up.
    - `ops`: how many nodes each operation made, by op name.
    """

    nodes: int
    edges: int
    depth: int
    leaves: int
    parameters: int
    fan_out_nodes: int
    ops: Counter[str]


def consumer_counts(order: Iterable[Value]) -> dict[Value, int]:
    """How many edges leave each node: above 1, gradients add from several paths."""
    counts: dict[Value, int] = {}
    for node in order:
        counts.setdefault(node, 0)
        for parent, _ in node.parents:
            counts[parent] = counts.get(parent, 0) + 1
    return counts


def graph_stats(root: Value, *, parameters: Iterable[Value] | None = None) -> GraphStats:
    """Count what a graph holds, to see what drawing it or running backward costs.

    `parameters`, if given, are the Values to count as parameters (only those
    present in the graph count); otherwise every labelled leaf counts.
    """
    if not isinstance(root, Value):
        raise TypeError(f"graph_stats() needs a Value, got {type_name(root)}")
    order = topological_order(root)
    depth: dict[Value, int] = {}
    edges = 0
    leaves = 0
    ops: Counter[str] = Counter()
    for node in order:  # parents come first, so their depths are known
        pairs = node.parents
        edges += len(pairs)
        if node.is_leaf:
            leaves += 1
            depth[node] = 0
        else:
            assert node.op is not None  # a node with parents has an op
            ops[node.op.name] += 1
            depth[node] = 1 + max((depth[p] for p, _ in pairs), default=-1)
    if parameters is None:
        n_params = sum(1 for node in order if node.is_leaf and node.label)
    else:
        in_graph = set(order)
        wanted: dict[Value, None] = {}
        for p in parameters:
            if not isinstance(p, Value):
                raise TypeError(f"graph_stats(parameters=...) needs Values, got {type_name(p)}")
            wanted[p] = None
        n_params = sum(1 for p in wanted if p in in_graph)
    fan_out = sum(1 for c in consumer_counts(order).values() if c > 1)
    return GraphStats(
        nodes=len(order),
        edges=edges,
        depth=depth[root],
        leaves=leaves,
        parameters=n_params,
        fan_out_nodes=fan_out,
        ops=ops,
    )
