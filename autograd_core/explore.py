"""`explore()`: one offline HTML page to step through a forward and a backward pass.

Python does all the maths here: it runs the engine's real backward pass with
`explain.backward_trace` (every edge, in the engine's order), counts and sums
each leaf's chain-rule paths and keeps the largest (`_path_table`, one pass,
never enumerating), writes each local derivative out from the op table's
formulas (`ops.Formula`) with the node's numbers, draws the graph with our own
Graphviz layout (`draw.to_digraph`), and writes it all into the page as one
JSON trace. The page's JavaScript (`explorer.js`, package data next to this
file) only steps through that recorded trace: it never recomputes a number,
and no formula is written in it.

The page is one self-contained file: the SVG, the script and the styles are
inline and it loads nothing, so it opens from disk and inside Jupyter (where it
is shown in an iframe, so that several explorers in one notebook stay apart).

Graphs with more Values than `max_nodes` (the drawing guard of `draw`) are
summarised: one box per module (a neuron, say), drawn and stepped through at
that level, and the page says so. Graphs with more than `max_values` Values
(default `MAX_VALUES`, 5,000) are refused: the page records every backward
edge, and at that size it would be tens of megabytes that a browser steps
through in seconds per step (measured: docs/explorer.md).

Every node has one name, used in the drawing's box, its tooltip, the step
tables and the paths: its label, else its op and a short index (`mul#2`,
the second `mul`). The page finds a box's fields by their place in the
drawing, never by their text, so a label that reads like a field is safe.
"""

from __future__ import annotations

import heapq
import html
import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from autograd_core.engine import OPS, Value, topological_order
from autograd_core.errors import describe, printable
from autograd_core.explain import backward_trace
from autograd_core.files import atomic_write
from autograd_core.graph import consumer_counts
from autograd_core.ops import PRIMITIVES, Formula

__all__ = ["MAX_VALUES", "Explorer", "explore", "explorer_bundle", "page"]

DIGITS = 4  # significant digits shown in the drawing; the tables show more
TABLE_DIGITS = 8
MAX_VALUES = 5_000  # explore() refuses larger graphs (see the module docstring)
_PARAMS_SHOWN = 64  # parameters listed in a summarised module's table
_SUMMARY_PATHS = 3  # chain-rule paths listed per parameter in the summarised view


# ---------------------------------------------------------------------------
# Numbers, names.


def _f(x: Any) -> float | str:
    """A float for JSON: non-finite values become strings ("nan", "inf"), which JSON lacks."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _t(x: Any, digits: int = DIGITS) -> str:
    return format(float(x), f".{digits}g")


def _printable(text: str) -> str:
    """NUL, other controls and lone surrogates shown as Python writes them (as draw does)."""
    return printable(text)


def _op_name(node: Value) -> str:
    return _printable(node.op.name) if node.op is not None else "leaf"


def _names(order: list[Value]) -> dict[Value, str]:
    """One name per node: the label, else the op and its count among that op's nodes
    (`mul#2` is the second `mul` in the order), shown everywhere on the page."""
    out = {}
    seen: dict[str, int] = {}
    for node in order:
        if node.label:
            out[node] = _printable(node.label)
        else:
            op = _op_name(node)
            seen[op] = seen.get(op, 0) + 1
            out[node] = f"{op}#{seen[op]}"
    return out


# ---------------------------------------------------------------------------
# Formulas: the op table's templates filled with names, then with numbers.

_SLOT = re.compile(r"\{(\w+)\}")


def _formula(node: Value) -> Formula | None:
    """The node's op written out: the op table's entry, or a user primitive's own."""
    op = node.op
    if op is None:
        return None
    spec: Any = None
    if OPS.get(op.name) is op:
        spec = next((p.formula for p in PRIMITIVES if p.name == op.name), None)
    else:
        spec = getattr(op, "formula", None)
    if spec is not None and not isinstance(spec, Formula):
        spec = spec(len(node.operands))
    if spec is None or len(spec.operands) < len(node.operands):
        return None
    return spec


