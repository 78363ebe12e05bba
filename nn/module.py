"""`Module`: what every model shares, whatever its layers.

Parameters are found through `named_parameters()`, which each model defines;
everything else here (zeroing gradients, state dicts, saving and loading) is
written once on top of it. Saved files are JSON a person can read: the
architecture, every parameter by its dotted name, and a checksum, so that a
file edited by accident or cut short is refused instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autograd_core.engine import Value
from autograd_core.files import atomic_write

__all__ = ["FORMAT", "Module"]

FORMAT = "autograd-core/nn-weights"
FORMAT_VERSION = 1


class Module:
    """Base class of neurons, layers and MLPs: parameters, state, files."""

    # -- parameters -------------------------------------------------------------

    def named_parameters(self) -> list[tuple[str, Value]]:
        """`(dotted name, parameter)` pairs in a fixed order; models override this."""
        return []

    def parameters(self) -> list[Value]:
        """Every trainable Value, in the order of `named_parameters()`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset parameter gradients, which `backward()` accumulates."""
        for p in self.parameters():
            p.grad = 0.0

    def _label_parameters(self) -> None:
        # Labels make drawn graphs readable: "layers.0.neurons.3.w[1]".
        for name, p in self.named_parameters():
            p.label = name

    def architecture(self) -> dict[str, Any]:
        """What a saved file must match to load into this model; models extend it."""
        return {"type": type(self).__name__}

    # -- state --------------------------------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """Parameter values by dotted name (floats, detached from any graph)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from `state`, or change nothing and raise.

        The names must be exactly this model's, and every value a finite real
        number; all checks run before the first parameter is written.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict needs a mapping of names to numbers, got {state!r}"[:200]
            )
        named = self.named_parameters()
        expected = [name for name, _ in named]
        missing = [n for n in expected if n not in state]
        unexpected = [n for n in state if n not in dict(named)]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} (first: {missing[0]!r})")
            if unexpected:
                parts.append(f"unexpected {len(unexpected)} (first: {unexpected[0]!r})")
            raise ValueError(
                f"state does not match this {type(self).__name__}'s parameters: " + ", ".join(parts)
            )
        values = [_finite_number(state[name], name) for name in expected]
        for (_, p), v in zip(named, values):
            p.data = v

    # -- files ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write architecture and weights as JSON, atomically (the old file survives a crash)."""
        state = self.state_dict()
        for name, v in state.items():
            if not math.isfinite(v):
                raise ValueError(
                    f"cannot save: parameter {name} is {v!r}; JSON holds finite numbers"
                )
        body = {"architecture": self.architecture(), "parameters": state}
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            **body,
            "sha256": _checksum(body),
        }
        # repr() of a float round-trips exactly, and json writes floats with repr.
        text = json.dumps(document, indent=1) + "\n"
        return atomic_write(path, text.encode("utf-8"))

    def load(self, path: str | os.PathLike) -> None:
        """Load weights saved by `save()`; a damaged or mismatching file leaves the model as is."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise OSError(f"cannot read weights file {str(path)!r}: {e.strerror or e}") from None
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{path} is not a valid weights file (damaged JSON: {e})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path} is not a weights file written by Module.save()")
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} has weights format version {document.get('version')!r}; "
                f"this code reads version {FORMAT_VERSION}"
            )
        arch, params = document.get("architecture"), document.get("parameters")
        if not isinstance(params, dict):
            raise ValueError(f"{path} has no 'parameters' object: the file is damaged")
        if document.get("sha256") != _checksum({"architecture": arch, "parameters": params}):
            raise ValueError(
                f"{path} fails its checksum: the numbers were changed or damaged after saving"
            )
        mine = self.architecture()
        if arch != mine:
            raise ValueError(
                f"{path} holds a different architecture: file {json.dumps(arch)}, "
                f"model {json.dumps(mine)}"
            )
        try:
            self.load_state_dict(params)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the model as ONNX (needs the `onnx` extra); see autograd_core.onnx_export."""
        from autograd_core.onnx_export import export_module

        return export_module(self, path)


# ---------------------------------------------------------------------------
# Helpers.


def _finite_number(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"parameter {name} must be a number, got {type(x).__name__}: {x!r}"[:200])
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"parameter {name} must be finite, got {v!r}")
    return v


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a weights file may hold")


def _checksum(body: dict[str, Any]) -> str:
    # Over a canonical rendering, so indentation or key order do not matter.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
