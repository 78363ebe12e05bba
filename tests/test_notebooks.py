"""Every notebook in notebooks/ runs from a clean kernel, and is stored executed.

The notebooks reproduce the worked examples of the tutorials our users learn
from, with assertions on the key figures; executing them here keeps those
examples true to the library as it changes. The kernel is a separate process:
it runs the interpreter running the tests, finds the repository through
PYTHONPATH (as it would after `pip install -e .`), and starts in notebooks/,
as Jupyter does when a notebook is opened.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TOPICS = 8  # one notebook per topic of the notebooks issue


def _prepend(monkeypatch: pytest.MonkeyPatch, var: str, path: Path) -> None:
    paths = [str(path), os.environ.get(var, "")]
    monkeypatch.setenv(var, os.pathsep.join(p for p in paths if p))


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The kernel runs this interpreter and imports this checkout, whatever the machine's setup."""
    # A "python3" kernelspec for sys.executable, first on Jupyter's search path, so that
    # a stale user-level "python3" pointing at another Python cannot take over.
    write_kernel_spec(str(tmp_path / "kernels" / "python3"))
    _prepend(monkeypatch, "JUPYTER_PATH", tmp_path)
    _prepend(monkeypatch, "PYTHONPATH", ROOT)


def _execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    return nb


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_is_one_notebook_per_topic() -> None:
    assert len(NOTEBOOKS) == TOPICS, [p.name for p in NOTEBOOKS]


def test_the_kernel_runs_this_interpreter_and_imports_this_checkout(kernel_env: None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import sys, autograd_core\nprint(sys.executable)\nprint(autograd_core.__file__)"
        )
    ]
    out = _execute(nb).cells[0].outputs
    executable, package = "".join(o.get("text", "") for o in out).split()
    assert executable == sys.executable
    assert Path(package).resolve().is_relative_to(ROOT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_valid_and_executed(path: Path) -> None:
    # Stored with outputs, so that it reads in any viewer (and on the docs site);
    # scripts/run_notebooks.py re-executes them from a clean kernel.
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), (
        f"{path.name} is not stored executed in order: run python scripts/run_notebooks.py"
    )
    assert sum(bool(c.outputs) for c in cells) >= len(cells) // 2
    for i, cell in enumerate(cells):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"code cell {i} was stored with an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cites_tutorials_by_name(path: Path) -> None:
    # The tutorials are cited by title and author, never as "the seed" or "our copy".
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    for phrase in ("the seed", "seed's", "our copy"):
        assert phrase not in text.lower(), f"{path.name} says {phrase!r}"


def test_the_xor_graph_is_drawn_readably() -> None:
    # Notebook 3's graph of one example: top to bottom, fits a page, no 0 + or * 1 nodes.
    nb = nbformat.read(NOTEBOOK_DIR / "03_xor_two_layer_network.ipynb", as_version=4)
    svgs = [
        o["data"]["image/svg+xml"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(svgs) == 1
    width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svgs[0]).group(1))
    assert width <= 1000, width
    assert ">* 1<" not in svgs[0] and ">0 +<" not in svgs[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defines_no_classes(path: Path) -> None:
    # Notebooks import library code; a class in a notebook is library code in the wrong place.
    for i, cell in enumerate(_code_cells(path)):
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        tree = ast.parse(source)
        classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        assert not classes, f"code cell {i} defines {classes}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_clean_kernel(path: Path, kernel_env: None) -> None:
    _execute(nbformat.read(path, as_version=4))
