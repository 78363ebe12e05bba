"""Checks the command line makes before training, so that a run is not lost at its end.

Separate from `nn/__main__.py` so that the checks can be read (and tested) on
their own: the output folder must be writable before the first step, and the
memory a run needs is estimated up front, from the model and data sizes,
against a documented limit (`MEMORY_LIMIT`), since the graph of a step grows
with examples x model size and a run past the machine's memory dies late.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "MEMORY_LIMIT",
    "check_outputs",
    "estimate_memory",
    "format_bytes",
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
