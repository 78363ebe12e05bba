"""graph_stats: counts of nodes, edges, depth, leaves, parameters, fan-out, ops."""

import dataclasses
from collections import Counter

import pytest

from autograd_core.engine import Value, linear
from autograd_core.graph import GraphStats, consumer_counts, graph_stats


def test_a_leaf_alone_has_one_node_and_depth_zero():
    s = graph_stats(Value(3.0, "x"))
    assert (s.nodes, s.edges, s.depth, s.leaves, s.parameters, s.fan_out_nodes) == (
        1,
        0,
        0,
        1,
        1,
        0,
    )
    assert s.ops == Counter()


def test_square_counts_the_repeated_operand_twice():
    x = Value(3.0)
    s = graph_stats(x * x)
    assert s.nodes == 2
    assert s.edges == 2  # one edge per operand, repeats kept
    assert s.fan_out_nodes == 1
    assert s.depth == 1
    assert s.ops == Counter(mul=1)


def test_constants_are_not_nodes():
    x = Value(3.0)
    s = graph_stats((x * 2 + 1) ** 2)
    assert s.nodes == 4  # x, x*2, +1, **2
    assert s.edges == 3
    assert s.leaves == 1
    assert s.depth == 3
    assert s.ops == Counter(mul=1, add=1, pow=1)


def test_depth_is_the_longest_path_from_a_leaf():
    a, b = Value(1.0), Value(2.0)
    long = a.exp().sin().cos()  # 3 edges from a
    s = graph_stats(long + b)  # b is 1 edge away; a is 4
    assert s.depth == 4


def test_linear_node_has_one_edge_per_value_operand():
    ws = [Value(0.1 * i, f"w[{i}]") for i in range(3)]
    xs = [Value(1.0), Value(2.0), Value(3.0)]
    b = Value(0.5, "b")
    s = graph_stats(linear(ws, xs, b))
    assert s.nodes == 8
    assert s.edges == 7
    assert s.leaves == 7
    assert s.parameters == 4  # the labelled leaves
    assert s.ops == Counter(linear=1)


def test_parameters_argument_counts_only_those_in_the_graph():
    w = Value(1.0, "w")
    x = Value(2.0, "x")
    outside = Value(5.0, "unused")
    y = w * x
    assert graph_stats(y).parameters == 2  # default: labelled leaves, x included
    assert graph_stats(y, parameters=[w, outside, w]).parameters == 1
    with pytest.raises(TypeError, match="parameters"):
        graph_stats(y, parameters=[1.0])


def test_fan_out_of_a_hidden_unit_feeding_several_consumers():
    x = Value(0.5)
    h = x.tanh()
    out = h * 2 + h.exp() + h.sin()
    s = graph_stats(out)
    assert s.fan_out_nodes == 1  # h (used 3 times); x is used once
    assert consumer_counts([x, h])[h] == 0  # only counts edges among the given nodes


def test_deep_chain_needs_no_recursion():
    x = Value(0.1)
    y = x
    for _ in range(5000):
        y = y + 1.0
    s = graph_stats(y)
    assert s.depth == 5000
    assert s.nodes == 5001


def test_stats_are_frozen_and_bad_root_is_a_type_error():
    s = graph_stats(Value(1.0))
    assert isinstance(s, GraphStats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.nodes = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="needs a Value"):
        graph_stats(1.0)  # type: ignore[arg-type]
