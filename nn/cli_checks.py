"""Checks the command line makes before training, so that a run is not lost at its end.

Separate from `nn/__main__.py` so that the checks can be read (and tested) on
their own: the output folder must be writable before the first step, the
extras the options need must be installed, and the memory a run needs is
estimated up front, from the model and data sizes, against a documented limit
(`MEMORY_LIMIT`), since the graph of a step grows with examples x model size
and a run past the machine's memory dies late. The run's manifest
(`manifest.json` in `--out`) lists the files it wrote, so that the next run in
the same folder can remove what it no longer writes and nothing else.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autograd_core.files import atomic_write

__all__ = [
    "MANIFEST",
    "MEMORY_LIMIT",
    "OUTPUT_NAMES",
    "check_outputs",
    "estimate_memory",
    "format_bytes",
    "missing_extra",
    "read_manifest",
    "remove_stale",
    "write_manifest",
]

# ---------------------------------------------------------------------------
# Memory. Figures measured with tracemalloc and /usr/bin/time on CPython 3.11
# (MLP(2, [16, 16, 1]), MLP(2, [64, 1]), MLP(2, [200, 200, 1]), MLP(20, [8, 1]);
# see the report of issue 11): a leaf parameter with its gradient ~390 bytes,
# and per example in a step's graph ~360 bytes per neuron (its linear and
# activation nodes) plus ~40 per weight it multiplies and ~160 per input,
# rounded up below. The graph of the previous step is still alive while the
# next is built, so two graphs count. Compiled training (`--compiled`, one
# trace kept for the run) took ~2.1 MB per example of MLP(2, [16, 16, 1]),
# about 75 times the graph: counted as 100.

MEMORY_LIMIT = 2 * 1024**3  # 2 GiB: refused beyond this unless --force
BYTES_PER_PARAMETER = 400
BYTES_PER_NEURON = 400  # per example in the graph
BYTES_PER_WEIGHT = 48  # per example in the graph: one operand of a neuron's linear node
BYTES_PER_INPUT = 160  # per example in the graph
BYTES_PER_EXAMPLE = 500  # per example in the graph: the loss terms
BYTES_PER_DATA_NUMBER = 40  # a float in a list, for the data set itself
LIVE_GRAPHS = 2
COMPILED_FACTOR = 100


def estimate_memory(
    nin: int, layers: Sequence[int], n: int, batch_size: int | None, compiled: bool
) -> int:
    """Bytes a training run needs, roughly: parameters, data, and the live graphs of a step."""
    sizes = [nin, *layers]
    parameters = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    neurons = sum(layers)
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    per_example = (
        BYTES_PER_NEURON * neurons
        + BYTES_PER_WEIGHT * weights
        + BYTES_PER_INPUT * nin
        + BYTES_PER_EXAMPLE
    )
    in_graph = n if batch_size is None else min(batch_size, n)
    # compiled: one trace of the full batch, kept for the whole run
    graph = in_graph * per_example * (COMPILED_FACTOR if compiled else LIVE_GRAPHS)
    data = n * (nin + 1) * BYTES_PER_DATA_NUMBER
    return BYTES_PER_PARAMETER * parameters + data + graph


def format_bytes(size: float) -> str:
    """1536 -> '1.5 KB' (binary units, one decimal)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if size < 1024 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# Outputs.


def check_outputs(folder: Path, names: Iterable[str]) -> None:
    """Make `folder` and prove that each output can be written there, before any work.

    The outputs are written atomically (a temporary file beside the target,
    then a rename), so what must work is creating a file in `folder`; a
    folder standing where an output goes would make its rename fail. Raises
    OSError naming the folder or the output.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"cannot create the --out folder: {e.strerror}", str(folder)) from e
    probe = folder / f".write-test-{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise OSError(
            e.errno, f"cannot write into the --out folder: {e.strerror}", str(folder)
        ) from e
    try:
        os.write(fd, b"x")  # a full disk refuses this
    except OSError as e:
        raise OSError(
            e.errno, f"cannot write into the --out folder: {e.strerror}", str(folder)
        ) from e
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)
    for name in names:
        target = folder / name
        if target.is_dir():
            raise IsADirectoryError(
                f"cannot write {str(target)!r}: a folder of that name is in the way"
            )
        try:
            mode = target.stat().st_mode
        except OSError:
            continue  # missing (or a dangling link): it will be created
        if not stat.S_ISREG(mode):
            raise OSError(
                f"cannot write {str(target)!r}: it exists and is not a regular file "
                "(a device, FIFO or socket); move it away or choose another --out"
            )


# ---------------------------------------------------------------------------
# Extras: an option whose package is missing is refused in one line, before any work.

# import name -> (what it is called in messages, the extra that installs it)
_PACKAGES = {
    "numpy": ("NumPy", "batched"),
    "sklearn": ("scikit-learn", "digits"),
    "onnx": ("onnx", "onnx"),
}


def missing_extra(
    option: str,
    modules: Sequence[str],
    extra: str,
    find_spec: Callable[[str], object] | None = None,
) -> str | None:
    """A one-line message if a module `option` needs is not installed, else None.

    `missing_extra("--batched", ["numpy"], "batched")` -> "--batched needs the NumPy
    package, which is not installed: pip install 'autograd-core[batched]'".
    `find_spec` defaults to `importlib.util.find_spec`.
    """
    find = find_spec or importlib.util.find_spec
    for module in modules:
        try:
            found = find(module) is not None
        except (ImportError, ValueError):  # a broken install, or sys.modules[module] = None
            found = False
        if not found:
            name = _PACKAGES.get(module, (module, extra))[0]
            return (
                f"{option} needs the {name} package, which is not installed: "
                f"pip install 'autograd-core[{extra}]'"
            )
    return None


# ---------------------------------------------------------------------------
# The manifest of a run's files.

MANIFEST = "manifest.json"
# Every file `python -m nn train` may write. Only these are ever removed as stale, and
# only when the previous run's manifest lists them: a user's own files are never touched.
OUTPUT_NAMES = frozenset(
    {
        "weights.json",
        "loss.png",
        "decision_boundary.png",
        "network.svg",
        "explorer.html",
        "model.onnx",
    }
)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest a run left in `folder`, or None when there is none or it is unreadable."""
    try:
        document = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        return None
    return document


def write_manifest(folder: Path, files: Iterable[Path], task: Mapping[str, Any]) -> Path:
    """Write `manifest.json`: the names of the files this run wrote, and what the model does."""
    from nn import __version__

    document = {
        "written_by": f"python -m nn train (autograd_core {__version__})",
        "files": sorted(p.name for p in files),
        "task": dict(task),
    }
    text = json.dumps(document, indent=2) + "\n"
    return atomic_write(folder / MANIFEST, text.encode("utf-8"))


def remove_stale(
    folder: Path, previous: Mapping[str, Any] | None, written: Iterable[Path]
) -> list[str]:
    """Remove the files the previous run wrote and this one did not; the names removed.

    Only names that the previous manifest lists, that are outputs of the command
    (`OUTPUT_NAMES`) and that are regular files (not links) in `folder` itself.
    """
    if previous is None:
        return []
    now = {p.name for p in written}
    removed = []
    for name in previous.get("files", []):
        if not isinstance(name, str) or name not in OUTPUT_NAMES or name in now:
            continue
        target = folder / name
        try:
            if not stat.S_ISREG(target.lstat().st_mode):
                continue
            target.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
        removed.append(name)
    return removed
