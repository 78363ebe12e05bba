"""Pictures: PNG files from the loss curve and decision boundary; the graph call to render_svg."""

import sys
import types
from pathlib import Path

import pytest

from autograd_core.engine import Value, topological_order
from nn.layers import MLP
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


def test_network_svg_draws_the_model_on_one_input_clustered(tmp_path, monkeypatch):
    # A stand-in for autograd_core.draw (on another branch): checks what nn passes it.
    calls = []

    def render_svg(root, path=None, *, clusters=False, max_nodes=400, **kwargs):
        calls.append((root, path, clusters, max_nodes))
        Path(path).write_text("<svg></svg>")
        return Path(path)

    fake = types.ModuleType("autograd_core.draw")
    fake.render_svg = render_svg
    monkeypatch.setitem(sys.modules, "autograd_core.draw", fake)

    model = MLP(2, [16, 16, 1], seed=0)
    path = network_svg(model, [0.5, -0.25], tmp_path / "network.svg")
    assert path.read_text() == "<svg></svg>"
    ((root, _, clusters, max_nodes),) = calls
    assert isinstance(root, Value) and root.data == model([0.5, -0.25]).data
    assert clusters is True
    nodes = topological_order(root)
    assert max_nodes >= len(nodes) > 400  # the whole network is drawn, not cut at 400
    labels = {v.label for v in nodes}
    assert {"x[0]", "x[1]", "layers.0.neurons.0.w[0]", "layers.2.neurons.0.b"} <= labels
