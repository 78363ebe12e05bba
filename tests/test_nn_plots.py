"""Pictures: PNG files from the loss curve and decision boundary; the network SVG, read back."""

import html
import re

import pytest

from nn import moons, plots, train
from nn.layers import MLP
from nn.picture import MAX_DRAWN_NODES
from nn.plots import decision_boundary, loss_curve, network_svg
from nn.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def test_loss_curve_with_and_without_accuracy(tmp_path):
    h = History(loss=[1.0, 0.5, 0.25], accuracy=[0.5, 0.75, 1.0])
    assert loss_curve(h, tmp_path / "a.png").read_bytes().startswith(PNG)
    h = History(loss=[1.0, 0.0], accuracy=[None, None])  # regression, a loss reaching 0
    assert loss_curve(h, tmp_path / "b.png").read_bytes().startswith(PNG)


def test_decision_boundary_png(tmp_path):
    model = MLP(2, [4, 1], seed=0)
    X, y = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], [-1, 1, 1]
    path = decision_boundary(model, X, y, tmp_path / "d.png", resolution=10)
    assert path.read_bytes().startswith(PNG)


def test_decision_boundary_needs_two_dimensional_one_output_models(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        decision_boundary(MLP(1, [1]), [[0.0], [1.0]], [0, 1], tmp_path / "d.png")
    with pytest.raises(ValueError, match="one output"):
        decision_boundary(MLP(2, [2]), [[0.0, 1.0]], [0], tmp_path / "d.png", resolution=4)


def _svg_nodes(text):
    """(title, texts, y) of every drawn node: the order top to bottom is the y order."""
    nodes = []
    for group in re.findall(r'<g id="node\d+" class="node">(.*?)</g>', text, re.S):
        title = re.search(r"<title>(.*?)</title>", group).group(1)
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", group)]
        ys = [float(y) for y in re.findall(r'<text[^>]* y="([-\d.]+)"', group)]
        nodes.append((title, texts, min(ys)))
    return nodes


def test_network_svg_is_a_layer_summary_and_one_neurons_chain_rule(tmp_path):
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    model = MLP(2, [16, 16, 1], seed=0)
    train(model, X, y, loss="hinge", steps=5, lr=0.5, progress=False)
    grads_before = [p.grad for p in model.parameters()]
    text = network_svg(model, X, tmp_path / "network.svg").read_text()
    nodes = _svg_nodes(text)
    assert len(nodes) <= MAX_DRAWN_NODES
    words = [" ".join(texts) for _, texts, _ in nodes]
    # the summary: one box per layer, with sizes, activation and parameter counts
    assert any("layer 0 16 neurons, relu 2 weights + 1 bias each 48 parameters" in w for w in words)
    assert any(
        "layer 1 16 neurons, relu 16 weights + 1 bias each 272 parameters" in w for w in words
    )
    assert any("layer 2 (output) 1 neuron, linear" in w and "17 parameters" in w for w in words)
    assert "337 parameters" in text
    # the neuron: every Value box labelled, the output too
    boxes = {t[0]: t for _, t, _ in nodes if len(t) >= 3 and t[1].startswith("data ")}
    assert set(boxes) == {"w[0]", "w[1]", "x[0]", "x[1]", "b", "z", "out"}
    # operands drawn in their order, top to bottom: w[0], w[1], x[0], x[1], b
    ys = {texts[0]: y for _, texts, y in nodes if texts and texts[0] in boxes}
    assert ys["w[0]"] < ys["w[1]"] < ys["x[0]"] < ys["x[1]"] < ys["b"]
    # gradients from backward() on the drawn graph: d out / d w[i] = x[i] (active relu)
    num = {k: dict(t.split(" ", 1) for t in v[1:]) for k, v in boxes.items()}
    neuron = model.layers[0].neurons[0]
    assert float(num["out"]["grad"]) == 1.0 and float(num["z"]["data"]) > 0
    for i in range(2):
        assert num[f"w[{i}]"]["grad"] == num[f"x[{i}]"]["data"]
        assert float(num[f"x[{i}]"]["grad"]) == pytest.approx(neuron.w[i].data, abs=5e-4)
    assert float(num["b"]["grad"]) == 1.0
    # the model's own gradients are left alone
    assert [p.grad for p in model.parameters()] == grads_before


def test_network_svg_keeps_the_drawing_guard_for_wide_inputs(tmp_path):
    model = MLP(120, [3, 1], seed=0)
    text = network_svg(model, [[0.1] * 120], tmp_path / "wide.svg").read_text()
    nodes = _svg_nodes(text)
    assert len(nodes) <= MAX_DRAWN_NODES
    assert "120 inputs: too many to draw" in text
    assert "layer 0" in text


def test_decision_boundary_labels_its_axes(tmp_path, monkeypatch):
    figures = []
    real = plots._save_png
    monkeypatch.setattr(
        plots, "_save_png", lambda fig, path: figures.append(fig) or real(fig, path)
    )
    decision_boundary(
        MLP(2, [3, 1]), [[0.0, 0.0], [1.0, 1.0]], [-1, 1], tmp_path / "d.png", resolution=5
    )
    (ax,) = figures[0].axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
