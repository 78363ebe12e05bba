"""ONNX export, checked by running the files in ONNX Runtime against the engine.

Needs the `onnx` extra (onnx, onnxruntime, numpy), which scripts/setup.sh installs;
without it only the test of the missing-package error runs.

"Equal to 1e-12 relative" is checked per output element as
|ort - engine| <= 1e-12 * max(|engine|, scale), where scale is the largest
|engine| output of the batch: ONNX Runtime's Gemm adds the products in its
own order, so an output that nearly cancels can lose relative digits that the
batch's magnitude did not.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from nn.layers import ACTIVATIONS, MLP, Layer, Neuron
from nn.module import Module

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-12


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r"autograd-core\[onnx\]"):
        MLP(2, [3, 1]).export_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
np = pytest.importorskip("numpy", reason="the onnx extra is not installed")


def run_ort(path, **feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_close(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = np.max(np.abs(want)) if want.size else 0.0
    bound = RTOL * np.maximum(np.abs(want), scale)
    bad = ~(np.abs(got - want) <= bound)
    assert not bad.any(), f"ORT {got[bad][:5]} vs engine {want[bad][:5]}"


def randomize(model, seed):
    """Random weights and biases (the constructors set biases to 0, which would hide them)."""
    rng = random.Random(seed)
    for _, p in model.named_parameters():
        p.data = rng.uniform(-1.5, 1.5)
    return model


def engine_outputs(model, X):
    rows = []
    for x in X:
        out = model([float(v) for v in x])
        rows.append([v.data for v in (out if isinstance(out, list) else [out])])
    return np.array(rows)


# ---------------------------------------------------------------------------
# nn models.

SHAPES = [[1], [3], [4, 1], [5, 4, 2]]


@pytest.mark.parametrize("hidden", ACTIVATIONS)
@pytest.mark.parametrize("output", ACTIVATIONS)
@pytest.mark.parametrize("nouts", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_mlp_runs_in_onnx_runtime_as_in_the_engine(tmp_path, hidden, output, nouts):
    nin = 3
    model = randomize(MLP(nin, nouts, hidden, output, seed=7), seed=len(nouts) * 31 + nouts[-1])
    path = model.export_onnx(tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    X = np.random.default_rng(1).normal(scale=2.0, size=(9, nin))
    (y,) = run_ort(path, x=X)
    assert y.dtype == np.float64
    assert y.shape == (9, nouts[-1])
    assert_close(y, engine_outputs(model, X))


@pytest.mark.parametrize("bias", [True, False])
def test_neuron_and_layer_export(tmp_path, bias):
    X = np.random.default_rng(2).normal(size=(6, 4))
    for model in (Neuron(4, "tanh", bias), Layer(4, 3, "sigmoid", bias), Layer(4, 1, "relu", bias)):
        randomize(model, seed=3)
        path = model.export_onnx(tmp_path / f"{type(model).__name__}.onnx")
        onnx.checker.check_model(str(path), full_check=True)
        (y,) = run_ort(path, x=X)
        assert_close(y, engine_outputs(model, X))


def test_model_without_bias_has_no_bias_tensors(tmp_path):
    model = MLP(2, [3, 1], bias=False)
    proto = onnx.load(str(model.export_onnx(tmp_path / "m.onnx")))
    assert [t.name for t in proto.graph.initializer] == ["layers.0.neurons.w", "layers.1.neurons.w"]
    assert all(len(node.input) == 2 for node in proto.graph.node if node.op_type == "Gemm")


def test_graph_is_gemm_then_activation_op(tmp_path):
    model = MLP(2, [4, 4, 2], "tanh", "sigmoid")
    proto = onnx.load(str(model.export_onnx(tmp_path / "m.onnx")))
    assert [n.op_type for n in proto.graph.node] == [
        "Gemm",
        "Tanh",
        "Gemm",
        "Tanh",
        "Gemm",
        "Sigmoid",
    ]
    (inp,) = proto.graph.input
    (out,) = proto.graph.output
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert (inp.name, dims(inp)) == ("x", ["N", 2])
    assert (out.name, dims(out)) == ("y", ["N", 2])
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_linear_output_layer_adds_no_node(tmp_path):
    proto = onnx.load(str(MLP(2, [3, 1], "relu", "linear").export_onnx(tmp_path / "m.onnx")))
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Gemm"]


@pytest.mark.parametrize(
    "model", [MLP(3, [4, 2]), Layer(3, 2), Neuron(3)], ids=["MLP", "Layer", "Neuron"]
)
def test_initializers_hold_every_parameter_under_its_name(tmp_path, model):
    """Drop `.<j>` and `[<k>]` from a parameter's name: that is its tensor, and they its element."""
    randomize(model, seed=5)
    proto = onnx.load(str(model.export_onnx(tmp_path / "m.onnx")))
    tensors = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    seen = set()
    for name, p in model.named_parameters():
        m = re.fullmatch(r"(.*?)(?:(neurons\.)(\d+)\.)?(w|b)(?:\[(\d+)\])?", name)
        head, neurons, j, leaf, k = m.groups()
        tensor = head + (neurons or "") + leaf
        index = (int(j or 0),) if k is None else (int(j or 0), int(k))
        assert tensors[tensor][index] == p.data, name
        seen.add((tensor, index))
    assert len(seen) == sum(a.size for a in tensors.values())  # nothing else in the file


def test_one_row_and_many_rows(tmp_path):
    model = randomize(MLP(2, [3, 1], "tanh"), seed=9)
    path = model.export_onnx(tmp_path / "m.onnx")
    for n in (1, 257):
        X = np.random.default_rng(n).uniform(-3, 3, size=(n, 2))
        (y,) = run_ort(path, x=X)
        assert_close(y, engine_outputs(model, X))


def test_export_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    MLP(2, [1]).export_onnx(path)
    onnx.checker.check_model(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


def test_other_modules_are_refused_with_their_name(tmp_path):
    class Custom(Module):
        pass

    with pytest.raises(TypeError, match="Neuron, Layer and MLP.*Custom"):
        Custom().export_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------------------
# The command line.


def test_cli_onnx_writes_a_model_matching_the_saved_weights(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "nn", "train", "--steps", "3", "--onnx", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    path = tmp_path / "out" / "model.onnx"
    assert str(Path("out") / "model.onnx") in result.stdout
    onnx.checker.check_model(str(path), full_check=True)
    X = np.random.default_rng(4).uniform(-2, 2, size=(20, 2))
    (y,) = run_ort(path, x=X)
    # The README's three lines, from the weights file to a session, give the same model.
    model = nn.load(tmp_path / "out" / "weights.json")
    model.export_onnx(tmp_path / "again.onnx")
    session = ort.InferenceSession(str(tmp_path / "again.onnx"), providers=["CPUExecutionProvider"])
    assert_close(y, engine_outputs(model, X))
    assert (session.run(None, {"x": X})[0] == y).all()


def test_cli_without_onnx_refuses_before_training(tmp_path, monkeypatch, capsys):
    import nn.__main__ as cli

    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    status = cli.main(["train", "--onnx", "--out", str(tmp_path / "o")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--onnx needs the onnx package" in err and "autograd-core[onnx]" in err
    assert not (tmp_path / "o").exists()
