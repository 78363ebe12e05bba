"""nn.load rebuilds saved models; weights files that are not what they claim are refused.

Every refusal is a ValueError naming the file, and the model being loaded
into keeps its numbers.
"""

import json
import os

import pytest

import nn
from nn import MLP, Layer, Neuron
from nn.module import FORMAT, FORMAT_VERSION, _checksum, weights_file_cap
from nn.saved import parameter_count


def write_document(path, architecture, parameters, **extra):
    body = {"parameters": parameters}
    if architecture is not None:
        body["architecture"] = architecture
    doc = {"format": FORMAT, "version": FORMAT_VERSION, **body, "sha256": _checksum(body), **extra}
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "model",
    [
        MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=1),
        MLP(2, [5, 1], bias=False, seed=2),
        Layer(3, 2, activation="linear", seed=3),
        Neuron(4, activation="sigmoid", seed=4),
    ],
    ids=repr,
)
def test_load_rebuilds_the_saved_model(tmp_path, model):
    model.save(tmp_path / "w.json")
    loaded = nn.load(tmp_path / "w.json")
    assert type(loaded) is type(model)
    assert loaded.architecture() == model.architecture()
    assert loaded.state_dict() == model.state_dict()
    assert parameter_count(model.architecture()) == len(model.parameters())
    x = [0.3, -0.7, 1.1, 0.2][: model.nin]
    out, expected = loaded(x), model(x)
    outs = out if isinstance(out, list) else [out]
    exps = expected if isinstance(expected, list) else [expected]
    assert [v.data for v in outs] == [v.data for v in exps]


def test_files_without_architecture_load_into_a_built_model_but_not_with_nn_load(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    path = write_document(tmp_path / "old.json", None, MLP(2, [3, 1], seed=9).state_dict())
    model.load(path)
    assert model.state_dict() == MLP(2, [3, 1], seed=9).state_dict()
    with pytest.raises(ValueError, match=r"old\.json holds weights but no architecture"):
        nn.load(path)


@pytest.mark.parametrize(
    "architecture, message",
    [
        ({"type": "Transformer"}, "not one nn.load can build"),
        ({"type": "MLP", "nin": 2, "nouts": [], "activation": "relu"}, "nouts"),
        ({"type": "Neuron", "nin": "2", "activation": "relu", "bias": True}, "nin"),
        ({"type": "Neuron", "nin": 2, "activation": "gelu", "bias": True}, "activation"),
        ({"type": "Neuron", "nin": 2, "activation": "relu", "bias": 1}, "bias"),
        ("MLP", "must be an object"),
        # a header claiming a huge model must be refused before anything is built
        ({"type": "Layer", "nin": 10**6, "nout": 10**6, "activation": "relu", "bias": True}, "has"),
    ],
)
def test_load_refuses_architectures_it_cannot_rebuild(tmp_path, architecture, message):
    path = write_document(tmp_path / "arch.json", architecture, Neuron(2).state_dict())
    with pytest.raises(ValueError, match=message) as info:
        nn.load(path)
    assert "arch.json" in str(info.value)


def test_load_state_dict_is_linear_in_the_parameters():
    # 20,301 parameters: the old check rebuilt a dict per name (quadratic, minutes).
    # Timing is bench/bench_load.py's job; here: a mismatch is still found and reported.
    model = MLP(2, [100, 200, 1], seed=0)
    state = model.state_dict()
    state["layers.9.extra"] = 1.0
    with pytest.raises(ValueError, match="unexpected 1"):
        model.load_state_dict(state)
    del state["layers.9.extra"]
    model.load_state_dict(state)


# -- refused files: the model stays as it was ------------------------------------------


@pytest.fixture
def model():
    return MLP(2, [3, 1], seed=0)


def refused(model, path, message):
    before = model.state_dict()
    with pytest.raises(ValueError, match=message) as info:
        model.load(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError) as info:
        nn.load(path)
    assert str(path) in str(info.value)
    assert model.state_dict() == before


def test_symlink_to_dev_zero_is_refused_without_reading(tmp_path, model):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    refused(model, link, "not a regular file .a character device.")


def test_fifo_is_refused_without_blocking(tmp_path, model):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # nobody writes to it: a blocking open would hang the test
    refused(model, fifo, "not a regular file .a FIFO.")


def test_directory_is_refused(tmp_path, model):
    refused(model, tmp_path, "not a regular file .a directory.")


def test_file_larger_than_the_cap_is_refused_before_reading(tmp_path, model):
    cap = weights_file_cap(name for name, _ in model.named_parameters())
    model.save(tmp_path / "ok.json")
    assert (tmp_path / "ok.json").stat().st_size < cap / 10  # save() stays well inside it
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(cap + 1)  # sparse: costs no disk, and would be a bad read
    refused(model, big, f"more than the {cap} bytes")
    with pytest.raises(ValueError, match="more than the 100 bytes"):
        nn.load(tmp_path / "ok.json", max_bytes=100)


def test_deeply_nested_json_is_a_value_error(tmp_path, model):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 30_000 + "]" * 30_000)
    refused(model, deep, "nested too deeply")


def test_huge_int_weight_is_a_value_error(tmp_path, model):
    state = {**model.state_dict(), "layers.0.neurons.0.b": 10**400}
    path = write_document(tmp_path / "huge.json", model.architecture(), state)
    refused(model, path, "too large for a float")
