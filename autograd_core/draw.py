"""Drawing the graph behind a Value with Graphviz, and rendering it to SVG.

`to_digraph` (alias `draw_dot`, the name micrograd users know) only reads the
graph and builds a `graphviz.Digraph`, so its DOT source can be tested without
Graphviz installed; `render_svg` runs Graphviz's `dot` on it. In Jupyter a
returned `Digraph` displays inline as SVG.

What a drawing shows:

- one box per Value (label, data, grad) and one ellipse per operation, with
  its number constants inside (`* 2`); edges go parent -> op -> child, one per
  Value operand, so `x*x` draws two edges from `x`;
- fan-out: a Value used by more than one edge has an orange border and the
  note "grads add from N paths", because there its gradient is a sum;
- clusters: nodes owned by a module are boxed together, using the dotted
  parameter names that `nn` gives (`layers.0.neurons.1.w[0]`), see
  `module_paths` for the rule;
- the output is deterministic: nodes are named by their position in
  `topological_order`, so the same graph always gives the same DOT source;
- every user string (labels, cluster titles and tooltips derived from them,
  op symbols, edge labels) is escaped so that it is drawn as the same text
  and is never read as DOT or HTML-like markup: `dot` never reads a file
  because of a label. If `dot` still fails, `GraphvizError` says what was
  being drawn.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_core.engine import Value, topological_order
from autograd_core.errors import cut, describe, printable
from autograd_core.files import atomic_write
from autograd_core.graph import consumer_counts

if TYPE_CHECKING:  # imported when a graph is drawn, not with autograd_core
    import graphviz

__all__ = [
    "GraphvizError",
    "GraphvizNotFound",
    "draw_dot",
    "module_paths",
    "render_svg",
    "to_digraph",
]

EdgeLabel = Callable[[Value, Value, Any], "str | None"]

_FAN_OUT_COLOR = "darkorange"
_HIGHLIGHT_COLOR = "crimson"
_INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH; the Python package `graphviz` only "
    "calls it. Install Graphviz itself: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or a "
    "download from https://graphviz.org/download/ (Windows: add its bin folder to PATH)."
)


class GraphvizNotFound(RuntimeError):
    """Graphviz's `dot` is not installed: the message says how to install it."""


class GraphvizError(RuntimeError, subprocess.CalledProcessError):
    """`dot` failed on a drawing: the message says what was drawn and what `dot` said.

    A RuntimeError, and still a `subprocess.CalledProcessError` (the base of
    what graphviz raised before), for code that catches that. Not graphviz's
    own subclass: `import autograd_core` does not import graphviz.
    """

    def __init__(self, message: str, cause: subprocess.CalledProcessError) -> None:
        subprocess.CalledProcessError.__init__(
            self, cause.returncode, cause.cmd, cause.output, cause.stderr
        )
        self.message = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------
# Which module owns which node.


def _module_of_label(label: str) -> str | None:
    """`layers.0.neurons.1.w[0]` -> `layers.0.neurons.1`; no dot -> None."""
    head, dot, last = label.rpartition(".")
    if not dot or not head or not last:
        return None
    return head


