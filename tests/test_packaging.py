"""What `pip install .` ships: one version, the py.typed markers, the licence; typed for users.

The wheel is built once (without build isolation, so no network: the test
extra brings setuptools), unpacked, and a user's snippet is type-checked
with mypy against the unpacked packages, as mypy would see them installed.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import autograd_core
import nn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # From a clean copy: a build/ or *.egg-info left in the tree by an earlier build
    # would hide a package that the configuration no longer finds.
    source = tmp_path_factory.mktemp("source") / "src"
    junk = shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "out", "site")
    shutil.copytree(ROOT, source, ignore=junk)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("*.whl")
    return path


def test_one_version_for_both_packages_and_the_metadata(wheel):
    assert re.fullmatch(r"\d+\.\d+\.\d+", autograd_core.__version__)
    assert nn.__version__ == autograd_core.__version__
    assert wheel.name.startswith(f"autograd_core-{autograd_core.__version__}-")
    assert importlib.metadata.version("autograd-core") == autograd_core.__version__


def test_wheel_ships_the_markers_and_the_licence(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "autograd_core/py.typed" in names and "nn/py.typed" in names
    licence = [n for n in names if n.endswith("LICENSE")]
    assert licence, names
    text = zipfile.ZipFile(wheel).read(licence[0]).decode()
    assert "MIT License" in text and "Copyright (c) 2026 the autograd_core authors" in text
    assert (ROOT / "LICENSE").read_text() == text


SNIPPET = """\
import autograd_core
import nn
from autograd_core import Value, graph_stats

model = nn.MLP(2, [4, 1])
out = model([1.0, 2.0])
reveal_type(out)
reveal_type(nn.load("weights.json"))
reveal_type(nn.train(model, [[1.0, 2.0]], [1.0], steps=1))
reveal_type(Value(1.0).data)
reveal_type(graph_stats(Value(1.0)))
reveal_type(autograd_core.__version__)
x = Value(0.5)
reveal_type((x * 2 + 1 - x / 3) ** 2)
reveal_type((-x).tanh().exp().relu() + abs(x).sqrt())
"""


def test_mypy_sees_the_types_of_the_installed_packages(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    user = tmp_path / "user"
    user.mkdir()
    (user / "snippet.py").write_text(SNIPPET)

    def mypy():
        # PYTHONPATH puts the unpacked wheel where mypy looks for installed packages
        # (PEP 561: it reads them only with a py.typed marker).
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"]
            + ["--cache-dir", str(tmp_path / "cache"), "snippet.py"],
            cwd=user,
            env={**os.environ, "PYTHONPATH": str(site)},
            capture_output=True,
            text=True,
            timeout=300,
        )

    result = mypy()
    revealed = re.findall(r'Revealed type is "(.*)"', result.stdout)
    assert revealed == [
        "autograd_core.engine.Value | list[autograd_core.engine.Value]",
        "nn.module.Module",
        "nn.train.History",
        "float",
        "autograd_core.graph.GraphStats",
        "str",
        "autograd_core.engine.Value",
        "autograd_core.engine.Value",
    ], result.stdout
    assert "error" not in result.stdout, result.stdout  # --strict: no untyped calls either

    (site / "nn" / "py.typed").unlink()  # without the marker, everything from nn is Any
    result = mypy()
    assert "missing library stubs or py.typed marker" in result.stdout
    assert re.findall(r'Revealed type is "(.*)"', result.stdout)[0] == "Any"


def test_the_two_scripts_install_what_they_need():
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras = set(re.findall(r"^([\w-]+) = ", block, re.M))

    def asked(script):
        return set(re.search(r'^EXTRAS="([\w,-]*)"', script.read_text(), re.M).group(1).split(","))

    assert asked(ROOT / "scripts" / "test.sh") == extras  # the tests use every extra
    assert asked(ROOT / "scripts" / "train.sh") == {"plots", "progress"}  # training only


def test_wheel_ships_every_package_of_the_tree(wheel):
    # Subpackages (autograd_core.program.passes, autograd_core.testing) are not found by
    # a hand-written package list; an installed copy would fail at import without them.
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = sorted(
        str(init.parent.relative_to(ROOT))
        for top in ("autograd_core", "nn")
        for init in (ROOT / top).rglob("__init__.py")
    )
    assert "autograd_core/program/passes" in packages and "autograd_core/testing" in packages
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, missing
