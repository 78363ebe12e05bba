"""`nn.load(path)`: a trained model back from its weights file, without rebuilding it by hand.

`Module.save` writes the architecture (class, sizes, activations, bias)
beside the weights; `load` reads it, builds that `Neuron`, `Layer` or `MLP`
and loads the weights into it. Separate from `nn.module` because it needs
the model classes, which are built on `Module`.

Files are read through `read_weights_file`, so the same refusals apply as
for `Module.load` (not a regular file, damaged JSON, failed checksum). The
parameter count is not known before the file is read, so the size cap is a
fixed `MAX_LOAD_BYTES`; then the count the architecture implies must equal
the number of parameters in the file before any model is built, so a header
claiming a billion weights cannot make `load` allocate them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autograd_core.errors import cut
from nn.layers import ACTIVATIONS, MLP, Layer, Neuron
from nn.module import Module, check_max_bytes, read_weights_file

__all__ = ["MAX_LOAD_BYTES", "load", "parameter_count"]

MAX_LOAD_BYTES = 16 * 1024 * 1024
"""`load` refuses larger files unless given `max_bytes`: about 300,000 parameters as `save`
writes them (MLP(2, [540, 540, 1]) is 15.7 MB). Such a file loads in seconds: measured
5.9 s and 235 MB peak on a busy 2-core machine (bench/bench_load_cap.py). The earlier
64 MiB cap let in files that took a minute and 870 MB; `max_bytes` still opens that door."""


def _size(arch: dict[str, Any], key: str) -> int:
    n = arch.get(key)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"'{key}' must be a positive int, got {cut(str(n), 40)!r}")
    return n


def _activation(arch: dict[str, Any], key: str) -> str:
    a = arch.get(key)
    if a not in ACTIVATIONS:
        raise ValueError(
            f"'{key}' must be one of {', '.join(ACTIVATIONS)}, got {cut(str(a), 40)!r}"
        )
    return str(a)


def _bias(arch: dict[str, Any]) -> bool:
    b = arch.get("bias")
    if not isinstance(b, bool):
        raise ValueError(f"'bias' must be true or false, got {cut(str(b), 40)!r}")
    return b


def parameter_count(arch: object) -> int:
    """How many parameters the model an architecture describes has (ValueError if it is not one)."""
    if not isinstance(arch, dict):
        raise ValueError(f"the architecture must be an object, got {cut(str(arch), 80)!r}")
    kind = arch.get("type")
    if kind == "Neuron":
        return _size(arch, "nin") + _bias(arch)
    if kind == "Layer":
        return _size(arch, "nout") * (_size(arch, "nin") + _bias(arch))
    if kind == "MLP":
        nouts = arch.get("nouts")
        if not isinstance(nouts, list) or not nouts:
            raise ValueError(f"'nouts' must be a non-empty list, got {cut(str(nouts), 80)!r}")
        sizes = [_size({"nouts": n}, "nouts") for n in nouts]
        fan_ins = [_size(arch, "nin"), *sizes[:-1]]
        bias = _bias(arch)
        return sum(out * (fin + bias) for fin, out in zip(fan_ins, sizes))
    raise ValueError(
        f"type {cut(str(kind), 80)!r} is not one nn.load can build (Neuron, Layer, MLP); "
        "build the model yourself and call its .load(path)"
    )


def _build(arch: dict[str, Any]) -> Module:
    kind = arch["type"]
    if kind == "Neuron":
        return Neuron(_size(arch, "nin"), _activation(arch, "activation"), _bias(arch))
    if kind == "Layer":
        return Layer(
            _size(arch, "nin"), _size(arch, "nout"), _activation(arch, "activation"), _bias(arch)
        )
    return MLP(
        _size(arch, "nin"),
        list(arch["nouts"]),
        _activation(arch, "activation"),
        _activation(arch, "output_activation"),
        _bias(arch),
    )


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_LOAD_BYTES) -> Module:
    """The model saved in `path` by `Module.save` (or the CLI), rebuilt and with its weights.

    Raises ValueError naming the file when it cannot be rebuilt: no
    architecture (files written before it was stored: build the model and
    call `model.load(path)`), an unknown model type, sizes that do not match
    the parameters, or any refusal of `Module.load`. Files larger than
    `max_bytes` (a positive int: a TypeError or ValueError otherwise; default
    16 MiB, about 300,000 parameters) are refused before they are read.
    """
    check_max_bytes(max_bytes, "nn.load()")
    path = Path(path)
    document = read_weights_file(path, max_bytes)
    if "architecture" not in document:
        raise ValueError(
            f"{path} holds weights but no architecture, so nn.load cannot rebuild the model: "
            "build it as it was built for training and call model.load(path)"
        )
    arch, params = document["architecture"], document["parameters"]
    try:
        count = parameter_count(arch)
    except ValueError as e:
        raise ValueError(f"{path}: cannot rebuild the model: {e}") from None
    if count != len(params):
        raise ValueError(
            f"{path}: the architecture has {count} parameters but the file holds {len(params)}"
        )
    try:
        model = _build(arch)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: cannot rebuild the model: {e}") from None
    if model.architecture() != arch:
        raise ValueError(f"{path}: cannot rebuild the model: unexpected architecture fields")
    try:
        model._load_named(model.named_parameters(), params)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
    return model
