"""Neuron, Layer, MLP: parameter counts and names, seeding, forward values, bad inputs."""

import math
import random

import pytest

from autograd_core.engine import Value
from nn.layers import MLP, Layer, Neuron


def test_micrograd_demo_mlp_has_337_parameters():
    # 2*16+16 + 16*16+16 + 16*1+1 = 48 + 272 + 17
    assert len(MLP(2, [16, 16, 1]).parameters()) == 337


def test_parameter_counts_of_neuron_and_layer():
    assert len(Neuron(3).parameters()) == 4
    assert len(Neuron(3, bias=False).parameters()) == 3
    assert len(Layer(3, 4).parameters()) == 16
    assert len(MLP(3, [4, 4, 1], bias=False).parameters()) == 12 + 16 + 4


def test_mlp_parameter_names_are_dotted_and_used_as_labels():
    model = MLP(2, [3, 1])
    named = model.named_parameters()
    names = [n for n, _ in named]
    assert names[:3] == [
        "layers.0.neurons.0.w[0]",
        "layers.0.neurons.0.w[1]",
        "layers.0.neurons.0.b",
    ]
    assert "layers.0.neurons.1.w[0]" in names
    assert names[-4:] == [
        "layers.1.neurons.0.w[0]",
        "layers.1.neurons.0.w[1]",
        "layers.1.neurons.0.w[2]",
        "layers.1.neurons.0.b",
    ]
    assert len(set(names)) == len(names)
    assert all(p.label == n for n, p in named)
    assert [p for _, p in named] == model.parameters()


def test_lone_neuron_and_layer_names():
    assert [n for n, _ in Neuron(2).named_parameters()] == ["w[0]", "w[1]", "b"]
    assert [p.label for p in Neuron(2).parameters()] == ["w[0]", "w[1]", "b"]
    layer = Layer(2, 2)
    assert [p.label for p in layer.parameters()] == [
        "neurons.0.w[0]",
        "neurons.0.w[1]",
        "neurons.0.b",
        "neurons.1.w[0]",
        "neurons.1.w[1]",
        "neurons.1.b",
    ]


