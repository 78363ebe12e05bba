"""Re-execute the notebooks and store them with their outputs, so they read in any viewer.

    python scripts/run_notebooks.py              # every notebook in notebooks/
    python scripts/run_notebooks.py 03_xor*.ipynb  # some of them
    python scripts/run_notebooks.py --check      # only check they are stored executed

Each notebook runs from a clean kernel on this interpreter, in notebooks/, with
this checkout first on the path (as tests/test_notebooks.py runs them). Timing
metadata is dropped, so a re-run changes a file only where an output changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"


def is_executed(nb: object) -> str | None:
    """None if every code cell was run, in order, from a fresh kernel; else what is wrong."""
    cells = [c for c in nb.cells if c.cell_type == "code"]  # type: ignore[attr-defined]
    counts = [c.execution_count for c in cells]
    if counts != list(range(1, len(cells) + 1)):
        return f"code cells were not run once each, in order (execution counts {counts})"
    return None


def execute(path: Path) -> None:
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        # A "python3" kernel for this interpreter, first on Jupyter's search path.
        write_kernel_spec(str(Path(tmp) / "kernels" / "python3"))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (tmp, os.environ.get("JUPYTER_PATH", "")) if p
        )
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        client = NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: all)")
    parser.add_argument("--check", action="store_true", help="check only; run nothing")
    args = parser.parse_args(argv)
    paths = [Path(p).resolve() for p in args.notebooks] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if args.check:
        import nbformat

        bad = []
        for path in paths:
            problem = is_executed(nbformat.read(path, as_version=4))
            if problem:
                bad.append(f"{path.name}: {problem}")
        for line in bad:
            print(line, file=sys.stderr)
        if bad:
            print("run: python scripts/run_notebooks.py", file=sys.stderr)
        return 1 if bad else 0
    for path in paths:
        print(f"running {path.name}", file=sys.stderr)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
