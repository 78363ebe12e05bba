"""`explore()`: one offline HTML page to step through a forward and a backward pass.

Python does all the maths here: it runs the engine's real backward pass with
`explain.backward_trace` (every edge, in the engine's order), asks
`explain.paths` for each leaf's chain-rule paths, draws the graph with our own
Graphviz layout (`draw.to_digraph`), and writes it all into the page as one
JSON trace. The page's JavaScript (`explorer.js`, package data next to this
file) only steps through that recorded trace: it never recomputes a number.

The page is one self-contained file: the SVG, the script and the styles are
inline and it loads nothing, so it opens from disk and inside Jupyter (where it
is shown in an iframe, so that several explorers in one notebook stay apart).

Graphs with more Values than `max_nodes` (the drawing guard of `draw`) are
summarised: one box per module (a neuron, say), drawn and stepped through at
that level, and the page says so.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from autograd_core.engine import Value, topological_order
from autograd_core.explain import backward_trace, explain_paths
from autograd_core.files import atomic_write

__all__ = ["Explorer", "explore", "explorer_bundle", "page"]

DIGITS = 4  # significant digits shown in the drawing; the tables show more
TABLE_DIGITS = 8
_PARAMS_SHOWN = 64  # parameters listed in a summarised module's table


# ---------------------------------------------------------------------------
# Numbers, names.


def _f(x: Any) -> float | str:
    """A float for JSON: non-finite values become strings ("nan", "inf"), which JSON lacks."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _t(x: Any, digits: int = DIGITS) -> str:
    return format(float(x), f".{digits}g")


def _names(order: list[Value]) -> dict[Value, str]:
    """The label, else the op and the node's place in the order (as explain's tables)."""
    out = {}
    for i, node in enumerate(order):
        if node.label:
            out[node] = node.label
        else:
            out[node] = f"{node.op.name if node.op is not None else 'leaf'}#{i}"
    return out


def _value_fields(node: Value, trace: Any) -> dict[str, Any]:
    """A node's data and gradient (from the recorded trace), as numbers and as shown."""
    grad = trace.grads[node]
    return {
        "data": _f(node.data),
        "grad": _f(grad),
        "text": {"data": _t(node.data), "grad": _t(grad)},
    }


def _edge(step: Any, ids: dict[Value, str], names: dict[Value, str]) -> dict[str, Any]:
    """One backward edge: parent.grad += local * upstream, with the numbers the engine used."""
    return {
        "parent": ids[step.parent],
        "parent_name": names[step.parent],
        "node_name": names[step.node],
        "local": _f(step.local_grad),
        "upstream": _f(step.upstream),
        "contribution": _f(step.contribution),
        "parent_grad": _f(step.parent_grad),
        "text": {
            "local": _t(step.local_grad, TABLE_DIGITS),
            "upstream": _t(step.upstream, TABLE_DIGITS),
            "contribution": _t(step.contribution, TABLE_DIGITS),
            "parent_grad": _t(step.parent_grad, TABLE_DIGITS),
            "short": _t(step.parent_grad),  # in the drawing's box
        },
    }


def _group_runs(steps: list[Any], key: Any) -> list[tuple[Any, list[Any]]]:
    """Consecutive steps with the same key, as (key, steps) runs in the engine's order."""
    runs: list[tuple[Any, list[Any]]] = []
    for s in steps:
        k = key(s)
        if runs and runs[-1][0] == k:
            runs[-1][1].append(s)
        else:
            runs.append((k, [s]))
    return runs


# ---------------------------------------------------------------------------
# The SVG: Graphviz's drawing, with attributes the page script finds nodes by.

_NODE_G = re.compile(r'<g id="(node\d+)" class="node">\s*<title>([^<]*)</title>(.*?)</g>', re.S)
_EDGE_G = re.compile(r'<g id="(edge\d+)" class="edge">\s*<title>([^<]*)</title>', re.S)
_TEXT = re.compile(r"<text([^>]*)>(data|grad|out data|out grad) ([^<]*)</text>")


