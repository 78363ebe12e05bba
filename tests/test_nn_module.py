"""Module state: state_dict, load_state_dict, and JSON save/load that refuses bad files."""

import json
import os

import pytest

from nn.layers import MLP, Layer, Neuron
from nn.module import _checksum


def trained_model() -> MLP:
    """A model whose weights are no longer the initial ones (and not round decimals)."""
    model = MLP(2, [4, 3, 1], activation="tanh", seed=5)
    for step in range(3):
        model.zero_grad()
        loss = (model([0.1 * step, -0.7]) - 1.0) ** 2
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    return model


def test_state_dict_maps_names_to_floats_in_order():
    model = MLP(2, [2, 1])
    state = model.state_dict()
    assert list(state) == [n for n, _ in model.named_parameters()]
    assert all(isinstance(v, float) for v in state.values())


def test_load_state_dict_sets_every_parameter():
    a, b = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    assert b([0.3, 0.4]).data == a([0.3, 0.4]).data


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda s: s.pop("layers.1.neurons.0.b"), ValueError, "missing 1"),
        (lambda s: s.update({"layers.9.neurons.0.b": 1.0}), ValueError, "unexpected 1"),
        (lambda s: s.update({"layers.0.neurons.0.b": "0.5"}), TypeError, "must be a number"),
        (lambda s: s.update({"layers.1.neurons.0.b": float("nan")}), ValueError, "finite"),
        (lambda s: s.update({"layers.1.neurons.0.b": True}), TypeError, "must be a number"),
    ],
)
def test_load_state_dict_refuses_bad_state_and_changes_nothing(change, error, message):
    model = MLP(2, [3, 1], seed=1)
    before = model.state_dict()
    state = MLP(2, [3, 1], seed=2).state_dict()
    change(state)
    with pytest.raises(error, match=message):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_save_load_round_trip_is_bit_exact(tmp_path):
    model = trained_model()
    path = model.save(tmp_path / "w.json")
    other = MLP(2, [4, 3, 1], activation="tanh", seed=99)
    assert other.state_dict() != model.state_dict()
    other.load(path)
    saved, loaded = model.state_dict(), other.state_dict()
    assert [v.hex() for v in loaded.values()] == [v.hex() for v in saved.values()]
    assert other([0.25, -0.5]).data == model([0.25, -0.5]).data


def test_saved_file_is_readable_json_with_names(tmp_path):
    model = Neuron(2, activation="sigmoid")
    path = model.save(tmp_path / "neuron.json")
    text = path.read_text()
    assert text.count("\n") > 5  # indented, one entry per line
    doc = json.loads(text)
    assert doc["architecture"] == {
        "type": "Neuron",
        "nin": 2,
        "activation": "sigmoid",
        "bias": True,
    }
    assert list(doc["parameters"]) == ["w[0]", "w[1]", "b"]


def test_layer_round_trip(tmp_path):
    a, b = Layer(3, 2, seed=1), Layer(3, 2, seed=2)
    b.load(a.save(tmp_path / "layer.json"))
    assert b.state_dict() == a.state_dict()


def _refused(model, path, message):
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        model.load(path)
    assert model.state_dict() == before


def test_truncated_file_is_refused_and_model_untouched(tmp_path):
    path = trained_model().save(tmp_path / "w.json")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    _refused(MLP(2, [4, 3, 1], activation="tanh", seed=0), path, "damaged JSON")


def test_changed_number_fails_the_checksum(tmp_path):
    model = trained_model()
    path = model.save(tmp_path / "w.json")
    doc = json.loads(path.read_text())
    doc["parameters"]["layers.0.neurons.0.w[0]"] += 1e-12
    path.write_text(json.dumps(doc))
    _refused(MLP(2, [4, 3, 1], activation="tanh", seed=0), path, "checksum")


def test_different_architecture_is_refused(tmp_path):
    path = MLP(2, [4, 1]).save(tmp_path / "w.json")
    _refused(MLP(2, [5, 1]), path, "different architecture")
    _refused(MLP(2, [4, 1], activation="tanh"), path, "different architecture")
    _refused(Layer(2, 4), path, "different architecture")


def test_valid_checksum_but_bad_parameters_is_refused(tmp_path):
    # A file written by something else, consistent with itself but wrong.
    model = MLP(2, [2, 1])
    arch = model.architecture()
    params = model.state_dict()
    params.pop("layers.1.neurons.0.b")
    body = {"architecture": arch, "parameters": params}
    doc = {"format": "autograd-core/nn-weights", "version": 1, **body, "sha256": _checksum(body)}
    path = tmp_path / "w.json"
    path.write_text(json.dumps(doc))
    _refused(MLP(2, [2, 1], seed=4), path, "missing 1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json at all", "damaged JSON"),
        ("[1, 2, 3]", "not a weights file"),
        ('{"format": "something-else"}', "not a weights file"),
        ('{"format": "autograd-core/nn-weights", "version": 7}', "version 7"),
        ('{"format": "autograd-core/nn-weights", "version": 1, "parameters": NaN}', "NaN"),
        ('{"format": "autograd-core/nn-weights", "version": 1}', "no 'parameters'"),
    ],
)
def test_files_that_are_not_weights_are_refused(tmp_path, text, message):
    path = tmp_path / "w.json"
    path.write_text(text)
    _refused(MLP(2, [2, 1]), path, message)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="cannot read"):
        MLP(2, [1]).load(tmp_path / "nope.json")


def test_save_refuses_non_finite_parameters(tmp_path):
    model = Neuron(2)
    model.w[0].data = float("inf")
    with pytest.raises(ValueError, match=r"w\[0\]"):
        model.save(tmp_path / "w.json")
    assert not (tmp_path / "w.json").exists()


def test_crash_mid_save_leaves_old_file_intact(tmp_path, monkeypatch):
    path = MLP(2, [2, 1], seed=1).save(tmp_path / "w.json")
    old = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        MLP(2, [2, 1], seed=2).save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.json"]  # no temporary file left behind