def module_paths(order: Iterable[Value]) -> dict[Value, str | None]:
    """The module that owns each node (None for none), to group drawings into clusters.

    `order` is `topological_order(root)`: parents before children. The rule:

    1. A labelled node belongs to the module its label names: the label
       without its last dotted component (`layers.0.neurons.1.w[0]` and
       `layers.0.neurons.1.b` belong to `layers.0.neurons.1`). A label
       without a dot (`x`, `loss`) names no module, so the node belongs to
       none. Unlabelled leaves belong to none.
    2. An unlabelled computed node follows its leaf parents that belong to a
       module (its parameters), if they all agree: a neuron's `linear` node
       belongs to that neuron although its inputs come from elsewhere.
    3. Without such parameters, it follows its Value parents if they all
       belong to the same module and the operation has no number constants:
       the `relu` or `tanh` after a neuron's `linear` belongs to the neuron,
       and so do the sums of `w*x` products of a neuron built by hand, but
       `out - 1.5` or `(...) ** 2`, typical of a loss, do not.
    4. Otherwise it belongs to no module: a loss mixing the outputs of
       several neurons, or outputs and target Values, stays outside.
    """
    owner: dict[Value, str | None] = {}
    for node in order:
        if node.label or node.is_leaf:
            owner[node] = _module_of_label(node.label) if node.label else None
            continue
        parents = [p for p, _ in node.parents]
        params = {owner[p] for p in parents if p.is_leaf and owner[p] is not None}
        if params:
            owner[node] = params.pop() if len(params) == 1 else None
            continue
        modules = {owner[p] for p in parents}
        if len(modules) == 1 and len(parents) == len(node.operands):
            owner[node] = modules.pop()
        else:
            owner[node] = None
    return owner


def _cluster_ancestors(path: str) -> list[str]:
    """The prefixes of `path` that get a cluster of their own, outermost first.

    Only prefixes ending in an index (`layers.0`) make a box: they are one
    element of a list of modules, such as a layer. Prefixes ending in a name
    (`layers`, `layers.0.neurons`) are the lists themselves and get none.
    """
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts)) if parts[i - 1].isdigit()]


def _cluster_name(path: str) -> str:
    """The subgraph's name: graphviz boxes `cluster*` subgraphs.

    `cluster_layers.0` for the module paths `nn` gives; a path with other
    characters is percent-encoded, which keeps names distinct and free of
    quotes and backslashes (a name is a DOT ID, where no escape helps).
    """
    return "cluster_" + urllib.parse.quote(path, safe="[]", errors="surrogatepass")


def _cluster_title(path: str) -> str:
    """`layers.0.neurons.1` -> `neuron 0.1`, `layers.2` -> `layer 2`; else the path."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[-1].isdigit() and not parts[-2].isdigit():
        name = parts[-2]
        singular = name[:-1] if name.endswith("s") and len(name) > 1 else name
        indices = [p for p in parts if p.isdigit()]
        return f"{singular} {'.'.join(indices)}"
    return path


# ---------------------------------------------------------------------------
# Labels.


def _num(x: Any) -> str:
    """A short, stable rendering of a float (or of a Value's data)."""
    if isinstance(x, Value):
        x = x.data
    try:
        return f"{x:.4g}"  # 2.0 -> "2", 0.123456 -> "0.1235", 1e-20 -> "1e-20"
    except (TypeError, ValueError):  # a number type without "g" (Fraction before 3.12)
        pass
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError, OverflowError):
        return _text_escape(cut(repr(x), 40))


# Every user string (labels, op symbols, edge labels) reaches DOT through one of
# these two functions, so that it is drawn as the same text and never read as
# DOT syntax: an HTML-like label `<<TABLE>...<IMG SRC="file"/>...>>` would make
# `dot` read a local file, a backslash would start an escape sequence, and a
# trailing one would end the quoted string early.

_RECORD_SPECIAL = re.compile(r"([{}|<>])")
# Record fields trim and merge plain spaces, drop tabs, and (Graphviz 2.43) even
# lose an escaped space after a non-ASCII character; an entity survives all that.
_RECORD_SPACE = re.compile(r"[ \t]")


def _text_escape(text: str) -> str:
    """`text` as a DOT escString drawn literally (graphviz quotes it and escapes `"`).

    Backslashes are doubled (graphviz reads `\\n`, `\\l`, `\\G`... as escapes),
    `&` becomes `&amp;` (graphviz decodes HTML entities in every label), a line
    break becomes `\\n`, and the result is marked `nohtml` so that `<...>` stays
    text instead of becoming an HTML-like label.
    """
    text = printable(text)  # NUL, controls, lone surrogates: dot rejects or misreads them
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("\n", "\\n")
    from graphviz import nohtml

    return nohtml(text)


