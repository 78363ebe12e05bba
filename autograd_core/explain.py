"""A backward pass that shows its work: chain-rule paths and a step-by-step record.

Backpropagation tutorials teach the gradient of one weight as a sum over
paths: each path from the output down to the weight contributes the product
of the local derivatives along it (dC/dw1 = x1 * sigma'(i_H1) * (w5 * dC/di_L1
+ w6 * dC/di_L2)). `explain_paths` lists those paths with their factors and
shows that their products add up to the gradient `backward()` computes.
`backward_trace` records the whole backward pass, one row per edge in the
order `backward()` applies them. `draw_explained` puts the contributions on
the edges of the drawing.

Nothing here knows a derivative: local gradients are read from the nodes, and
the gradients shown are those `backward()` computes, in its order, recorded
by the engine's `gradient_table` into a table of its own (no `.grad` is read
or written, so explaining is safe beside training on the same weights).
Paths are counted by dynamic programming before any is listed, so a graph
with astronomically many paths gets the per-node summary instead.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd_core import engine
from autograd_core.engine import Value, topological_order
from autograd_core.errors import describe

__all__ = [
    "BackwardTrace",
    "Path",
    "PathExplanation",
    "Step",
    "backward_trace",
    "draw_explained",
    "explain_paths",
]

DIGITS = 12  # significant digits in the printed tables


# ---------------------------------------------------------------------------
# Naming nodes and printing tables.


def _namer(order: Sequence[Value]) -> Callable[[Value], str]:
    """Names for table rows: the label, else the op and the node's place in `order`."""
    index = {node: i for i, node in enumerate(order)}

    def name(node: Value) -> str:
        if node.label:
            return node.label
        kind = node.op.name if node.op is not None else "leaf"
        return f"{kind}#{index.get(node, '?')}"

    return name


def _num(x: float, digits: int = DIGITS) -> str:
    return format(x, f".{digits}g")


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned plain-text table: text columns left, number columns right."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    numeric = [
        bool(rows) and all(_looks_numeric(row[i]) for row in rows) for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------------
# The step-by-step record of one backward pass.


@dataclass(frozen=True)
class Step:
    """One edge of the backward pass: `parent.grad += local_grad * upstream`."""

    node: Value
    parent: Value
    local_grad: float  # d node / d parent
    upstream: float  # d output / d node, complete when the step runs
    contribution: float  # local_grad * upstream, as backward() computed it
    parent_grad: float  # the parent's gradient right after this step


def _check_value(x: object, what: str) -> None:
    if not isinstance(x, Value):
        raise TypeError(f"{what} must be a Value, got {describe(x)}")


def _record(output: Value, order: list[Value]) -> tuple[list[Step], dict[Value, float]]:
    """The backward pass from `output`, every edge recorded; the steps and final grads.

    The engine's `gradient_table` computes the same numbers as `backward()`, in
    its order, into a table of its own: no `.grad` is read or written, so
    explaining has no side effects and threads may explain one graph at once.
    """
    steps: list[Step] = []

    def on_edge(
        node: Value, parent: Value, local: Any, up: Any, contribution: Any, total: Any
    ) -> None:
        steps.append(Step(node, parent, local, up, contribution, total))

    table = engine.gradient_table(output, on_edge=on_edge)
    return steps, {node: table.get(node, 0.0) for node in order}


@dataclass
class BackwardTrace:
    """Every edge of a backward pass in the order `backward()` applied it, printable."""

    output: Value
    steps: list[Step]
    grads: dict[Value, float]  # d output / d node for every node, as backward() left them
    order: list[Value] = field(repr=False)

    def rows(self, digits: int = DIGITS) -> list[list[str]]:
        """The table's cells, one row per step."""
        name = _namer(self.order)
        return [
            [
                str(i),
                name(s.node),
                s.node.op.name if s.node.op is not None else "",
                name(s.parent),
                _num(s.local_grad, digits),
                _num(s.upstream, digits),
                _num(s.contribution, digits),
                _num(s.parent_grad, digits),
            ]
            for i, s in enumerate(self.steps, 1)
        ]

    headers = (
        "step",
        "node",
        "op",
        "parent",
        "local grad",
        "upstream grad",
        "contribution",
        "parent grad so far",
    )

    def __str__(self) -> str:
        title = (
            f"backward pass of {_namer(self.order)(self.output)} = "
            f"{_num(self.output.data)}: {len(self.steps)} step(s), "
            "each parent.grad += local grad * upstream grad"
        )
        return title + "\n" + _text_table(self.headers, self.rows())

    def _repr_html_(self) -> str:
        return _html_table(self.headers, self.rows())


def backward_trace(output: Value) -> BackwardTrace:
    """Record the backward pass from `output`, step by step, as `backward()` runs it."""
    _check_value(output, "backward_trace(output)")
    order = topological_order(output)
    steps, grads = _record(output, order)
    return BackwardTrace(output, steps, grads, order)


