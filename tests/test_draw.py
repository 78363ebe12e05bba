"""to_digraph / render_svg: DOT structure, clusters, fan-out, determinism, SVG files."""

import os
import re
import xml.etree.ElementTree as ET

import graphviz
import pytest

from autograd_core import draw
from autograd_core.draw import (
    GraphvizNotFound,
    draw_dot,
    module_paths,
    render_svg,
    to_digraph,
)
from autograd_core.engine import Value, linear, topological_order

SVG_NS = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------------------
# A small reader for the DOT source graphviz writes: one statement per line.


def parse(source):
    """Nodes {id: (attrs text, cluster chain)} and edges [(tail, head, attrs text)]."""
    nodes, edges, stack = {}, [], []
    for raw in source.splitlines():
        line = raw.strip()
        if line.startswith("subgraph "):
            stack.append(line[len("subgraph ") :].rstrip(" {").strip('"'))
        elif line == "}":
            if stack:
                stack.pop()
        elif " -> " in line and not line.startswith(("label", "color")):
            m = re.match(r"^(\S+) -> (\S+)(?: \[(.*)\])?$", line)
            assert m, line
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
        else:
            m = re.match(r"^(\w+) \[(.*)\]$", line)
            if m and m.group(1) not in ("graph", "node", "edge"):
                nodes[m.group(1)] = (m.group(2), tuple(stack))
    return nodes, edges


def value_ids(nodes):
    return [n for n in nodes if not n.endswith("_op")]


def op_ids(nodes):
    return [n for n in nodes if n.endswith("_op")]