def _record_escape(text: str) -> str:
    """`text` as one field of a record label: `_text_escape`, then `{}|<>` escaped
    (record syntax) and spaces written `&#32;` (a tab becomes a space)."""
    return _RECORD_SPACE.sub("&#32;", _RECORD_SPECIAL.sub(r"\\\1", _text_escape(text)))


def _value_label(node: Value, uses: int, name: str | None = None, grad: float | None = None) -> str:
    fields = []
    if name is not None or node.label:
        fields.append(_record_escape(node.label if name is None else name))
    fields.append(f"data {_num(node.data)}")
    fields.append(f"grad {_num(node.grad if grad is None else grad)}")
    if uses > 1:
        fields.append(f"grads add from {uses} paths")
    if name is not None:  # the explorer's boxes: fields stacked, so a long graph stays narrow
        return " | ".join(fields)
    return "{ " + " | ".join(fields) + " }"


def _op_label(node: Value) -> str:
    """The op's symbol with its number constants in place: `* 2`, `2 -`, `** 0.5`."""
    op = node.op
    assert op is not None  # called for op nodes only, never for a leaf
    operands = node.operands
    symbol = _text_escape(op.symbol)  # a user's primitive chooses its symbol
    consts = [(i, x) for i, x in enumerate(operands) if not isinstance(x, Value)]
    if not consts:
        return symbol
    if op.arity == 2:
        i, c = consts[0]
        text = f"{_num(c)} {symbol}" if i == 0 else f"{symbol} {_num(c)}"
    elif op.name == "linear" and consts == [(len(operands) - 1, operands[-1])]:
        text = f"{symbol}\\nb = {_num(operands[-1])}"
    else:
        listed = ", ".join(f"#{i} = {_num(c)}" for i, c in consts)
        text = f"{symbol}\\n{listed}"
    from graphviz import nohtml

    return nohtml(text)


# ---------------------------------------------------------------------------
# The Digraph.


def to_digraph(
    root: Value,
    *,
    rankdir: str = "LR",
    edge_labels: bool = False,
    clusters: bool = True,
    max_nodes: int | None = 400,
    highlight: Collection[Value] | None = None,
    edge_label: EdgeLabel | None = None,
    names: Mapping[Value, str] | None = None,
    grads: Mapping[Value, float] | None = None,
) -> graphviz.Digraph:
    """The graph behind `root` as a `graphviz.Digraph`, to see what backward will walk.

    `rankdir` is "LR" (left to right) or "TB" (top to bottom). `edge_labels`
    writes each parent -> op edge's local gradient on it; `edge_label`, a
    callable `(child, parent, local_grad) -> str | None`, replaces that label
    per edge (None keeps the default: the local gradient if `edge_labels`,
    else nothing). `highlight` is a collection of Values drawn emphasised,
    with the edges between them (Values not in the graph are ignored).
    `clusters=False` draws no module boxes. Graphs with more than `max_nodes`
    Values raise ValueError (None: no limit). `names` gives every box a first
    field (the explorer writes its node names there) and stacks the fields, so
    that a long graph stays narrow; without it only labelled Values have one.
    `grads` gives the gradients to write instead of each Value's `.grad`.
    """
    marked = _check_options(root, rankdir, max_nodes, edge_label, highlight)
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise ValueError(
            f"this graph has {len(order)} Value nodes, more than max_nodes={max_nodes}: "
            "too many to read in one drawing. Draw one example instead (e.g. the model "
            "applied to a single input, or the loss of one data point), or raise max_nodes."
        )
    ids = {node: f"v{i}" for i, node in enumerate(order)}
    uses = consumer_counts(order)

    import graphviz

    dot = graphviz.Digraph(
        name="autograd",
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )

    def add_nodes(graph: graphviz.Digraph, nodes: list[Value]) -> None:
        _add_nodes(graph, nodes, ids, uses, marked, names, grads)

    if clusters:
        owner = module_paths(order)
        _add_clusters(dot, order, owner, add_nodes)
        top = [node for node in order if owner[node] is None]
    else:
        top = order
    add_nodes(dot, top)
    _add_edges(dot, order, ids, marked, edge_labels, edge_label)
    return dot


