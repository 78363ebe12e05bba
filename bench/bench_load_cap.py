"""`nn.load` of a weights file at its size cap: seconds and peak memory (issue 19 item 10).

Writes the weights of MLP(2, [540, 540, 1]) (294,301 parameters, 15.7 MB, under
the 16 MiB `nn.saved.MAX_LOAD_BYTES`), then loads it in a fresh process and
prints the wall time of `nn.load` and the process's peak resident memory.
`--big` does the same for MLP(2, [1100, 1100, 1]) (1.2 million parameters,
65 MB: what the old 64 MiB cap let in), loaded with `max_bytes` raised.

Run: python bench/bench_load_cap.py [--big]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nn import MLP  # noqa: E402

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
import nn
started = time.perf_counter()
model = nn.load({path!r}, max_bytes={max_bytes})
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{len(model.parameters())}} {{seconds:.2f}} {{peak:.0f}}")
"""


def main() -> None:
    width = 1100 if "--big" in sys.argv else 540
    started = time.perf_counter()
    model = MLP(2, [width, width, 1], seed=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.json"
        model.save(path)
        made = time.perf_counter() - started
        size = path.stat().st_size
        del model
        code = CHILD.format(root=str(ROOT), path=str(path), max_bytes=size + 1)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    n, seconds, peak = int(out[0]), float(out[1]), float(out[2])
    print(f"MLP(2, [{width}, {width}, 1]): {n:,} parameters, {size / 1e6:.1f} MB file")
    print(f"  built and saved in {made:.1f} s")
    print(f"  nn.load: {seconds:.2f} s, peak resident memory {peak:.0f} MB (fresh process)")


if __name__ == "__main__":
    main()