def micrograd_example():
    a = Value(2.0, "a")
    b = Value(-3.0, "b")
    c = Value(10.0, "c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, "f")
    L = d * f
    L.label = "L"
    return L


def hand_mlp(sizes=(2, 2, 1)):
    """An MLP built from Values with `linear` and `relu`, parameters named as nn names them."""
    xs = [Value(0.5, "x[0]"), Value(-1.5, "x[1]")][: sizes[0]]
    params = []
    acts = xs
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        outs = []
        for j in range(n_out):
            ws = [
                Value(0.3 * (k + 1) - 0.2 * j, f"layers.{i}.neurons.{j}.w[{k}]")
                for k in range(n_in)
            ]
            b = Value(0.1 * (j + 1), f"layers.{i}.neurons.{j}.b")
            params += [*ws, b]
            z = linear(ws, acts, b)
            outs.append(z.relu() if i < len(sizes) - 2 else z)
        acts = outs
    loss = (acts[0] - 1.0) ** 2
    for a in acts[1:]:
        loss = loss + (a - 1.0) ** 2
    loss.label = "loss"
    return loss, params, xs


# ---------------------------------------------------------------------------
# Structure.


def test_micrograd_example_has_one_node_per_value_and_per_op():
    L = micrograd_example()
    L.backward()
    nodes, edges = parse(to_digraph(L).source)
    assert len(value_ids(nodes)) == 7  # a b c e d f L
    assert len(op_ids(nodes)) == 3  # * + *
    assert len(edges) == 6 + 3  # parent -> op per operand, op -> child per op
    labels = " ".join(attrs for attrs, _ in nodes.values())
    for name in "abcedfL":
        assert f"{{ {name} | " in labels
    # data and grad are shown: dL/da = b * f = 6
    a_attrs = next(attrs for attrs, _ in nodes.values() if "{ a |" in attrs)
    assert "data 2 | grad 6" in a_attrs


def test_edges_run_parent_to_op_to_child():
    x = Value(1.0, "x")
    y = x.exp()
    y.label = "y"
    nodes, edges = parse(to_digraph(y).source)
    assert "{ x |" in nodes["v0"][0] and "{ y |" in nodes["v1"][0]
    assert edges == [("v0", "v1_op", ""), ("v1_op", "v1", "")]


def test_constants_appear_in_the_op_label_not_as_nodes():
    x = Value(3.0, "x")
    for expr, text in [(x * 2, "* 2"), (2 - x, "2 -"), (x**0.5, "** 0.5"), (x / 4, "/ 4")]:
        nodes, edges = parse(to_digraph(expr).source)
        assert len(value_ids(nodes)) == 2
        assert f'label="{text}"' in nodes["v1_op"][0]
        assert len(edges) == 2


def test_linear_node_draws_every_parent():
    ws = [Value(0.1 * k, f"w{k}") for k in range(5)]
    xs = [Value(1.0 + k, f"x{k}") for k in range(5)]
    z = linear(ws, xs)  # bias is the constant 0.0
    nodes, edges = parse(to_digraph(z).source)
    assert len(value_ids(nodes)) == 11
    into_op = [e for e in edges if e[1].endswith("_op")]
    assert len(into_op) == 10
    op_attrs = nodes[op_ids(nodes)[0]][0]
    assert "w·x+b" in op_attrs and "b = 0" in op_attrs


def test_leaf_root_is_a_single_node():
    nodes, edges = parse(to_digraph(Value(1.0, "lonely")).source)
    assert list(nodes) == ["v0"] and edges == []


def test_rankdir():
    x = Value(1.0)
    assert "rankdir=LR" in to_digraph(x * 2).source
    assert "rankdir=TB" in to_digraph(x * 2, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir"):
        to_digraph(x * 2, rankdir="RL")


def test_fan_out_nodes_are_marked_with_their_path_count():
    x = Value(3.0, "x")
    y = x * x
    nodes, edges = parse(to_digraph(y).source)
    x_attrs = nodes["v0"][0]
    assert "grads add from 2 paths" in x_attrs and "darkorange" in x_attrs
    assert "grads add from" not in nodes["v1"][0]
    assert [e[:2] for e in edges].count(("v0", "v1_op")) == 2  # both uses drawn


def test_hidden_unit_feeding_every_next_neuron_is_marked():
    loss, _, _ = hand_mlp((2, 3, 2))
    nodes, _ = parse(to_digraph(loss).source)
    marked = [n for n, (attrs, _) in nodes.items() if "grads add from 2 paths" in attrs]
    # the two inputs feed 3 neurons each; each of 3 relus feeds 2 neurons
    assert sum("grads add from 3 paths" in a for a, _ in nodes.values()) == 2
    assert len(marked) == 3


def test_edge_labels_show_local_gradients():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    y = a * b
    _, edges = parse(to_digraph(y, edge_labels=True).source)
    assert ("v0", "v2_op", "label=-3") in edges  # d(ab)/da = b
    assert ("v1", "v2_op", "label=2") in edges
    _, plain = parse(to_digraph(y).source)
    assert all(attrs == "" for _, _, attrs in plain)


def test_edge_label_callable_overrides_and_none_keeps_default():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    y = a * b
    seen = []

    def contribution(child, parent, local):
        seen.append((child, parent, local))
        return f"{local * 10:g}" if parent is a else None

    _, edges = parse(to_digraph(y, edge_labels=True, edge_label=contribution).source)
    assert ("v0", "v2_op", "label=-30") in edges
    assert ("v1", "v2_op", "label=2") in edges  # None: default local gradient
    assert seen == [(y, a, -3.0), (y, b, 2.0)]
    with pytest.raises(TypeError, match="edge_label"):
        to_digraph(y, edge_label="not callable")


def test_highlight_emphasises_nodes_and_edges_between_them():
    x = Value(1.0, "x")
    h = x.tanh()
    y = h * 3
    nodes, edges = parse(to_digraph(y, highlight=[h, y]).source)
    assert "crimson" in nodes["v1"][0] and "crimson" in nodes["v2"][0]
    assert "crimson" not in nodes["v0"][0]
    assert "crimson" in dict(((t, hd), a) for t, hd, a in edges)[("v1", "v2_op")]
    assert "crimson" not in dict(((t, hd), a) for t, hd, a in edges)[("v0", "v1_op")]
    with pytest.raises(TypeError, match="highlight"):
        to_digraph(y, highlight=[1.0])


def test_labels_with_record_special_characters_are_escaped():
    x = Value(1.0, 'a{b}|c<d> "q"')
    source = to_digraph(x * 2).source
    assert r"a\{b\}\|c\<d\>&#32;\"q\"" in source  # a space too: records trim them
    ET.fromstring(render_svg(x * 2))  # dot accepts it


def test_grad_that_is_a_value_is_shown_by_its_data():
    x = Value(3.0, "x")
    y = x * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert "grad 6" in parse(to_digraph(y).source)[0]["v0"][0]


# ---------------------------------------------------------------------------
# Clusters.


def test_module_paths_rule():
    loss, params, xs = hand_mlp()
    order = topological_order(loss)
    owner = module_paths(order)
    for p in params:
        assert owner[p] == p.label.rsplit(".", 1)[0]
    for x in xs:
        assert owner[x] is None
    assert owner[loss] is None
    # linear and relu of neuron 0.1 belong to it, although inputs come from x
    w01 = next(p for p in params if p.label == "layers.0.neurons.1.w[0]")
    z = next(n for n in order if n.op is not None and n.op.name == "linear" and n._a[0] is w01)
    assert owner[z] == "layers.0.neurons.1"
    relu = next(n for n in order if n.op is not None and n.op.name == "relu" and n._a is z)
    assert owner[relu] == "layers.0.neurons.1"
    # the loss's subtraction of a constant stays outside the output neuron
    sub = next(n for n in order if n.op is not None and n.op.name == "sub")
    assert owner[sub] is None


def test_hand_built_neuron_of_products_is_one_cluster():
    w = [Value(0.5, "neuron.w[0]"), Value(-1.0, "neuron.w[1]")]
    b = Value(0.1, "neuron.b")
    x = [Value(1.0, "x0"), Value(2.0, "x1")]
    out = (w[0] * x[0] + w[1] * x[1] + b).tanh()
    owner = module_paths(topological_order(out))
    assert {owner[n] for n in topological_order(out) if n not in x} == {"neuron"}


def test_mixed_parameters_or_parents_belong_to_no_module():
    a = Value(1.0, "m1.w")
    b = Value(2.0, "m2.w")
    c = a * b  # parameters of two modules
    d = a.exp() + b.exp()  # parents in two modules
    owner = module_paths(topological_order(c + d))
    assert owner[c] is None and owner[d] is None


def test_mlp_clusters_nest_neurons_inside_layers():
    loss, params, xs = hand_mlp()
    dot = to_digraph(loss)
    nodes, _ = parse(dot.source)
    by_label = {}
    for n, (attrs, chain) in nodes.items():
        m = re.search(r'label="\{ ([^ |]+) \|', attrs)
        if m:
            by_label[m.group(1)] = (n, chain)
    assert by_label["layers.0.neurons.1.w[0]"][1] == (
        "cluster_layers.0",
        "cluster_layers.0.neurons.1",
    )
    assert by_label["layers.1.neurons.0.b"][1] == (
        "cluster_layers.1",
        "cluster_layers.1.neurons.0",
    )
    assert by_label["x[0]"][1] == ()
    assert by_label["loss"][1] == ()
    # the neuron's linear op node sits with its Value node in the neuron's cluster
    members = [
        n for n, (_, chain) in nodes.items() if chain[-1:] == ("cluster_layers.0.neurons.1",)
    ]
    assert len(members) == 2 + 1 + 2 + 2  # w[0], w[1], b, linear + op, relu + op
    # readable titles
    assert 'label="layer 0"' in dot.source
    assert 'label="neuron 0.1"' in dot.source
    assert 'tooltip="layers.0.neurons.1"' in dot.source


def test_clusters_can_be_turned_off():
    loss, _, _ = hand_mlp()
    source = to_digraph(loss, clusters=False).source
    assert "subgraph" not in source
    assert len(parse(source)[0]) == len(parse(to_digraph(loss).source)[0])


# ---------------------------------------------------------------------------
# Determinism and size.


def test_same_graph_twice_gives_identical_source():
    sources = set()
    for _ in range(2):
        loss, _, _ = hand_mlp((2, 3, 1))
        loss.backward()
        sources.add(to_digraph(loss, edge_labels=True).source)
    assert len(sources) == 1


def test_too_large_graph_is_refused_with_its_size():
    x = Value(0.5)
    y = x
    for _ in range(500):
        y = y * 1.0001
    with pytest.raises(ValueError) as info:
        to_digraph(y)
    message = str(info.value)
    assert "501" in message and "max_nodes=400" in message
    assert "one example" in message and "raise max_nodes" in message
    assert len(parse(to_digraph(y, max_nodes=None).source)[0]) == 1001  # values + ops
    with pytest.raises(ValueError, match="max_nodes"):
        to_digraph(y, max_nodes=0)


def test_bad_root_is_a_type_error():
    with pytest.raises(TypeError, match="needs a Value"):
        to_digraph(3.0)


def test_draw_dot_is_the_micrograd_name():
    assert draw_dot is to_digraph


# ---------------------------------------------------------------------------
# Rendering through Graphviz (installed in CI).


def test_render_svg_text_parses_as_xml_with_one_group_per_node():
    L = micrograd_example()
    svg = render_svg(L)
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    groups = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "node"]
    assert len(groups) == 10  # 7 Values + 3 ops
    texts = {t.text for t in root.iter(SVG_NS + "text")}
    assert {"a", "L", "data 2", "+"} <= texts


def test_render_svg_writes_a_file_atomically(tmp_path):
    loss, _, _ = hand_mlp()
    target = tmp_path / "graph.svg"
    result = render_svg(loss, target, rankdir="TB")
    assert result == target
    root = ET.parse(target).getroot()
    clusters = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "cluster"]
    assert len(clusters) == 5  # layer 0 with neurons 0.0 and 0.1, layer 1 with neuron 1.0
    assert os.listdir(tmp_path) == ["graph.svg"]  # no temporary file left