def _check_options(
    root: Any, rankdir: Any, max_nodes: Any, edge_label: Any, highlight: Any
) -> set[Value]:
    """Refuse bad arguments of `to_digraph`; the set of Values to highlight."""
    if not isinstance(root, Value):
        raise TypeError(f"to_digraph() needs a Value to draw, got {type(root).__qualname__}")
    if rankdir not in ("LR", "TB"):
        raise ValueError(
            f'rankdir must be "LR" (left to right) or "TB" (top to bottom), got {rankdir!r}'
        )
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
    ):
        raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
    if edge_label is not None and not callable(edge_label):
        raise TypeError(
            "edge_label must be a callable (child, parent, local_grad) -> str | None, "
            f"got {type(edge_label).__qualname__}"
        )
    if highlight is not None and (
        isinstance(highlight, (Value, str)) or not isinstance(highlight, Iterable)
    ):
        raise TypeError(
            "highlight must be a collection of Values (e.g. [x] for one), got "
            f"{type(highlight).__qualname__}"
        )
    marked: set[Value] = set()
    for v in highlight or ():
        if not isinstance(v, Value):
            raise TypeError(f"highlight must hold Values, got {describe(v)}")
        marked.add(v)
    return marked


def _add_nodes(
    graph: graphviz.Digraph,
    nodes: list[Value],
    ids: dict[Value, str],
    uses: dict[Value, int],
    marked: set[Value],
    names: Mapping[Value, str] | None = None,
    grads: Mapping[Value, float] | None = None,
) -> None:
    """A record per Value and an ellipse per op, fan-out and highlighted nodes marked."""
    for node in nodes:
        name = names[node] if names is not None else None
        grad = grads[node] if grads is not None else None
        attrs = {"shape": "record", "label": _value_label(node, uses[node], name, grad)}
        if uses[node] > 1:
            attrs.update(color=_FAN_OUT_COLOR, penwidth="2")
        if node in marked:
            attrs.update(
                color=_HIGHLIGHT_COLOR, penwidth="3", style="filled", fillcolor="mistyrose"
            )
        graph.node(ids[node], **attrs)
        if not node.is_leaf:
            op_attrs = {"shape": "ellipse", "label": _op_label(node)}
            if node in marked:
                op_attrs.update(color=_HIGHLIGHT_COLOR, penwidth="3")
            graph.node(ids[node] + "_op", **op_attrs)


def _add_edges(
    dot: graphviz.Digraph,
    order: list[Value],
    ids: dict[Value, str],
    marked: set[Value],
    edge_labels: bool,
    edge_label: EdgeLabel | None,
) -> None:
    """parent -> op -> child, one edge per Value operand, labelled as asked."""
    for node in order:
        if node.is_leaf:
            continue
        op_id = ids[node] + "_op"
        for parent, local in node.parents:
            attrs = {}
            text = edge_label(node, parent, local) if edge_label is not None else None
            if text is None and edge_labels:
                text = _num(local)
            if text is not None:
                attrs["label"] = _text_escape(text)
            if node in marked and parent in marked:
                attrs.update(color=_HIGHLIGHT_COLOR, penwidth="3")
            dot.edge(ids[parent], op_id, **attrs)
        attrs = {"color": _HIGHLIGHT_COLOR, "penwidth": "3"} if node in marked else {}
        dot.edge(op_id, ids[node], **attrs)


draw_dot = to_digraph