def test_zero_grad_clears_every_parameter_gradient():
    model = MLP(2, [4, 1], activation="tanh")
    model([0.5, -1.5]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_same_seed_same_model_different_seed_different_model():
    a, b = MLP(2, [5, 1], seed=7), MLP(2, [5, 1], seed=7)
    assert a.state_dict() == b.state_dict()
    assert MLP(2, [5, 1], seed=8).state_dict() != a.state_dict()
    # the default seed is fixed, so unseeded runs repeat too
    assert MLP(2, [5, 1]).state_dict() == MLP(2, [5, 1]).state_dict()


def test_seed_may_be_a_random_generator_which_is_advanced():
    rng = random.Random(3)
    first, second = Neuron(4, seed=rng), Neuron(4, seed=rng)
    assert first.state_dict() != second.state_dict()
    again = random.Random(3)
    assert Neuron(4, seed=again).state_dict() == first.state_dict()


def test_default_init_is_micrograds_uniform_with_zero_bias():
    model = MLP(3, [6, 2], seed=1)
    weights = [p.data for n, p in model.named_parameters() if n.endswith("]")]
    biases = [p.data for n, p in model.named_parameters() if n.endswith(".b")]
    assert all(-1.0 <= w <= 1.0 for w in weights)
    assert max(abs(w) for w in weights) > 0.5  # really the full range, not a scaled one
    assert biases == [0.0] * 8
    # micrograd draws random.uniform(-1, 1) per weight, in order, from one generator
    rng = random.Random(1)
    assert weights == [rng.uniform(-1, 1) for _ in range(3 * 6 + 6 * 2)]


@pytest.mark.parametrize(
    ("init", "bound"),
    [("xavier", math.sqrt(6 / (50 + 40))), ("he", math.sqrt(6 / 50))],
)
def test_scaled_inits_stay_in_their_bounds(init, bound):
    layer = Layer(50, 40, init=init, seed=0)
    weights = [p.data for n, p in layer.named_parameters() if n.endswith("]")]
    assert all(abs(w) <= bound for w in weights)
    assert max(abs(w) for w in weights) > 0.9 * bound


@pytest.mark.parametrize(
    ("activation", "f"),
    [
        ("relu", lambda z: max(z, 0.0)),
        ("tanh", math.tanh),
        ("sigmoid", lambda z: 1 / (1 + math.exp(-z))),
        ("linear", lambda z: z),
    ],
)
def test_neuron_computes_activation_of_b_plus_w_dot_x(activation, f):
    n = Neuron(2, activation=activation)
    n.w[0].data, n.w[1].data, n.b.data = 0.5, -2.0, 0.25
    for x in ([1.0, 0.1], [-3.0, 1.0]):
        z = 0.25 + 0.5 * x[0] + -2.0 * x[1]
        assert n(x).data == pytest.approx(f(z), rel=1e-15, abs=1e-15)


def test_pre_activation_is_one_linear_node_equal_to_micrograds_sum():
    rng = random.Random(0)
    n = Neuron(7, activation="relu", seed=rng)
    n.b.data = 0.3
    x = [rng.uniform(-2, 2) for _ in range(7)]
    out = n(x)
    assert out.op.name == "relu"
    ((z, _),) = out.parents
    assert z.op.name == "linear"
    # micrograd: sum((wi*xi for wi, xi in zip(w, x)), b), to the last bit
    assert z.data == sum((wi.data * xi for wi, xi in zip(n.w, x)), n.b.data)


def test_neuron_without_bias_passes_zero():
    n = Neuron(2, activation="linear", bias=False)
    n.w[0].data, n.w[1].data = 2.0, 3.0
    assert n([1.0, 1.0]).data == 5.0
    assert n.b is None


def test_one_output_gives_a_value_several_give_a_list():
    assert isinstance(MLP(2, [3, 1])([1.0, 2.0]), Value)
    out = MLP(2, [3, 2])([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert len(Layer(2, 3)([1.0, 2.0])) == 3


def test_one_neuron_layer_works_anywhere_in_an_mlp():
    model = MLP(2, [1, 3, 1, 2])
    out = model([0.5, -0.5])
    assert len(out) == 2 and all(isinstance(v, Value) for v in out)
    sum(out).backward()
    assert len(model.parameters()) == 3 + 6 + 4 + 4


def test_one_input_model_accepts_a_bare_number():
    n = Neuron(1, activation="linear")
    assert n(2.0).data == n([2.0]).data


def test_value_inputs_get_gradients():
    n = Neuron(2, activation="linear")
    x = [Value(1.0), Value(2.0)]
    n(x).backward()
    assert [xi.grad for xi in x] == [w.data for w in n.w]


def test_number_inputs_become_labelled_leaves():
    out = Neuron(2, activation="linear")([1.0, 2.0])
    labels = [v.label for v in out.operands if isinstance(v, Value)]
    assert "x[0]" in labels and "x[1]" in labels


@pytest.mark.parametrize("model", [Neuron(2), Layer(2, 3), MLP(2, [3, 1])])
def test_wrong_input_length_says_expected_and_got(model):
    with pytest.raises(ValueError, match=r"expected 2 input\(s\), got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"expected 2 input\(s\), got 1"):
        model([1.0])


def test_bad_inputs_are_type_errors():
    with pytest.raises(TypeError, match="sequence of 2"):
        MLP(2, [1])(1.0)
    with pytest.raises(TypeError, match="sequence"):
        MLP(2, [1])("ab")
    with pytest.raises(TypeError, match="input 1"):
        MLP(2, [1])([1.0, "x"])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MLP(2, []), "nouts"),
        (lambda: MLP(2, [3, 0]), "layer size 1"),
        (lambda: MLP(0, [3]), "nin"),
        (lambda: MLP(2, [3.5]), "layer size 0"),
        (lambda: MLP(2, [3], activation="gelu"), "activation"),
        (lambda: Neuron(2, init="normal"), "init"),
        (lambda: Layer(2, -1), "nout"),
    ],
)
def test_bad_arguments_are_value_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_seed_is_a_type_error():
    with pytest.raises(TypeError, match="seed"):
        MLP(2, [1], seed="1")
    with pytest.raises(TypeError, match="seed"):
        MLP(2, [1], seed=True)


def test_matches_micrograd_when_trained_the_same_way():
    micrograd = pytest.importorskip("micrograd.nn")
    from micrograd.engine import Value as MValue

    ours = MLP(2, [8, 8, 1], seed=3)
    theirs = micrograd.MLP(2, [8, 8, 1])
    for p, q in zip(ours.parameters(), theirs.parameters()):
        q.data = p.data
    rng = random.Random(1)
    X = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(10)]
    y = [1 if a * b > 0 else -1 for a, b in X]
    for k in range(3):
        lr = 1.0 - 0.9 * k / 100
        for model, V in ((ours, Value), (theirs, MValue)):
            scores = [model([V(a) for a in row]) for row in X]
            losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
            loss = sum(losses) * (1.0 / len(losses))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
    # micrograd walks its graph in set order, so gradient sums may differ in the
    # last bit from run to run; agreement is to rounding, not bit for bit.
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.data == pytest.approx(q.data, rel=1e-12, abs=1e-14)
