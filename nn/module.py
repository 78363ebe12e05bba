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
import numbers
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_core.engine import Value
from autograd_core.errors import as_float, cut, describe, is_number
from autograd_core.files import atomic_write

__all__ = ["FORMAT", "Module", "read_weights_file", "weights_file_cap"]

FORMAT = "autograd-core/nn-weights"
FORMAT_VERSION = 1
HEADER_BYTES = 64 * 1024
BYTES_PER_PARAMETER = 128


class Module:
    """Base class of neurons, layers and MLPs: parameters, state, files."""

    if TYPE_CHECKING:
        # Every model is called on an input (Neuron, Layer and MLP define it). Declared for
        # the type checker only: at run time a Module without one stays not callable.
        def __call__(
            self, x: Sequence[Value | int | float] | Value | int | float
        ) -> Value | list[Value]: ...

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
                f"load_state_dict needs a mapping of names to numbers, got {describe(state)}"
            )
        self._load_named(self.named_parameters(), state)

    def _load_named(self, named: list[tuple[str, Value]], state: Mapping[str, Any]) -> None:
        """`load_state_dict` with `named_parameters()` already at hand (computed once)."""
        expected = [name for name, _ in named]
        missing = [n for n in expected if n not in state]
        known = set(expected)  # one set, so the check is linear in the number of parameters
        unexpected = [n for n in state if n not in known]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} (first: {missing[0]!r})")
            if unexpected:
                parts.append(f"unexpected {len(unexpected)} (first: {unexpected[0]!r})")
            raise ValueError(
                f"state does not match this {type(self).__name__}'s parameters: " + ", ".join(parts)
            )
        values = [state[name] for name in expected]
        for i, v in enumerate(values):
            # The common case, a finite float, without a call (v - v is NaN for inf and NaN).
            if v.__class__ is not float or v - v != 0.0:
                values[i] = _finite_number(v, expected[i])
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
        """Load weights saved by `save()`; a damaged or mismatching file leaves the model as is.

        The file must be a regular file (not a FIFO or a device) of at most
        `weights_file_cap(...)` bytes for this model's parameters: anything
        else is refused before it is read. Every refusal is a ValueError
        naming the file (an OSError if it cannot be opened).
        """
        path = Path(path)
        named = self.named_parameters()
        document = read_weights_file(path, weights_file_cap(name for name, _ in named))
        arch, params = document.get("architecture"), document["parameters"]
        mine = self.architecture()
        if "architecture" in document and arch != mine:
            raise ValueError(_architecture_mismatch(path, arch, mine, len(params), len(named)))
        if not isinstance(params, Mapping):
            raise ValueError(f"{path}: the parameters are not an object")
        try:
            self._load_named(named, params)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the model as ONNX (needs the `onnx` extra); see autograd_core.onnx_export."""
        from autograd_core.onnx_export import export_module

        return export_module(self, path)


# ---------------------------------------------------------------------------
# Helpers.


def _finite_number(x: object, name: str) -> float:
    # A bool is a number elsewhere, but `true` in a weights file is damage, not a weight.
    if not is_number(x) or isinstance(x, bool):
        raise TypeError(f"parameter {name} must be a number, got {describe(x)}")
    v = as_float(x, f"parameter {name}")
    if not math.isfinite(v):
        raise ValueError(f"parameter {name} must be finite, got {v!r}")
    return v


def _shown(x: object) -> str:
    return cut(json.dumps(x) if isinstance(x, (str, int, float, bool)) else repr(x), 24)


def _first_difference(arch: object, mine: dict[str, Any]) -> str:
    """The first field where a file's architecture differs from the model's, in a few words."""
    if not isinstance(arch, dict):
        return f"the file's architecture is not an object but {cut(type(arch).__name__, 24)}"
    for key in [*mine, *(k for k in arch if k not in mine)]:
        if key not in arch:
            return f"the file has no {_shown(key)}"
        if key not in mine:
            return f"the file has an extra field {_shown(key)}"
        a, b = arch[key], mine[key]
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    return (
                        f"{key}[{i}] is {_shown(x)} in the file, {_shown(y)} in the model "
                        f"({len(a)} vs {len(b)} entries)"
                    )
            return f"{key} has {len(a)} entries in the file, {len(b)} in the model"
        return f"{key} is {_shown(a)} in the file, {_shown(b)} in the model"
    return "the fields differ"  # not reached: the dicts differ


def _architecture_mismatch(
    path: Path, arch: object, mine: dict[str, Any], n_file: object, n_model: int
) -> str:
    """A short refusal of a file written by another architecture: first difference, counts."""
    return (
        f"{cut(str(path), 80)} holds a different architecture: "
        f"{_first_difference(arch, mine)}; "
        f"{n_file} parameters in the file, {n_model} in this {mine.get('type', 'model')}"
    )


def weights_file_cap(names: Iterable[str]) -> int:
    """Largest weights file `Module.load` reads for parameters with these names, in bytes.

    64 KiB for the header, plus the name's length and 128 bytes per
    parameter: `save()` writes about 30 bytes besides each name, so every
    file it writes fits with room to spare, and a file blown up to hundreds
    of megabytes is refused before it is read.
    """
    return HEADER_BYTES + sum(len(name) + BYTES_PER_PARAMETER for name in names)


def check_max_bytes(max_bytes: object, who: str) -> int:
    """`max_bytes` if it is a positive int (a TypeError or ValueError naming `who` if not)."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
        raise TypeError(
            f"{who}: max_bytes must be an int, the largest file to read in bytes, "
            f"got {describe(max_bytes)}"
        )
    if max_bytes < 1:
        raise ValueError(f"{who}: max_bytes must be a positive number of bytes, got {max_bytes!r}")
    return int(max_bytes)