# ---------------------------------------------------------------------------
# Paths from the output down to one node.


@dataclass(frozen=True)
class Path:
    """One chain-rule path: nodes from the output to `wrt`, a local gradient per edge."""

    nodes: tuple[Value, ...]  # nodes[0] is the output, nodes[-1] the node explained
    factors: tuple[float, ...]  # factors[k] = d nodes[k] / d nodes[k+1]
    product: float  # the factors multiplied from the output down, as backward() does
    # edges[k]: which of nodes[k]'s parent edges the path takes (x*x has two to x)
    edges: tuple[int, ...] = ()


@dataclass
class PathExplanation:
    """The paths from an output to one node, their products, and what backward() says."""

    output: Value
    wrt: Value
    n_paths: int  # counted, never enumerated to count
    max_paths: int
    paths: list[Path] | None  # None when there are more than max_paths
    path_sum: float | None  # sum of the path products (None when not listed)
    gradient: float  # d output / d wrt from a real backward()
    summary: list[Step]  # the per-node form: every edge between output and wrt
    order: list[Value] = field(repr=False)

    @property
    def listed(self) -> bool:
        """Whether the paths were few enough to list."""
        return self.paths is not None

    def summary_rows(self, digits: int = DIGITS) -> list[list[str]]:
        """Per-node form: d output / d node times the local gradient, for each edge."""
        name = _namer(self.order)
        return [
            [
                name(s.node),
                name(s.parent),
                _num(s.upstream, digits),
                _num(s.local_grad, digits),
                _num(s.contribution, digits),
            ]
            for s in self.summary
        ]

    summary_headers = ("node", "parent", "d out/d node", "local grad", "contribution")
    path_headers = ("edge", "from", "to", "local grad", "product so far")

    def path_rows(self, path: Path, digits: int = DIGITS) -> list[list[str]]:
        """One row per edge of `path`, with the running product."""
        name = _namer(self.order)
        rows, running = [], 1.0
        for k, factor in enumerate(path.factors):
            running *= factor
            rows.append(
                [
                    str(k + 1),
                    name(path.nodes[k]),
                    name(path.nodes[k + 1]),
                    _num(factor, digits),
                    _num(running, digits),
                ]
            )
        return rows

    def _title(self) -> str:
        name = _namer(self.order)
        return f"d {name(self.output)} / d {name(self.wrt)}"

    def __str__(self) -> str:
        name = _namer(self.order)
        out = [
            f"{self._title()}: {self.n_paths} path(s) from {name(self.output)} down to "
            f"{name(self.wrt)}"
        ]
        if self.paths is None:
            out.append(
                f"too many paths to list (more than max_paths={self.max_paths}); "
                "the per-node form instead: each edge's contribution is "
                "d out/d node * local grad, and a node's gradient is the sum of those into it"
            )
            out.append(_text_table(self.summary_headers, self.summary_rows()))
            out.append(f"gradient from backward():  {_num(self.gradient)}")
            return "\n".join(out)
        for i, path in enumerate(self.paths, 1):
            chain = name(path.nodes[0])
            for k, node in enumerate(path.nodes[1:]):
                chain += f" <- {name(node)}{_operand_note(path, k)}"
            out.append("")
            out.append(f"path {i}: {chain}")
            if path.factors:
                out.append(_text_table(self.path_headers, self.path_rows(path)))
            out.append(f"product: {_num(path.product)}")
        out.append("")
        assert self.path_sum is not None
        totals = [
            (f"sum of the {self.n_paths} path products:", _num(self.path_sum)),
            ("gradient from backward():", _num(self.gradient)),
            ("difference:", _num(self.path_sum - self.gradient, 3)),
        ]
        width = max(len(k) for k, _ in totals)
        out.extend(f"{k.ljust(width)}  {v}" for k, v in totals)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        title = f"<p><b>{html.escape(self._title())}</b>: {self.n_paths} path(s)</p>"
        if self.paths is None:
            return (
                title
                + f"<p>more than max_paths={self.max_paths} paths: the per-node form</p>"
                + _html_table(self.summary_headers, self.summary_rows())
                + f"<p>gradient from backward(): {_num(self.gradient)}</p>"
            )
        parts = [title]
        for i, path in enumerate(self.paths, 1):
            parts.append(f"<p>path {i}: product {_num(path.product)}</p>")
            parts.append(_html_table(self.path_headers, self.path_rows(path)))
        assert self.path_sum is not None
        parts.append(
            f"<p>sum of path products {_num(self.path_sum)}; "
            f"gradient from backward() {_num(self.gradient)}</p>"
        )
        return "".join(parts)


