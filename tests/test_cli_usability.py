"""The command line as a newcomer meets it, run as a subprocess: hints, extras, predict, --out.

- an unknown option is answered with the nearest known one (`--epochs`: `--steps`);
- an option whose extra is missing says which extra in one line, exit status 2;
- `predict` prints the class of a classifier (scores on request), takes negative
  numbers without `--`, and calls a file that is not JSON so;
- errors are sentences, without exception class names;
- every output is checked before training, and `--out` is left describing one run:
  a manifest lists the files written, and files an earlier run listed and this
  one did not write are removed (never any other file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nn import MLP

ROOT = Path(__file__).resolve().parents[1]
QUICK = ("--steps", "1", "--no-progress")


def run(*args: str, cwd: Path, block: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`python -m nn ARGS`; `block` names modules made unimportable, as if not installed."""
    code = (
        "import sys, runpy\n"
        f"for name in {list(block)!r}: sys.modules[name] = None\n"
        "sys.argv = ['__main__.py', *sys.argv[1:]]\n"
        "runpy.run_module('nn', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m nn: error: "), lines[0]
    assert "Traceback" not in result.stderr and "Error: " not in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------
# Hints and extras.


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("--epochs", "--steps"),
        ("--dataset", "--data"),
        ("--stepz", "--steps"),
        ("--lr-rate", "--lr"),
    ],
)
def test_unknown_options_get_a_did_you_mean(tmp_path: Path, typed: str, meant: str) -> None:
    line = one_line_error(run("train", typed, "3", cwd=tmp_path), 2)
    assert f"did you mean {meant}?" in line
    assert os.listdir(tmp_path) == []


def test_an_option_nothing_resembles_gets_no_guess(tmp_path: Path) -> None:
    line = one_line_error(run("train", "--zzzzzz", cwd=tmp_path), 2)
    assert "unrecognized arguments: --zzzzzz" in line and "did you mean" not in line


@pytest.mark.parametrize(
    "args, block, needle",
    [
        (
            ("--batched",),
            ("numpy",),
            "--batched needs the NumPy package, which is not installed: "
            "pip install 'autograd-core[batched]'",
        ),
        (
            ("--data", "digits"),
            ("sklearn",),
            "--data digits needs the scikit-learn package, which is not "
            "installed: pip install 'autograd-core[digits]'",
        ),
        (
            ("--onnx",),
            ("onnx",),
            "--onnx needs the onnx package, which is not installed: "
            "pip install 'autograd-core[onnx]'",
        ),
    ],
)
def test_an_option_whose_extra_is_missing_says_which_and_exits_2(
    tmp_path: Path, args: tuple[str, ...], block: tuple[str, ...], needle: str
) -> None:
    line = one_line_error(run("train", *args, *QUICK, "--out", "o", cwd=tmp_path, block=block), 2)
    assert needle in line
    assert os.listdir(tmp_path) == []  # refused before anything was made


def test_help_says_which_options_need_an_extra(tmp_path: Path) -> None:
    text = " ".join(run("train", "--help", cwd=tmp_path).stdout.split())
    assert "needs the batched extra" in text
    assert "needs the onnx extra" in text
    assert "digits needs the digits extra" in text


def test_a_test_fraction_that_leaves_no_training_data_exits_2(tmp_path: Path) -> None:
    line = one_line_error(run("train", "--test-fraction", "0.999", *QUICK, cwd=tmp_path), 2)
    assert "--test-fraction 0.999 of 100 examples" in line and "leaves 0 for training" in line