def read_weights_file(path: str | os.PathLike, max_bytes: int) -> dict[str, Any]:
    """The checked JSON document of a weights file, or a ValueError naming the file.

    Refuses, before reading a byte: anything but a regular file (a FIFO is
    opened without blocking, a device such as /dev/zero is never read) and
    files over `max_bytes`. Then refuses damaged JSON (including nesting too
    deep to parse and numbers too large), a wrong format or version, a
    missing parameters object and a failed checksum.
    """
    path = Path(path)
    check_max_bytes(max_bytes, "read_weights_file()")
    document = _parse_weights(path, _read_capped(path, max_bytes))
    _check_checksum(path, document)
    return document


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, never blocking on a FIFO or device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(
                    f"{path} is not a regular file ({_file_kind(info.st_mode)}): "
                    "refusing to read it as a weights file"
                )
            if info.st_size > max_bytes:
                raise ValueError(
                    f"{path} is {info.st_size} bytes, more than the {max_bytes} bytes a weights "
                    "file for this model can take: refusing to read it"
                )
            # One buffer of the file's size (+1 to see it grow), not chunks joined: a
            # large file is held once, not twice.
            with open(fd, "rb", buffering=0, closefd=False) as f:
                data = f.read(info.st_size + 1)
                if len(data) > info.st_size:  # it grew: read on, to the cap
                    data += f.read(max_bytes + 1 - len(data))
        finally:
            os.close(fd)
    except OSError as e:
        raise OSError(f"cannot read weights file {str(path)!r}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise ValueError(f"{path} grew past {max_bytes} bytes while read: refusing it")
    return data


def _parse_weights(path: Path, data: bytes) -> dict[str, Any]:
    """The JSON document, checked to be a weights file of this version with parameters."""
    try:
        # Bytes straight to json (UTF-8 checked there): no decoded copy of a large file.
        document = json.loads(data, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid weights file (damaged JSON: {e})") from None
    except RecursionError:
        raise ValueError(
            f"{path} is not a valid weights file (JSON nested too deeply to parse)"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a weights file written by Module.save()")
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has weights format version {cut(repr(document.get('version')), 40)}; "
            f"this code reads version {FORMAT_VERSION}"
        )
    if not isinstance(document.get("parameters"), dict):
        raise ValueError(f"{path} has no 'parameters' object: the file is damaged")
    return document


def _check_checksum(path: Path, document: dict[str, Any]) -> None:
    """Refuse a file whose numbers changed after saving."""
    # Files from before the architecture was stored were summed over the parameters only.
    body = {"parameters": document["parameters"]}
    if "architecture" in document:
        body["architecture"] = document["architecture"]
    try:
        expected = _checksum(body)
    except (ValueError, RecursionError):  # an int too long to write back, nesting inside
        expected = None
    if expected is None or document.get("sha256") != expected:
        raise ValueError(
            f"{path} fails its checksum: the numbers were changed or damaged after saving"
        )


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a weights file may hold")


def _checksum(body: dict[str, Any]) -> str:
    # Over a canonical rendering, so indentation or key order do not matter.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