def _fill(template: str, subs: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        text = subs.get(m.group(1), m.group(0))
        # A negative number or a compound inside a larger expression gets parentheses.
        if m.group(0) != template and (text.startswith("-") or " " in text):
            text = f"({text})"
        return text.replace("-", "−")

    return _SLOT.sub(one, template)


def _formula_texts(node: Value, names: dict[Value, str]) -> dict[str, Any]:
    """The forward expression and each local derivative, with names and with numbers.

    The last number of each is the engine's own (the node's data, its recorded
    local gradient): the page shows the formula, it does not evaluate it.
    """
    f = _formula(node)
    value = _minus(_t(node.data))
    if f is None:
        args = [names[x] if isinstance(x, Value) else _t(x) for x in node.operands]
        return {
            "expr": f"{_op_name(node)}({', '.join(args)})",
            "locals": [f"{_t(g)}" for _, g in node.parents],
        }
    named, generic, numbers = {}, {}, {}
    for i, x in enumerate(node.operands):
        key = f.operands[i]
        if isinstance(x, Value):
            named[key], generic[key], numbers[key] = names[x], key, _t(x.data)
        else:
            named[key] = generic[key] = numbers[key] = _t(x)  # constants: in every form
    out_generic = _fill(f.out, generic)
    expr_named, expr_numbers = _fill(f.out, named), _fill(f.out, numbers)
    forms = [expr_named, expr_numbers, value] if len(expr_named) <= 160 else [expr_numbers, value]
    expr = " = ".join(_dedup(forms))  # a long named form (a wide linear) is left to `operands`
    generic["out"], numbers["out"] = out_generic, value
    # d tanh(x)/dx, d (x · y)/dy; a long output (a wide linear) is called by its op.
    head = out_generic if " " not in out_generic else f"({out_generic})"
    if len(head) > 24:
        head = _op_name(node)
    locals_ = []
    slot = 0
    for i, x in enumerate(node.operands):
        if not isinstance(x, Value):
            continue
        g = node.parents[slot][1]
        slot += 1
        if i >= len(f.grads):
            locals_.append(_t(g))
            continue
        key = f.operands[i]
        parts = [_fill(f.grads[i], generic), _fill(f.grads[i], numbers), _minus(_t(g))]
        locals_.append(f"d {head}/d{key} = " + " = ".join(_dedup(parts)))
    return {"expr": expr, "locals": locals_, "operands": _operand_names(node, f, names)}


def _operand_names(node: Value, f: Formula, names: dict[Value, str]) -> str:
    """`x = add#1, y = w1`: which node each generic name stands for."""
    pairs = [
        f"{f.operands[i]} = {names[x]}" for i, x in enumerate(node.operands) if isinstance(x, Value)
    ]
    return ", ".join(pairs)


def _minus(text: str) -> str:
    """A number as the formulas write it: with a true minus sign."""
    return text.replace("-", "−")


def _dedup(parts: list[str]) -> list[str]:
    """Drop a form equal to the one before it (`y = 0.25 = 0.25`)."""
    out: list[str] = []
    for p in parts:
        if not out or out[-1] != p:
            out.append(p)
    return out


def _value_fields(node: Value, trace: Any) -> dict[str, Any]:
    """A node's data and gradient (from the recorded trace), as numbers and as shown."""
    grad = trace.grads[node]
    return {
        "data": _f(node.data),
        "grad": _f(grad),
        "text": {"data": _t(node.data), "grad": _t(grad)},
    }


def _edge(step: Any, slot: int, ids: dict[Value, str], names: dict[Value, str]) -> dict[str, Any]:
    """One backward edge: parent.grad += local * upstream, with the numbers the engine used.

    `slot` is the parent's place in the node's parents (its local formula).
    """
    return {
        "parent": ids[step.parent],
        "parent_name": names[step.parent],
        "node_name": names[step.node],
        "slot": slot,
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


def _slots(run: list[Any]) -> list[int]:
    """Each step of one node's run: its parent's place in the node's parents (-1: unknown)."""
    parents = [p for p, _ in run[0].node.parents] if run else []
    if len(run) == len(parents) and all(s.parent is p for s, p in zip(run, parents)):
        return list(range(len(run)))
    out = []
    for s in run:
        out.append(next((k for k, p in enumerate(parents) if p is s.parent), -1))
    return out


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
_TEXT_OPEN = re.compile(r"<text([^>]*)>")
_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


def _tag_svg(svg: str, units: dict[str, dict[str, Any]], fields: dict[str, tuple[int, str]]) -> str:
    """Mark each drawn Value with data-node-id, its data and its texts by role; give
    every box, ellipse and edge a tooltip in the page's names and a place in the Tab order.

    `fields[id] = (k, prefix)`: the box's data and grad texts are the 2 texts
    before its last k (the fan-out note), written `prefix + "data "`. They are
    found by their place, never by their text (a label may read `data 1`).
    """
    svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype: the SVG goes inline
    svg = _COMMENT.sub("", svg).replace(' font-family="Helvetica,sans-Serif"', "")  # in the CSS

    def title_of(gid: str) -> str:
        if gid.endswith("_op"):
            u = units.get(gid[:-3])
            return f"{u['op']} → {u['name']}" if u else gid
        return units[gid]["name"] if gid in units else gid

    def node(m: re.Match) -> str:
        gid, title, body = m.group(1), html.unescape(m.group(2)), m.group(3)
        if title.endswith("_op"):
            attrs = f' data-op-of="{title[:-3]}"'
        elif title in units:
            u = units[title]
            name = html.escape(u["name"], quote=True)
            attrs = f' data-node-id="{title}" tabindex="0" role="button" aria-label="{name}"'
            body = _tag_fields(body, *fields[title])
        else:
            attrs = ""
        return (
            f'<g id="{gid}" class="node"{attrs}>\n<title>{html.escape(title_of(title))}</title>'
            f"{body}</g>"
        )

    svg = _NODE_G.sub(node, svg)
    slots: dict[str, int] = {}

    def edge(m: re.Match) -> str:
        src, _, dst = html.unescape(m.group(2)).partition("->")
        slot = slots.get(dst, 0)
        slots[dst] = slot + 1
        tip = html.escape(f"{title_of(src)} → {title_of(dst)}")
        return (
            f'<g id="{m.group(1)}" class="edge" data-from="{src}" data-to="{dst}" '
            f'data-slot="{slot}">\n<title>{tip}</title>'
        )

    return _edges_below(_EDGE_G.sub(edge, svg))


_EDGE_BLOCK = re.compile(r'<g id="edge\d+" class="edge".*?</g>\n?', re.S)
_BACKGROUND = re.compile(r'(<g id="graph0"[^>]*>\s*<title>[^<]*</title>\s*<polygon[^>]*/>\n?)')


def _edges_below(svg: str) -> str:
    """Edges drawn first, under the (filled) boxes: an edge passing a box goes behind it."""
    edges = _EDGE_BLOCK.findall(svg)
    head = _BACKGROUND.search(svg)
    if not edges or head is None:
        return svg
    rest = _EDGE_BLOCK.sub("", svg[head.end() :])
    return svg[: head.end()] + "".join(edges) + rest


def _tag_fields(body: str, after: int, prefix: str) -> str:
    """Class the data and grad <text>s of a box: the two before its last `after` texts."""
    starts = [m for m in _TEXT_OPEN.finditer(body)]
    if len(starts) < 2 + after:
        return body
    roles = {len(starts) - 2 - after: "data", len(starts) - 1 - after: "grad"}
    out, last = [], 0
    for k, m in enumerate(starts):
        if k in roles:
            role = roles[k]
            out.append(body[last : m.start()])
            out.append(f'<text{m.group(1)} class="ag-{role}" data-prefix="{prefix}{role} ">')
            last = m.end()
    out.append(body[last:])
    return "".join(out)


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
        texts = _formula_texts(node, names) if node.op is not None else None
        units[ids[node]] = {
            "name": names[node],
            "op": _op_name(node) if node.op is not None else None,
            "leaf": node.is_leaf,
            **_value_fields(node, trace),
            "expr": texts["expr"] if texts else None,
            "operands": texts.get("operands", "") if texts else "",
            "locals": [
                {
                    "parent": ids[p],
                    "parent_name": names[p],
                    "local": _f(g),
                    "text": _t(g, TABLE_DIGITS),
                    "formula": texts["locals"][k] if texts else "",
                }
                for k, (p, g) in enumerate(node.parents)
            ],
        }
    backward = []
    for n, run in _group_runs(trace.steps, lambda s: s.node):
        slots = _slots(run)
        backward.append(
            {"node": ids[n], "edges": [_edge(s, k, ids, names) for s, k in zip(run, slots)]}
        )
    _mark_last(backward)
    leaves = [node for node in order if node.is_leaf and node is not root]
    table = _path_table(root, order, set(leaves), max_paths)
    unit_of = [ids[n] for n in order]
    paths = {ids[v]: _paths_json(table[v], trace.grads[v], unit_of, order) for v in leaves}

    # Drawn with the recorded gradients (no .grad is written), so the boxes fit the numbers.
    dot = to_digraph(root, max_nodes=None, names=names, grads=trace.grads)
    dot.graph_attr.update(ranksep="0.25", nodesep="0.12")  # compact: more fits in view
    uses = consumer_counts(order)
    fields = {ids[n]: (1 if uses[n] > 1 else 0, "") for n in order}
    return {
        "mode": "full",
        "note": "",
        "root": ids[root],
        "units": units,
        "forward": [ids[n] for n in order if not n.is_leaf],
        "leaves": [ids[n] for n in order if n.is_leaf],
        "backward": backward,
        "paths": paths,
        "names": [names[n] for n in order],
        "svg": _tag_svg(_svg_of(dot), units, fields),
    }


def _mark_last(backward: list[dict[str, Any]]) -> None:
    """Flag each parent's last incoming edge: after it, that gradient is complete."""
    seen: set[str] = set()
    for step in reversed(backward):
        for e in reversed(step["edges"]):
            e["last"] = e["parent"] not in seen
            seen.add(e["parent"])


# ---------------------------------------------------------------------------
# Chain-rule paths: counted, summed and the strongest few listed, in one pass.


@dataclass
class _Paths:
    """The chain-rule paths from the root down to one node.

    `count` and `total` (the sum of every path's product) cover them all;
    `top` lists the `k` largest by |product|, each as (product, nodes from
    the root down, each step's parent slot, each step's local gradient).
    """

    count: int
    total: float
    top: list[tuple[float, list[Value], list[int], list[float]]]


def _path_table(root: Value, order: list[Value], wanted: set[Value], k: int) -> dict[Value, _Paths]:
    """Every wanted node's paths, by dynamic programming from the root down.

    Never enumerates: a node's count and total are sums over its consumers',
    and its top k paths are among its consumers' top k, each extended by one
    edge, so thousands of paths cost what a backward pass costs, times k.
    """
    count: dict[Value, int] = {root: 1}
    total: dict[Value, float] = {root: 1.0}
    # best[v]: up to k (|product|, product, back), back = (consumer, its rank, slot, local)
    best: dict[Value, list[tuple[float, float, Any]]] = {root: [(1.0, 1.0, None)]}
    pending: dict[Value, list[tuple[float, float, Any]]] = {}
    for node in reversed(order):
        if node is not root:
            best[node] = heapq.nlargest(k, pending.pop(node, []), key=_first)
        here = best[node]
        for slot, (parent, local) in enumerate(node.parents):
            count[parent] = count.get(parent, 0) + count[node]
            total[parent] = total.get(parent, 0.0) + total[node] * local
            bucket = pending.setdefault(parent, [])
            for rank, (_, product, _) in enumerate(here):
                p = product * local
                bucket.append((abs(p) if p == p else math.inf, p, (node, rank, slot, local)))
            if len(bucket) > 4 * k:
                bucket[:] = heapq.nlargest(k, bucket, key=_first)
    out = {}
    for v in wanted:
        top = []
        for _, product, back in best.get(v, []):
            nodes, slots, factors = [v], [], []
            while back is not None:
                consumer, rank, slot, local = back
                nodes.append(consumer)
                slots.append(slot)
                factors.append(local)
                back = best[consumer][rank][2]
            nodes.reverse()
            slots.reverse()
            factors.reverse()
            top.append((product, nodes, slots, factors))
        out[v] = _Paths(count.get(v, 0), total.get(v, 0.0), top)
    return out


def _first(c: tuple[float, float, Any]) -> float:
    return c[0]


def _paths_json(
    px: _Paths, gradient: float, unit_of: list[str] | None, order: list[Value]
) -> dict[str, Any]:
    """A node's paths for the page: nodes by their index in `order` (their names
    are the bundle's `names`), and the drawn box of each (`unit_of[index]`)."""
    index = {node: i for i, node in enumerate(order)} if px.top else {}
    shown = math.fsum(p[0] for p in px.top)
    rest = px.total - shown
    return {
        "n_paths": px.count,
        "shown": len(px.top),
        "gradient": _f(gradient),
        "gradient_text": _t(gradient, TABLE_DIGITS),
        "total_text": _t(px.total, TABLE_DIGITS),
        "sum": _f(shown),
        "sum_text": _t(shown, TABLE_DIGITS),
        "rest": _f(rest),
        "rest_text": _t(rest, TABLE_DIGITS),
        "paths": [_path_json(p, index, unit_of) for p in px.top],
    }


def _path_json(
    path: tuple[float, list[Value], list[int], list[float]],
    index: dict[Value, int],
    unit_of: list[str] | None,
) -> dict[str, Any]:
    """One path; with `unit_of` (the full drawing) each step's box and parent slot,
    without (the summary, which the page maps through the bundle's `unit_of`) neither."""
    product, nodes, slots, factors = path
    out: dict[str, Any] = {
        "nodes": [index[n] for n in nodes],
        "factor_texts": [_t(x) for x in factors],
        "product": _f(product),
        "product_text": _t(product, TABLE_DIGITS),
    }
    if unit_of is not None:
        out["units"] = [unit_of[index[n]] for n in nodes]
        out["slots"] = slots
    return out


# ---------------------------------------------------------------------------
# The summarised trace of a graph over the guard: one unit per module.


def _summary_bundle(
    root: Value, order: list[Value], max_nodes: int, max_paths: int
) -> dict[str, Any]:
    """The bundle of a graph over the guard: one unit per module, stepped module by module."""
    names = _names(order)
    members, titles, unit_of = _module_units(order, names)
    ids = {key: f"u{i}" for i, key in enumerate(members)}
    nid = {node: ids[unit_of[node]] for node in order}
    position = {node: i for i, node in enumerate(order)}
    trace = backward_trace(root)
    output = {key: nodes[-1] for key, nodes in members.items()}  # last in topological order
    box = {node: titles[unit_of[node]] for node in order}  # the drawing's names
    units = {
        ids[key]: _module_unit(
            key, nodes, titles[key], output[key], names, trace, position, box, nid
        )
        for key, nodes in members.items()
    }
    backward = _module_backward(trace, unit_of, ids, nid, names, box, set(output.values()))
    note = (
        f"This graph has {len(order)} Values, more than max_nodes={max_nodes}: too many to read "
        f"in one drawing. Summarised view: one box per module ({len(members)} boxes), showing "
        "the data and gradient of the module's output; steps go module by module, and only "
        "the edges between modules are listed. Click a box, then a parameter in its table, "
        "for that parameter's chain-rule paths."
    )
    # Paths to every parameter listed in a table, and to every leaf that is a box of its own.
    listed = [order[p["index"]] for u in units.values() for p in u["params"]]
    boxes = {output[key]: ids[key] for key in members if units[ids[key]]["leaf"]}
    wanted = set(listed) | set(boxes)
    table = _path_table(root, order, wanted, min(max_paths, _SUMMARY_PATHS))
    unit_list = [nid[n] for n in order]
    paths = {f"i{position[v]}": _paths_json(table[v], trace.grads[v], None, order) for v in listed}
    for v, uid in boxes.items():
        if v is not root:
            paths[uid] = _paths_json(table[v], trace.grads[v], None, order)
    svg = ""
    if len(members) > max_nodes:
        note += f" Even summarised there are more than {max_nodes} boxes: no drawing."
    else:
        dot = _summary_digraph(order, members, units, ids, nid)
        fields = {ids[k]: (0, "out " if k.startswith("m:") else "") for k in members}
        # The edges' colour is the page's CSS (.ag-summary): 300 edges, 20 kB a bundle.
        svg = _tag_svg(_svg_of(dot).replace(_SUMMARY_EDGE, ""), units, fields)
    forward_units = sorted(members, key=lambda k: position[output[k]])
    return {
        "mode": "summary",
        "note": note,
        "root": nid[root],
        "units": units,
        "forward": [ids[k] for k in forward_units if not units[ids[k]]["leaf"]],
        "leaves": [ids[k] for k in forward_units if units[ids[k]]["leaf"]],
        "backward": backward,
        "paths": paths,
        "names": [names[n] for n in order],
        "unit_of": unit_list,
        "svg": svg,
    }


_SUMMARY_EDGE = ' stroke="#9aa5b1" stroke-width="0.6"'


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
            titles[key] = _printable(_cluster_title(path)) if path is not None else names[node]
        members[key].append(node)
        unit_of[node] = key
    return members, titles, unit_of


def _module_unit(
    key: str,
    nodes: list[Value],
    title: str,
    out: Value,
    names: dict[Value, str],
    trace: Any,
    position: dict[Value, int],
    box: dict[Value, str],
    nid: dict[Value, str],
) -> dict[str, Any]:
    """One box of the summary: the module's output and its first parameters; a box of
    one computed node (outside every module) is written out as in the full view."""
    params = [n for n in nodes if n.is_leaf]
    is_module = key.startswith("m:")
    texts = _formula_texts(out, box) if not is_module and out.op is not None else None
    return {
        "name": title,
        "op": f"module of {len(nodes)} Values"
        if is_module
        else (_op_name(out) if out.op else None),
        "leaf": not is_module and out.is_leaf,
        **_value_fields(out, trace),
        "output_name": names[out],
        "params": [
            {
                "name": names[p],
                "index": position[p],
                "data": _t(p.data, TABLE_DIGITS),
                "grad": _t(trace.grads[p], TABLE_DIGITS),
            }
            for p in params[:_PARAMS_SHOWN]
        ],
        "more_params": max(0, len(params) - _PARAMS_SHOWN),
        "expr": texts["expr"] if texts else None,
        "operands": texts.get("operands", "") if texts else "",
        "locals": [
            {"parent": nid[p], "parent_name": box[p], "local": _f(g), "text": _t(g), "formula": f}
            for (p, g), f in zip(out.parents, texts["locals"])
        ]
        if texts
        else [],
    }


def _module_backward(
    trace: Any,
    unit_of: dict[Value, str],
    ids: dict[str, str],
    nid: dict[Value, str],
    names: dict[Value, str],
    box_name: dict[Value, str],
    outputs: set[Value],
) -> list[dict[str, Any]]:
    """The backward steps module by module: only the edges that leave a module are listed,
    named by their boxes, with the Values inside them (`node_value`, `parent_value`)."""
    backward = []
    for key, run in _group_runs(trace.steps, lambda s: unit_of[s.node]):
        crossing = [s for s in run if unit_of[s.parent] != key]
        # a box of one node is written out: its edges know their operand (formula)
        slots = _slots(run) if key.startswith("n:") else [-1] * len(crossing)
        edges = []
        for s, slot in zip(crossing, slots):
            e = _edge(s, slot, nid, box_name)
            e["node_value"], e["parent_value"] = names[s.node], names[s.parent]
            for unused in ("local", "upstream", "contribution"):  # the page shows the texts
                del e[unused]
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
    """One record box per unit and one straight edge per pair of units that an edge of
    the graph joins; units at the same depth (a layer's neurons) in one column."""
    import graphviz

    from autograd_core.draw import _record_escape

    dot = graphviz.Digraph(
        name="autograd_summary",
        graph_attr={"rankdir": "LR", "splines": "line", "ranksep": "1.4", "nodesep": "0.12"},
        node_attr={
            "fontname": "Helvetica",
            "fontsize": "11",
            "shape": "record",
            "style": "filled",
            "fillcolor": "white",
        },
        edge_attr={"color": "#9aa5b1", "penwidth": "0.6", "arrowsize": "0.4"},
    )
    pairs: list[tuple[str, str]] = []
    seen = set()
    for node in order:
        for p, _ in node.parents:
            pair = (nid[p], nid[node])
            if pair[0] != pair[1] and pair not in seen:
                seen.add(pair)
                pairs.append(pair)
    depth = {ids[key]: 0 for key in members}
    for _ in range(min(len(depth), 64)):  # longest path from the inputs, a few passes
        changed = False
        for a, b in pairs:
            if depth[b] < depth[a] + 1:
                depth[b] = depth[a] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = {}
    for key in members:
        u = units[ids[key]]
        first = f"{u['name']} ({len(members[key])})" if key.startswith("m:") else u["name"]
        out = "out " if key.startswith("m:") else ""
        label = (
            "{ " + _record_escape(first) + f" | {out}data {u['text']['data']}"
            f" | {out}grad {u['text']['grad']} }}"
        )
        dot.node(ids[key], label=label)
        columns.setdefault(depth[ids[key]], []).append(ids[key])
    for col in columns.values():
        with dot.subgraph() as same:
            same.attr(rank="same")
            for uid in col:
                same.node(uid)
    for pair in pairs:
        dot.edge(*pair)
    return dot


# ---------------------------------------------------------------------------
# Public.


def explorer_bundle(
    root: Value, *, max_nodes: int = 400, max_paths: int = 16, max_values: int = MAX_VALUES
) -> dict[str, Any]:
    """The recorded trace and drawing the page steps through, as JSON-ready data.

    Full when `root`'s graph has at most `max_nodes` Values, else summarised
    by module. Each leaf lists its `max_paths` chain-rule paths of largest
    contribution (all of them when there are no more), with the count and
    sum of the rest. Graphs over `max_values` Values are refused (ValueError).
    """
    if not isinstance(root, Value):
        raise TypeError(f"explore() needs a Value, got {type(root).__qualname__}: {root!r}"[:300])
    for name, n in (("max_nodes", max_nodes), ("max_paths", max_paths), ("max_values", max_values)):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"explore(): {name} must be a positive int, got {describe(n)}")
        if n < 1:
            raise ValueError(f"explore(): {name} must be a positive int, got {n!r}")
    order = topological_order(root)
    if len(order) > max_values:
        raise ValueError(
            f"explore(): this graph has {len(order)} Values, more than max_values={max_values}. "
            "The page records every backward edge: at this size it would be too large to "
            "write and too slow to step through. Explore one example (the model applied to "
            "one input, or the loss of one data point), or pass a larger max_values."
        )
    if len(order) > max_nodes:
        bundle = _summary_bundle(root, order, max_nodes, max_paths)
    else:
        bundle = _full_bundle(root, order, max_paths)
    out_name = bundle["units"][bundle["root"]]["name"]  # the drawing's name for it
    bundle["output"] = {"name": out_name, "data": _t(root.data, TABLE_DIGITS)}
    bundle["n_values"] = len(order)
    return bundle


def _asset(name: str) -> str:
    return resources.files("autograd_core").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `</script>` can end it early."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def share_drawing(bundles: list[dict[str, Any]]) -> None:
    """Bundles of one graph at different parameters (the training page's snapshots)
    keep one drawing, the last one's: the page writes every number into the boxes
    itself, so only the layout is shared. Bundles of other graphs keep their own."""
    last = len(bundles) - 1
    shape = [(u["name"], u["leaf"]) for u in bundles[last]["units"].values()]
    for b in bundles[:last]:
        if b["svg"] and [(u["name"], u["leaf"]) for u in b["units"].values()] == shape:
            b["svg"] = ""
            b["svg_from"] = last


def page(
    bundles: list[dict[str, Any]], *, title: str, extra_html: str = "", extra_after: str = ""
) -> str:
    """The whole HTML page: the explorer over `bundles` (a slider when several), plus extras.

    Each bundle may carry a "step_label" shown by the slider, and "svg_from",
    the index of the bundle whose drawing it uses (`share_drawing`).
    `extra_html` goes above the explorer, `extra_after` below it (the training
    page puts its curves there, so that the page opens on the explorer).
    """
    template = _asset("explorer_template.html")
    parts = {
        "__TITLE__": html.escape(title),
        "/*__CSS__*/": _asset("explorer.css"),
        "/*__JS__*/": _asset("explorer.js"),
        "__EXTRA__": extra_html,
        "__AFTER__": extra_after,
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
    max_paths: int = 16,
    max_values: int = MAX_VALUES,
    title: str | None = None,
) -> Path | Explorer:
    """A page to step through the forward and backward pass of `root`, one node at a time.

    With `path`, writes one self-contained HTML file there and returns its
    Path: open it in any browser, from disk, offline. Without, returns an
    `Explorer`, which Jupyter displays inline; elsewhere nothing is written
    (call `.save(path)`, or read `.html`). The backward pass is the engine's
    own, recorded edge by edge; `root`'s `.grad`s are left as they were.
    Graphs over `max_nodes` Values are shown summarised by module; graphs
    over `max_values` (default 5,000) are refused with a ValueError.
    """
    bundle = explorer_bundle(root, max_nodes=max_nodes, max_paths=max_paths, max_values=max_values)
    title = _printable(title) if title is not None else None
    text = page([bundle], title=title or f"backpropagation through {bundle['output']['name']}")
    if path is None:
        return Explorer(text)
    return _write(path, text)