def _tag_svg(svg: str, units: dict[str, dict[str, Any]]) -> str:
    """Mark each drawn Value with data-node-id and its data, and its texts by role."""
    svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype: the SVG goes inline

    def node(m: re.Match) -> str:
        gid, title, body = m.group(1), html.unescape(m.group(2)), m.group(3)
        if title.endswith("_op"):
            attrs = f' data-op-of="{title[:-3]}"'
        elif title in units:
            attrs = f' data-node-id="{title}" data-data="{units[title]["data"]}"'
            body = _TEXT.sub(
                lambda t: (
                    f'<text{t.group(1)} class="ag-{t.group(2).split()[-1]}"'
                    f' data-prefix="{t.group(2)} ">{t.group(2)} {t.group(3)}</text>'
                ),
                body,
            )
        else:
            attrs = ""
        return f'<g id="{gid}" class="node"{attrs}>\n<title>{m.group(2)}</title>{body}</g>'

    svg = _NODE_G.sub(node, svg)
    slots: dict[str, int] = {}

    def edge(m: re.Match) -> str:
        src, _, dst = html.unescape(m.group(2)).partition("->")
        slot = slots.get(dst, 0)
        slots[dst] = slot + 1
        return (
            f'<g id="{m.group(1)}" class="edge" data-from="{src}" data-to="{dst}" '
            f'data-slot="{slot}">\n<title>{m.group(2)}</title>'
        )

    return _EDGE_G.sub(edge, svg)


def _svg_of(dot: Any) -> str:
    import graphviz

    from autograd_core.draw import GraphvizNotFound, _pipe_svg

    try:
        return _pipe_svg(dot).decode("utf-8")
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFound(
            "explore() draws the graph with Graphviz's `dot`, which was not found on PATH: "
            "install Graphviz (sudo apt-get install graphviz, brew install graphviz, "
            "or https://graphviz.org/download/)"
        ) from e


# ---------------------------------------------------------------------------
# The trace of a graph small enough to draw in full.


def _full_bundle(root: Value, order: list[Value], max_paths: int) -> dict[str, Any]:
    from autograd_core.draw import to_digraph

    ids = {node: f"v{i}" for i, node in enumerate(order)}  # as to_digraph names them
    names = _names(order)
    trace = backward_trace(root)
    units: dict[str, dict[str, Any]] = {}
    for node in order:
        units[ids[node]] = {
            "name": names[node],
            "op": node.op.name if node.op is not None else None,
            "leaf": node.is_leaf,
            **_value_fields(node, trace),
            "locals": [
                {
                    "parent": ids[p],
                    "parent_name": names[p],
                    "local": _f(g),
                    "text": _t(g, TABLE_DIGITS),
                }
                for p, g in node.parents
            ],
        }
    backward = [
        {"node": ids[n], "edges": [_edge(s, ids, names) for s in run]}
        for n, run in _group_runs(trace.steps, lambda s: s.node)
    ]
    _mark_last(backward)
    paths = {}
    for node in order:
        if node.is_leaf and node is not root:
            paths[ids[node]] = _paths_of(explain_paths(root, node, max_paths), ids, names)

    # Draw with the engine's final gradients in the boxes, so they fit the numbers they
    # show: written into the drawing's labels, never into `.grad` (another thread may train).
    dot = to_digraph(root, max_nodes=None)
    node_of = {i: node for node, i in ids.items()}
    dot.body[:] = [_with_grad(line, node_of, trace.grads) for line in dot.body]
    return {
        "mode": "full",
        "note": "",
        "root": ids[root],
        "units": units,
        "forward": [ids[n] for n in order if not n.is_leaf],
        "leaves": [ids[n] for n in order if n.is_leaf],
        "backward": backward,
        "paths": paths,
        "svg": _tag_svg(_svg_of(dot), units),
    }


