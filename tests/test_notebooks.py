"""Every notebook in notebooks/ runs from a clean kernel, and is stored clean.

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
def test_notebook_is_saved_valid_and_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} was saved with outputs"
            assert cell.execution_count is None, f"cell {i} was saved with an execution count"


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
