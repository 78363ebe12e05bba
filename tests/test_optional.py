"""A missing optional package says which extra installs it (simulated with sys.modules)."""

import sys

import pytest

from autograd_core.optional import MissingOptionalDependency, require
from nn import MLP, History, train
from nn.plots import decision_boundary, loss_curve


def hide(monkeypatch, *names):
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now fails


def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    assert require("json", "plots", "x").dumps([1]) == "[1]"
    hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingOptionalDependency) as info:
        require("matplotlib.figure", "plots", "loss_curve()")
    assert isinstance(info.value, ImportError)
    assert str(info.value) == (
        "loss_curve() needs matplotlib, which is not installed: "
        "pip install 'autograd-core[plots]' (or pip install matplotlib)"
    )


def test_a_broken_dependency_of_an_installed_package_is_not_blamed_on_the_extra(
    monkeypatch, tmp_path
):
    (tmp_path / "fakepkg_ac.py").write_text("import missing_dependency_ac\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="missing_dependency_ac") as info:
        require("fakepkg_ac", "plots", "x")
    assert not isinstance(info.value, MissingOptionalDependency)


def test_plots_without_matplotlib_or_numpy(monkeypatch, tmp_path):
    hide(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r"loss_curve\(\) needs matplotlib.*\[plots\]"):
        loss_curve(History(loss=[1.0]), tmp_path / "l.png")
    monkeypatch.undo()
    hide(monkeypatch, "numpy")
    with pytest.raises(ImportError, match=r"decision_boundary\(\) needs numpy.*\[plots\]"):
        decision_boundary(MLP(2, [1]), [[0.0, 1.0]], [1], tmp_path / "d.png")
    assert not (tmp_path / "d.png").exists()


def test_progress_without_tqdm(monkeypatch):
    hide(monkeypatch, "tqdm")
    X, y = [[0.0], [1.0]], [0.0, 1.0]
    with pytest.raises(ImportError, match=r"needs tqdm.*autograd-core\[progress\]"):
        train(MLP(1, [1]), X, y, loss="mse", steps=1, progress=True)
    history = train(MLP(1, [1]), X, y, loss="mse", steps=1, progress=None)  # not asked: quiet
    assert history.steps == 1