_GRAD_FIELD = re.compile(r"\| grad [^ ]* (?=[|}])")


def _with_grad(line: str, node_of: dict[str, Value], grads: dict[Value, float]) -> str:
    """A drawing's record line with the gradient field showing `grads`, not `.grad`."""
    from autograd_core.draw import _num

    node = node_of.get(line.strip().split(" ", 1)[0])
    if node is None:
        return line
    return _GRAD_FIELD.sub(lambda _: f"| grad {_num(grads[node])} ", line, count=1)


def _mark_last(backward: list[dict[str, Any]]) -> None:
    """Flag each parent's last incoming edge: after it, that gradient is complete."""
    seen: set[str] = set()
    for step in reversed(backward):
        for e in reversed(step["edges"]):
            e["last"] = e["parent"] not in seen
            seen.add(e["parent"])


def _chain_names(path: Any, names: dict[Value, str]) -> list[str]:
    """The path's node names, saying which operand where a node uses the same parent twice."""
    out = [names[path.nodes[0]]]
    for k, node in enumerate(path.nodes[1:]):
        parents = [p for p, _ in path.nodes[k].parents]
        note = f" (operand {path.edges[k] + 1})" if parents.count(node) > 1 else ""
        out.append(names[node] + note)
    return out


def _paths_of(ex: Any, ids: dict[Value, str], names: dict[Value, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n_paths": ex.n_paths,
        "max_paths": ex.max_paths,
        "gradient": _f(ex.gradient),
        "gradient_text": _t(ex.gradient, TABLE_DIGITS),
        "paths": None,
    }
    if ex.paths is not None:
        out["sum"] = _f(ex.path_sum)
        out["sum_text"] = _t(ex.path_sum, TABLE_DIGITS)
        out["paths"] = [
            {
                "nodes": [ids[n] for n in p.nodes],
                "names": _chain_names(p, names),
                "slots": list(p.edges),
                "factors": [_f(x) for x in p.factors],
                "factor_texts": [_t(x, TABLE_DIGITS) for x in p.factors],
                "product": _f(p.product),
                "product_text": _t(p.product, TABLE_DIGITS),
            }
            for p in ex.paths
        ]
    return out


# ---------------------------------------------------------------------------
# The summarised trace of a graph over the guard: one unit per module.


def _summary_bundle(root: Value, order: list[Value], max_nodes: int) -> dict[str, Any]:
    """The bundle of a graph over the guard: one unit per module, stepped module by module."""
    names = _names(order)
    members, titles, unit_of = _module_units(order, names)
    ids = {key: f"u{i}" for i, key in enumerate(members)}
    nid = {node: ids[unit_of[node]] for node in order}
    trace = backward_trace(root)
    output = {key: nodes[-1] for key, nodes in members.items()}  # last in topological order
    units = {
        ids[key]: _module_unit(key, nodes, titles[key], output[key], names, trace)
        for key, nodes in members.items()
    }
    backward = _module_backward(trace, unit_of, ids, nid, names, set(output.values()))
    note = (
        f"This graph has {len(order)} Values, more than max_nodes={max_nodes}: too many to read "
        f"in one drawing. Summarised view: one box per module ({len(members)} boxes), showing "
        "the data and gradient of the module's output; steps go module by module, and only "
        "the edges between modules are listed."
    )
    svg = ""
    if len(members) > max_nodes:
        note += f" Even summarised there are more than {max_nodes} boxes: no drawing."
    else:
        svg = _tag_svg(_svg_of(_summary_digraph(order, members, units, ids, nid)), units)
    position = {node: i for i, node in enumerate(order)}
    forward_units = sorted(members, key=lambda k: position[output[k]])
    return {
        "mode": "summary",
        "note": note,
        "root": nid[root],
        "units": units,
        "forward": [ids[k] for k in forward_units if not units[ids[k]]["leaf"]],
        "leaves": [ids[k] for k in forward_units if units[ids[k]]["leaf"]],
        "backward": backward,
        "paths": {},
        "svg": svg,
    }


def _module_units(
    order: list[Value], names: dict[Value, str]
) -> tuple[dict[str, list[Value]], dict[str, str], dict[Value, str]]:
    """A unit is a module (all the nodes it owns), or one node owned by none: its members,
    its title and each node's unit, keyed "m:<module path>" or "n:<k>"."""
    from autograd_core.draw import _cluster_title, module_paths

    owner = module_paths(order)
    unit_of: dict[Value, str] = {}
    members: dict[str, list[Value]] = {}
    titles: dict[str, str] = {}
    for node in order:
        path = owner[node]
        key = f"m:{path}" if path is not None else f"n:{len(members)}"
        if key not in members:
            members[key] = []
            titles[key] = _cluster_title(path) if path is not None else names[node]
        members[key].append(node)
        unit_of[node] = key
    return members, titles, unit_of


def _module_unit(
    key: str, nodes: list[Value], title: str, out: Value, names: dict[Value, str], trace: Any
) -> dict[str, Any]:
    """One box of the summary: the module's output and its first parameters."""
    params = [n for n in nodes if n.is_leaf]
    is_module = key.startswith("m:")
    return {
        "name": title,
        "op": f"module of {len(nodes)} Values"
        if is_module
        else (out.op.name if out.op is not None else None),
        "leaf": not is_module and out.is_leaf,
        **_value_fields(out, trace),
        "output_name": names[out],
        "params": [
            {
                "name": names[p],
                "data": _t(p.data, TABLE_DIGITS),
                "grad": _t(trace.grads[p], TABLE_DIGITS),
            }
            for p in params[:_PARAMS_SHOWN]
        ],
        "more_params": max(0, len(params) - _PARAMS_SHOWN),
        "locals": [],
    }


def _module_backward(
    trace: Any,
    unit_of: dict[Value, str],
    ids: dict[str, str],
    nid: dict[Value, str],
    names: dict[Value, str],
    outputs: set[Value],
) -> list[dict[str, Any]]:
    """The backward steps module by module: only the edges that leave a module are listed."""
    backward = []
    for key, run in _group_runs(trace.steps, lambda s: unit_of[s.node]):
        crossing = [s for s in run if unit_of[s.parent] != key]
        edges = []
        for s in crossing:
            e = _edge(s, nid, names)
            e["updates"] = s.parent in outputs  # the parent box shows this node's grad
            edges.append(e)
        backward.append({"node": ids[key], "edges": edges, "inner": len(run) - len(crossing)})
    _mark_last(backward)
    return backward


def _summary_digraph(
    order: list[Value],
    members: dict[str, list[Value]],
    units: dict[str, dict[str, Any]],
    ids: dict[str, str],
    nid: dict[Value, str],
) -> Any:
    """One record box per unit and one edge per pair of units that an edge of the graph joins."""
    import graphviz

    dot = graphviz.Digraph(
        name="autograd_summary",
        graph_attr={"rankdir": "LR"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "record"},
    )
    for key in members:
        u = units[ids[key]]
        first = f"{u['name']} ({len(members[key])})" if key.startswith("m:") else u["name"]
        out = "out " if key.startswith("m:") else ""
        label = (
            "{ " + _record(first) + f" | {out}data {u['text']['data']}"
            f" | {out}grad {u['text']['grad']} }}"
        )
        dot.node(ids[key], label=label)
    seen = set()
    for node in order:
        for p, _ in node.parents:
            pair = (nid[p], nid[node])
            if pair[0] != pair[1] and pair not in seen:
                seen.add(pair)
                dot.edge(*pair)
    return dot


_RECORD_SPECIAL = re.compile(r"([{}|<>\\\"])")


def _record(text: str) -> str:
    return _RECORD_SPECIAL.sub(r"\\\1", text)


# ---------------------------------------------------------------------------
# Public.


def explorer_bundle(root: Value, *, max_nodes: int = 400, max_paths: int = 64) -> dict[str, Any]:
    """The recorded trace and drawing the page steps through, as JSON-ready data.

    Full when `root`'s graph has at most `max_nodes` Values, else summarised
    by module. Each leaf lists up to `max_paths` chain-rule paths.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explore() needs a Value, got {type(root).__qualname__}: {root!r}"[:300])
    for name, n in (("max_nodes", max_nodes), ("max_paths", max_paths)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"explore(): {name} must be a positive int, got {n!r}")
    order = topological_order(root)
    if len(order) > max_nodes:
        bundle = _summary_bundle(root, order, max_nodes)
    else:
        bundle = _full_bundle(root, order, max_paths)
    bundle["output"] = {"name": _names(order)[root], "data": _t(root.data, TABLE_DIGITS)}
    bundle["n_values"] = len(order)
    return bundle


def _asset(name: str) -> str:
    return resources.files("autograd_core").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `</script>` can end it early."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(bundles: list[dict[str, Any]], *, title: str, extra_html: str = "") -> str:
    """The whole HTML page: the explorer over `bundles` (a slider when several), plus extra_html.

    Each bundle may carry a "step_label" shown by the slider. `extra_html`
    goes above the explorer (the training page puts its curves there).
    """
    template = _asset("explorer_template.html")
    parts = {
        "__TITLE__": html.escape(title),
        "/*__CSS__*/": _asset("explorer.css"),
        "/*__JS__*/": _asset("explorer.js"),
        "__EXTRA__": extra_html,
        "__DATA__": _script_json(bundles),
    }
    # One pass, so that nothing substituted is itself searched for placeholders.
    pattern = re.compile("|".join(re.escape(k) for k in parts))
    return pattern.sub(lambda m: parts[m.group(0)], template)


@dataclass
class Explorer:
    """The page for one graph: `.html` is the text; in Jupyter it displays inline."""

    html: str

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to `path` (atomically); returns the Path."""
        return _write(path, self.html)

    def __repr__(self) -> str:  # outside Jupyter: say what to do, not 100 kB of HTML
        return (
            f"<Explorer: a {len(self.html) // 1000} kB HTML page; .save(path) writes it, "
            "Jupyter shows it inline>"
        )

    def _repr_html_(self) -> str:
        # An iframe keeps the page's ids, styles and keys apart from the notebook's.
        doc = html.escape(self.html, quote=True)
        return (
            f'<iframe srcdoc="{doc}" style="width:100%;height:640px;border:1px solid #ccc" '
            'title="autograd_core explorer"></iframe>'
        )


def _write(path: Any, text: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"explore(): path must be a str or a path, got {type(path).__qualname__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"explore(): cannot write {str(target)!r}: the directory {str(target.parent)!r} "
            "does not exist"
        )
    return atomic_write(target, text.encode("utf-8"))


def explore(
    root: Value,
    path: str | os.PathLike[str] | None = None,
    *,
    max_nodes: int = 400,
    max_paths: int = 64,
    title: str | None = None,
) -> Path | Explorer:
    """A page to step through the forward and backward pass of `root`, one node at a time.

    With `path`, writes one self-contained HTML file there and returns its
    Path: open it in any browser, from disk, offline. Without, returns an
    `Explorer`, which Jupyter displays inline; elsewhere nothing is written
    (call `.save(path)`, or read `.html`). The backward pass is the engine's
    own, recorded edge by edge; `root`'s `.grad`s are left as they were.
    Graphs over `max_nodes` Values are shown summarised by module.
    """
    bundle = explorer_bundle(root, max_nodes=max_nodes, max_paths=max_paths)
    text = page([bundle], title=title or f"backpropagation through {bundle['output']['name']}")
    if path is None:
        return Explorer(text)
    return _write(path, text)
