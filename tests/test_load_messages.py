"""Short refusals from model.load, nn.load's max_bytes, op names (issue 19 items 7, 8, 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nn
from autograd_core import Op, primitive
from nn import MLP
from nn.module import FORMAT, FORMAT_VERSION, _checksum
from nn.saved import MAX_LOAD_BYTES


def _write(path: Path, architecture: object, parameters: dict) -> None:
    body = {"architecture": architecture, "parameters": parameters}
    document = {"format": FORMAT, "version": FORMAT_VERSION, **body, "sha256": _checksum(body)}
    path.write_text(json.dumps(document))


def test_another_architecture_names_the_first_difference_and_the_counts(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    MLP(2, [3, 1], seed=0).save(path)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError) as info:
        model.load(path)
    message = str(info.value)
    assert len(message) < 300
    assert "nouts[0] is 3 in the file, 4 in the model" in message
    assert "13 parameters in the file, 17 in this MLP" in message


def test_a_huge_architecture_gives_a_short_message(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    arch = {
        "type": "MLP",
        "nin": 2,
        "nouts": [7] * 8000 + ["x" * 5000],
        "activation": "relu",
        "output_activation": "linear",
        "bias": True,
        "z" * 3000: 1,
    }
    model = MLP(2, [3, 1], seed=0)
    _write(path, arch, model.state_dict())
    with pytest.raises(ValueError) as info:
        model.load(path)
    message = str(info.value)
    assert len(message) < 300, len(message)
    assert "nouts[0] is 7 in the file, 3 in the model (8001 vs 2 entries)" in message
    assert "13 parameters in the file, 13 in this MLP" in message


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ([1, 2], "not an object but list"),
        ({"type": "Layer"}, 'type is "Layer" in the file, "MLP" in the model'),
        ({**MLP(2, [3, 1]).architecture(), "extra" * 100: 1}, "an extra field"),
    ],
)
def test_other_differences_are_named(tmp_path: Path, arch: object, expected: str) -> None:
    path = tmp_path / "w.json"
    model = MLP(2, [3, 1], seed=0)
    _write(path, arch, model.state_dict())
    with pytest.raises(ValueError, match="different architecture") as info:
        model.load(path)
    assert expected in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("name", ["a\x00b", "\x00"])
def test_nul_in_a_primitive_name_is_refused_at_definition(name: str) -> None:
    with pytest.raises(ValueError, match="must not contain NUL"):
        primitive(name)(lambda m, x: (x, 1.0))
    with pytest.raises(ValueError, match="symbol must not contain NUL"):
        Op("fine", lambda m, x: (x, 1.0), 1, symbol=name)


@pytest.mark.parametrize("bad", ["1000", 1.5, None, True, b"10"])
def test_nn_load_max_bytes_of_the_wrong_type(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "w.json"
    MLP(2, [1]).save(path)
    with pytest.raises(TypeError, match=r"nn.load\(\): max_bytes must be an int"):
        nn.load(path, max_bytes=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, -(2**70)])
def test_nn_load_max_bytes_must_be_positive(tmp_path: Path, bad: int) -> None:
    path = tmp_path / "w.json"
    MLP(2, [1]).save(path)
    with pytest.raises(ValueError, match=r"nn.load\(\): max_bytes must be a positive"):
        nn.load(path, max_bytes=bad)


def test_nn_load_refuses_a_file_over_the_cap_before_reading_it(tmp_path: Path) -> None:
    assert MAX_LOAD_BYTES == 16 * 1024 * 1024
    path = tmp_path / "w.json"
    with open(path, "wb") as f:
        f.truncate(MAX_LOAD_BYTES + 1)  # sparse: nothing to read if it were read
    with pytest.raises(ValueError, match=f"more than the {MAX_LOAD_BYTES} bytes"):
        nn.load(path)
    small = tmp_path / "small.json"
    MLP(2, [3, 1]).save(small)
    assert (
        nn.load(small, max_bytes=small.stat().st_size).architecture()
        == MLP(2, [3, 1]).architecture()
    )
    with pytest.raises(ValueError, match="more than the 100 bytes"):
        nn.load(small, max_bytes=100)