def test_failed_render_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "graph.svg"
    target.write_text("old")

    def broken(dot):
        raise graphviz.CalledProcessError(1, ["dot"], output=b"", stderr=b"boom")

    monkeypatch.setattr(draw, "_pipe_svg", broken)
    with pytest.raises(draw.GraphvizError, match="boom"):
        render_svg(Value(1.0) * 2, target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["graph.svg"]


def test_failed_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "graph.svg"
    target.write_text("old")

    def no_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(draw.os, "replace", no_replace)
    with pytest.raises(OSError, match="disk on fire"):
        render_svg(Value(1.0) * 2, target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["graph.svg"]


def test_missing_directory_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render_svg(Value(1.0), tmp_path / "nope" / "g.svg")
    with pytest.raises(TypeError, match="path"):
        render_svg(Value(1.0), 42)


def test_missing_dot_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot`
    with pytest.raises(GraphvizNotFound) as info:
        render_svg(Value(1.0) * 2)
    message = str(info.value)
    assert "apt-get install graphviz" in message
    assert "brew install graphviz" in message
    assert "graphviz.org/download" in message
    assert isinstance(info.value, RuntimeError)


def test_digraph_displays_inline_in_jupyter():
    bundle = to_digraph(micrograd_example())._repr_mimebundle_()
    assert "image/svg+xml" in bundle
    ET.fromstring(bundle["image/svg+xml"])