# ---------------------------------------------------------------------------
# predict.


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by `train` on the demo data: weights.json and its manifest."""
    folder = tmp_path_factory.mktemp("run")
    result = run("train", "--steps", "30", "--no-progress", "--out", "o", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "o"


def test_predict_prints_the_class_of_a_classifier(trained: Path) -> None:
    from nn import load

    model = load(trained / "weights.json")
    for point in ([1.0, -0.5], [-1.0, 0.8], [0.5, -1e-3]):
        score = model(point).data
        result = run("predict", "--weights", "weights.json", *map(repr, point), cwd=trained)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"class {int(score > 0)}\n"  # hinge: the sign of the score
        with_scores = run(
            "predict", "--weights", "weights.json", "--scores", *map(repr, point), cwd=trained
        )
        assert with_scores.stdout == f"class {int(score > 0)}  scores {score!r}\n"


def test_predict_takes_negative_numbers_without_double_dash(trained: Path) -> None:
    result = run("predict", "--weights", "weights.json", "0.5", "-1e-3", cwd=trained)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("class ")
    result = run("predict", "--weights", "weights.json", "-.5", "-2", cwd=trained)
    assert result.returncode == 0, result.stderr


def test_predict_without_a_manifest_prints_the_outputs_and_says_why(tmp_path: Path) -> None:
    model = MLP(2, [3, 2], seed=1)
    model.save(tmp_path / "w.json")
    result = run("predict", "--weights", "w.json", "1", "-2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [float(t) for t in result.stdout.split()] == [v.data for v in model([1.0, -2.0])]
    assert "--loss" in result.stderr
    told = run("predict", "--weights", "w.json", "--loss", "softmax-ce", "1", "-2", cwd=tmp_path)
    scores = [v.data for v in model([1.0, -2.0])]
    assert told.stdout == f"class {scores.index(max(scores))}\n"


def test_a_png_given_as_weights_is_called_not_json(trained: Path) -> None:
    line = one_line_error(run("predict", "--weights", "loss.png", "1", "2", cwd=trained), 1)
    assert "loss.png is not a JSON weights file (it is a PNG image)" in line
    assert "damaged" not in line


def test_file_errors_read_as_sentences(tmp_path: Path) -> None:
    line = one_line_error(run("predict", "--weights", "missing.json", "1", "2", cwd=tmp_path), 1)
    assert "missing.json" in line and "OSError" not in line and "[Errno" not in line


# ---------------------------------------------------------------------------
# --out: checked before training, consistent after.


@pytest.mark.parametrize("option, name", [("--onnx", "model.onnx"), ("--html", "explorer.html")])
def test_optional_outputs_are_checked_before_training(
    tmp_path: Path, option: str, name: str
) -> None:
    (tmp_path / "o" / name).mkdir(parents=True)
    result = run("train", option, "--steps", "100000", "--no-progress", "--out", "o", cwd=tmp_path)
    line = one_line_error(result, 1)
    assert name in line and "a folder of that name is in the way" in line
    assert result.stdout == ""  # no training
    assert sorted(os.listdir(tmp_path / "o")) == [name]


def test_a_fifo_where_an_output_goes_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    os.mkfifo(tmp_path / "o" / "network.svg")
    result = run("train", "--steps", "100000", "--no-progress", "--out", "o", cwd=tmp_path)
    assert "not a regular file" in one_line_error(result, 1)
    assert result.stdout == ""


def test_the_run_writes_a_manifest_of_its_files(tmp_path: Path) -> None:
    result = run("train", *QUICK, "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["files"] == sorted(
        ["weights.json", "loss.png", "decision_boundary.png", "network.svg"]
    )
    assert manifest["task"] == {"data": "moons", "loss": "hinge", "nin": 2, "nout": 1}
    assert sorted(os.listdir(tmp_path / "o")) == sorted([*manifest["files"], "manifest.json"])


def test_files_of_an_earlier_run_are_removed_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    # An earlier run wrote a model.onnx and explorer.html that this run will not write...
    for name in ("model.onnx", "explorer.html", "notes.txt", "keep.png"):
        (out / name).write_text("earlier")
    earlier = {"files": ["model.onnx", "explorer.html", "notes.txt", "../outside.txt"]}
    (out / "manifest.json").write_text(json.dumps(earlier))
    (tmp_path / "outside.txt").write_text("mine")
    result = run("train", *QUICK, "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "removed files of an earlier run" in result.stdout
    left = set(os.listdir(out))
    assert "model.onnx" not in left and "explorer.html" not in left
    # ...but a name the command never writes is not its to remove, even if listed,
    assert (out / "notes.txt").read_text() == "earlier"
    assert (tmp_path / "outside.txt").read_text() == "mine"
    # and a file no manifest lists is the user's.
    assert (out / "keep.png").read_text() == "earlier"


def test_without_an_earlier_manifest_no_file_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "model.onnx").write_text("the user's own")
    result = run("train", *QUICK, "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "model.onnx").read_text() == "the user's own"


def test_a_listed_output_that_is_a_link_is_not_followed_or_removed(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (tmp_path / "precious.onnx").write_text("precious")
    (out / "model.onnx").symlink_to(tmp_path / "precious.onnx")
    (out / "manifest.json").write_text(json.dumps({"files": ["model.onnx"]}))
    assert run("train", *QUICK, "--out", "o", cwd=tmp_path).returncode == 0
    assert (tmp_path / "precious.onnx").read_text() == "precious"
    assert (out / "model.onnx").is_symlink()


@pytest.mark.parametrize(
    "train_args, split",
    [
        (("--loss", "bce"), 0.5),  # probabilities: split at one half
        (("--loss", "bce-logits"), 0.0),  # logits: split at zero
    ],
)
def test_predict_splits_where_the_training_loss_says(
    tmp_path: Path, train_args: tuple[str, ...], split: float
) -> None:
    from nn import load

    result = run("train", *train_args, "--steps", "20", "--no-progress", "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = load(tmp_path / "o" / "weights.json")
    classes = set()
    for point in ([1.0, -0.5], [-1.0, 0.8], [0.0, 0.25], [2.0, 0.5]):
        score = model(point).data
        shown = run("predict", "--weights", "o/weights.json", *map(repr, point), cwd=tmp_path)
        assert shown.stdout == f"class {int(score > split)}\n", (point, score)
        classes.add(shown.stdout)
    assert len(classes) == 2  # both sides of the split were seen