def _add_clusters(
    dot: graphviz.Digraph,
    order: list[Value],
    owner: dict[Value, str | None],
    add_nodes: Callable[[graphviz.Digraph, list[Value]], None],
) -> None:
    """Nested `cluster_*` subgraphs, in order of first appearance."""
    members: dict[str, list[Value]] = {}
    for node in order:
        path = owner[node]
        if path is not None:
            members.setdefault(path, []).append(node)
    # Every cluster with its enclosing ones, in first-appearance order.
    children: dict[str | None, list[str]] = {}
    known: set[str] = set()
    for path in members:
        chain = [*_cluster_ancestors(path), path]
        parent = None
        for p in chain:
            if p not in known:
                known.add(p)
                children.setdefault(parent, []).append(p)
            parent = p
    names = {p: _cluster_name(p) for p in known}
    _emit(dot, children, members, names, add_nodes)


def _emit(
    dot: graphviz.Digraph,
    children: dict[str | None, list[str]],
    members: dict[str, list[Value]],
    names: dict[str, str],
    add_nodes: Callable[[graphviz.Digraph, list[Value]], None],
) -> None:
    # graphviz builds a subgraph with `dot.subgraph(sub)` after `sub` is
    # complete, so build innermost first: a post-order over the cluster tree.
    built: dict[str, graphviz.Digraph] = {}
    stack: list[tuple[str, bool]] = [(p, False) for p in reversed(children.get(None, []))]
    while stack:
        path, expanded = stack.pop()
        if not expanded:
            stack.append((path, True))
            stack.extend((c, False) for c in reversed(children.get(path, [])))
            continue
        sub = dot.__class__(name=names[path])  # graphviz.Digraph, imported by to_digraph
        sub.attr(
            label=_text_escape(_cluster_title(path)),
            tooltip=_text_escape(path),
            style="rounded,dashed",
            color="gray40",
            fontname="Helvetica",
        )
        add_nodes(sub, members.get(path, []))
        for c in children.get(path, []):
            sub.subgraph(built.pop(c))
        built[path] = sub
    for p in children.get(None, []):
        dot.subgraph(built.pop(p))


# ---------------------------------------------------------------------------
# Rendering.


def _pipe_svg(dot: graphviz.Digraph) -> bytes:
    """Run `dot -Tsvg` (a separate function so tests can replace it)."""
    return dot.pipe(format="svg")


def _failure_message(root: Value, target: Path | None, error: subprocess.CalledProcessError) -> str:
    """What was being drawn, where to, and the first lines `dot` wrote on stderr."""
    what = cut(f"the graph of {root.label!r}", 200) if root.label else "the graph"
    nodes = len(topological_order(root))
    where = f" to {str(target)!r}" if target is not None else ""
    said = error.stderr or b""
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    lines = [line for line in said.strip().splitlines() if line.strip()][:3]
    detail = "; ".join(lines) if lines else f"exit status {error.returncode}"
    message = (
        f"Graphviz's dot failed to draw {what} ({nodes} Values){where}: {detail}. "
        "Labels are escaped before they reach dot, so if a label caused this, please "
        "report it with the label."
    )
    return cut(message, 600)


def render_svg(
    root: Value, path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> Path | str:
    """Render the graph behind `root` to SVG: the file's Path if `path` is given, else the text.

    Keyword arguments go to `to_digraph`. The file is written atomically (a
    temporary file in the same directory, then a rename), so a failed render
    leaves an existing file untouched. Raises `GraphvizNotFound`, saying how
    to install Graphviz, when `dot` is missing.
    """
    import graphviz

    dot = to_digraph(root, **kwargs)
    target = None
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, got {type(path).__qualname__}")
        target = Path(path)
        if target.is_dir():
            raise IsADirectoryError(
                f"cannot write the SVG to {str(target)!r}: it is a directory; give a file name "
                "such as graph.svg"
            )
        if not target.parent.is_dir():
            raise FileNotFoundError(
                f"cannot write {str(target)!r}: the directory {str(target.parent)!r} does not exist"
            )
    try:
        svg = _pipe_svg(dot)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFound(_INSTALL_HINT) from e
    except subprocess.CalledProcessError as e:
        raise GraphvizError(_failure_message(root, target, e), e) from e
    if target is None:
        return svg.decode("utf-8")
    atomic_write(target, svg)
    return target