def _reaching(order: list[Value], wrt: Value) -> set[Value]:
    """Nodes of `order` with a path down to `wrt` (wrt included)."""
    reach: set[Value] = set()
    for node in order:  # parents before children
        if node is wrt or any(p in reach for p, _ in node.parents):
            reach.add(node)
    return reach


def _count_paths(order: list[Value], reach: set[Value], wrt: Value) -> int:
    """Paths from the output (last in `order`) to `wrt`, by dynamic programming.

    count[node] = number of paths from the output to node; each edge carries
    the count of its child to its parent, repeated edges (x*x) separately.
    """
    if not reach or order[-1] not in reach:
        return 0
    count: dict[Value, int] = {order[-1]: 1}
    for node in reversed(order):
        c = count.get(node, 0)
        if not c:
            continue
        for parent, _ in node.parents:
            if parent in reach:
                count[parent] = count.get(parent, 0) + c
    return count.get(wrt, 0)


def _operand_note(path: Path, k: int) -> str:
    """' (operand i)' where the path's k-th edge is one of several to the same parent."""
    if k >= len(path.edges):
        return ""
    parents = [p for p, _ in path.nodes[k].parents]
    if parents.count(path.nodes[k + 1]) < 2:
        return ""
    return f" (operand {path.edges[k] + 1})"


def _enumerate_paths(output: Value, wrt: Value, reach: set[Value]) -> list[Path]:
    """Every path from output to wrt, depth first with an explicit stack."""
    if output not in reach:
        return []
    paths: list[Path] = []
    nodes: list[Value] = [output]
    factors: list[float] = []
    taken: list[int] = []  # index of the parent edge taken at each step
    # stack[k] = (node, its parent edges, index of the next edge to take)
    stack: list[list[Any]] = [[output, output.parents, 0]]
    while stack:
        top = stack[-1]
        node, edges, i = top
        if node is wrt:
            product = 1.0
            for f in factors:
                product *= f
            paths.append(Path(tuple(nodes), tuple(factors), product, tuple(taken)))
        # `wrt` is never below itself in a DAG, so its edges lead nowhere useful.
        while node is not wrt and i < len(edges) and edges[i][0] not in reach:
            i += 1
        if node is wrt or i >= len(edges):
            stack.pop()
            nodes.pop()
            if factors:
                factors.pop()
                taken.pop()
            continue
        top[2] = i + 1
        parent, local = edges[i]
        nodes.append(parent)
        factors.append(local)
        taken.append(i)
        stack.append([parent, parent.parents, 0])
    return paths


def explain_paths(output: Value, wrt: Value, max_paths: int = 1000) -> PathExplanation:
    """Each chain-rule path from `output` down to `wrt`, and how they sum to its gradient.

    With more than `max_paths` paths (counted first, never enumerated to
    count), lists none and gives the per-node form instead.
    """
    _check_value(output, "explain_paths(output)")
    _check_value(wrt, "explain_paths(wrt)")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"explain_paths(): max_paths must be a positive int, got {max_paths!r}")
    order = topological_order(output)
    steps, grads = _record(output, order)
    reach = _reaching(order, wrt)
    n_paths = _count_paths(order, reach, wrt)
    summary = [s for s in steps if s.parent in reach]
    gradient = grads.get(wrt, 0.0) if wrt in reach else 0.0
    paths = path_sum = None
    if n_paths <= max_paths:
        paths = _enumerate_paths(output, wrt, reach)
        assert len(paths) == n_paths, (len(paths), n_paths)
        path_sum = math.fsum(p.product for p in paths)
    return PathExplanation(
        output, wrt, n_paths, max_paths, paths, path_sum, gradient, summary, order
    )


# ---------------------------------------------------------------------------
# Drawing.


def draw_explained(output: Value, wrt: Value | None = None, **kw: Any) -> Any:
    """The graph drawn with each edge labelled by its backward contribution.

    An edge from node to parent carries `local grad * d output/d node`, the
    amount it adds to the parent's gradient. Given `wrt`, the nodes on the
    paths from `output` down to `wrt` are highlighted. Other keyword
    arguments go to `autograd_core.draw.to_digraph`.
    """
    from autograd_core.draw import to_digraph  # drawing is optional: import on use

    _check_value(output, "draw_explained(output)")
    order = topological_order(output)
    _, grads = _record(output, order)

    def edge_label(child: Value, parent: Any, local_grad: float | None) -> str | None:
        upstream = grads.get(child)
        if upstream is None or local_grad is None or not isinstance(parent, Value):
            return None  # not an edge the backward pass uses (e.g. a constant operand)
        return _num(local_grad * upstream, 4)

    kw.setdefault("edge_labels", True)
    kw.setdefault("edge_label", edge_label)
    if wrt is not None:
        _check_value(wrt, "draw_explained(wrt)")
        kw.setdefault("highlight", _reaching(order, wrt))
    return to_digraph(output, **kw)
