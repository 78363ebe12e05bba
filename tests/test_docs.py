"""The documentation site builds with `mkdocs build --strict`, and the README stays a landing page.

Strict mode turns every warning into a failure: a broken link between pages,
a page missing from the navigation, an anchor that does not exist, or an API
reference (`::: module`) that mkdocstrings cannot resolve. The build goes to a
temporary folder, so the checkout is left as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    # the API reference was generated from the docstrings, not left as a bare `::: module`
    api = (site / "api" / "engine" / "index.html").read_text(encoding="utf-8")
    assert "autograd_core.engine.Value" in api and ":::" not in api
    # the notebooks are rendered with their stored outputs
    notebook = site / "notebooks" / "01_gradient_descent_on_a_curve" / "index.html"
    assert notebook.is_file()


def test_readme_is_a_landing_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 10 * 1024
    # it starts with the set-up: the two commands, then activating the environment
    setup = text.index("```bash")
    first_block = text[setup : text.index("```", setup + 3)]
    lines = [line.split("#")[0].strip() for line in first_block.splitlines()[1:]]
    assert lines[:3] == [
        "bash scripts/train.sh",
        "bash scripts/test.sh",
        "source .venv/bin/activate",
    ]
    assert "<host>" not in text and "<owner>" not in text  # no placeholder URLs


def test_readme_links_point_at_files_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), target


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    """A README snippet run as a reader would: a fresh interpreter, this checkout imported."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_readme_first_example_prints_what_it_shows() -> None:
    text = README.read_text(encoding="utf-8")
    code = re.search(r"## A first example\s+```python\n(.*?)```", text, re.S).group(1)
    shown = re.search(r"prints\s+```text\n(.*?)```", text, re.S).group(1)
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def test_pyproject_has_the_metadata_of_a_kept_library() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert project["authors"] and all(a.get("name") for a in project["authors"])
    assert "Typing :: Typed" in project["classifiers"]
    assert len(project["keywords"]) >= 3
    # no invented addresses: URLs only when there is a real public page
    assert "urls" not in project
    assert "docs" in project["optional-dependencies"]


def test_conftest_marks_this_module_slow(request: pytest.FixtureRequest) -> None:
    # tests/conftest.py applies the markers by module: `pytest -m "not slow"` skips this file.
    assert request.node.get_closest_marker("slow") is not None
    assert request.node.get_closest_marker("notebooks") is None
    markers = request.config.getini("markers")
    assert {m.split(":")[0] for m in markers} >= {"slow", "browser", "notebooks"}


def test_every_performance_figure_names_a_bench_command_that_exists() -> None:
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    sections = text.split("\n## ")[1:]
    assert sections
    for section in sections:
        commands = re.findall(r"`python (bench/\w+\.py)`", section)
        assert commands, f"no bench command in: {section.splitlines()[0]}"
        for path in commands:
            assert (ROOT / path).is_file(), path
    assert "commit " not in text  # today's figures, not project history


def test_readme_compiling_example_prints_the_optimized_program_it_shows() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## What compiling does") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"\(real output\):\s+```text\n(.*?)```", section, re.S).group(1)
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    plain, optimized = result.stdout.split("outputs: v24\n", 1)[0], result.stdout
    assert optimized.endswith(shown)
    assert sum(line.startswith("  v") for line in plain.splitlines()) == 25  # as the comment says
