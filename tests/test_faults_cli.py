"""The command line under bad options and faults, run as a user runs it: a subprocess.

Every refusal is one line on stderr, never a traceback: bad options exit 2
(as argparse does), runs that fail exit 1, and both happen before training
when they can be known before training.
"""

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from _unwritable import make_unwritable

from nn import cli_checks

ROOT = Path(__file__).resolve().parents[1]
QUICK = ("--steps", "1", "--no-progress")


def run(*args, cwd, limit_memory=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    return subprocess.run(
        [sys.executable, "-m", "nn", "train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if limit_memory else None,
    )


def assert_one_line_error(result, status, *needles):
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m nn: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--n", "1"], "--n: expected an integer >= 2, got '1'"),
        (["--n", "0"], "--n: expected an integer >= 2"),
        (["--n", "-5"], "--n: expected an integer >= 2"),
        (["--n", "1e8"], "--n: expected an integer >= 2, got '1e8'"),
        (["--n", ""], "--n: expected an integer >= 2"),
        (["--steps", "0"], "--steps: expected a positive integer"),
        (["--batch-size", "-1"], "--batch-size: expected a positive integer"),
        (["--layers", ""], "--layers: expected layer sizes"),
        (["--layers", "16,,1"], "--layers: expected layer sizes"),
        (["--layers", "0,1"], "layer sizes must be positive"),
        (["--lr", "nan"], "--lr: expected 'auto', 'demo'"),
        (["--lr", "-1"], "--lr: expected 'auto', 'demo'"),
        (["--noise", "inf"], "--noise: expected a finite number"),
        (["--tol", "-0.1"], "--tol: expected a finite number"),
        (["--momentum", "1"], "--momentum must be in [0, 1)"),
        (["--seed", "1.5"], "--seed: expected an integer seed"),
        (["--data", "mnist"], "--data"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--out", ""], "--out is empty"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, needle):
    result = run(*args, *QUICK, cwd=tmp_path)
    assert_one_line_error(result, 2, needle)
    assert os.listdir(tmp_path) == []  # nothing written, not even in the current folder


def test_empty_out_writes_nothing_into_the_current_folder(tmp_path):
    result = run("--out", "", *QUICK, cwd=tmp_path)
    assert_one_line_error(result, 2, "--out is empty")
    assert not (tmp_path / "weights.json").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--layers", "100000,100000,1"], ["--layers 100000,100000,1 on 100 points", "TB"]),
        (["--n", "100000000"], ["on 100000000 points", "TB"]),
        (["--n", "3000", "--compiled"], ["with --compiled", "GB"]),
    ],
)
def test_runs_too_big_for_memory_are_refused_up_front(tmp_path, args, needles):
    result = run(*args, *QUICK, "--out", "o", cwd=tmp_path, timeout=60)
    limit = cli_checks.format_bytes(cli_checks.MEMORY_LIMIT)
    assert_one_line_error(result, 2, *needles, f"more than the {limit} limit", "--force")
    assert os.listdir(tmp_path) == []


def test_the_limit_lets_ordinary_runs_through():
    # the demo and a mini-batch run on many points fit comfortably
    demo = cli_checks.estimate_memory(2, [16, 16, 1], 100, None, False)
    assert demo < cli_checks.MEMORY_LIMIT / 100
    assert cli_checks.estimate_memory(2, [16, 16, 1], 10**6, 32, False) < cli_checks.MEMORY_LIMIT
    assert cli_checks.estimate_memory(2, [16, 16, 1], 10**6, None, False) > (
        cli_checks.MEMORY_LIMIT
    )


def test_force_runs_past_the_limit_and_running_out_of_memory_is_one_line(tmp_path):
    # A real MemoryError: the address space is capped at 300 MB and --force lets the
    # 10-billion-parameter model start being built.
    result = run(
        "--layers",
        "100000,100000,1",
        "--force",
        *QUICK,
        "--out",
        "o",
        cwd=tmp_path,
        limit_memory=300 * 1024**2,
    )
    assert_one_line_error(result, 1, "out of memory", "--batch-size")
    assert (tmp_path / "o").is_dir()  # it got past the checks: the folder was made
    assert result.stdout == ""  # and died building the model, before training


@pytest.fixture
def locked(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    undo = make_unwritable(folder)
    yield folder
    undo()


def test_an_unwritable_out_folder_is_found_before_training(tmp_path, locked):
    result = run("--steps", "100000", "--no-progress", "--out", str(locked), cwd=tmp_path)
    assert_one_line_error(result, 1, "cannot write into the --out folder", str(locked))
    assert "final loss" not in result.stdout and result.stdout == ""
    assert os.listdir(locked) == []


def test_an_out_folder_that_cannot_be_made_is_found_before_training(tmp_path, locked):
    target = locked / "run1"
    result = run("--steps", "100000", "--no-progress", "--out", str(target), cwd=tmp_path)
    assert_one_line_error(result, 1, "cannot create the --out folder", str(target))
    assert result.stdout == ""


def test_a_folder_in_the_place_of_an_output_is_found_before_training(tmp_path):
    (tmp_path / "o" / "loss.png").mkdir(parents=True)
    result = run("--steps", "100000", "--no-progress", "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, 1, "loss.png", "a folder of that name is in the way")
    assert result.stdout == ""
    assert sorted(os.listdir(tmp_path / "o")) == ["loss.png"]


def test_an_out_that_is_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "o").write_text("keep me")
    result = run(*QUICK, "--out", "o", cwd=tmp_path)
    assert_one_line_error(result, 2, "exists and is not a folder")
    assert (tmp_path / "o").read_text() == "keep me"


def test_nan_training_is_one_line_with_exit_1(tmp_path):
    # A learning rate this large sends the loss to inf/nan within a few steps.
    result = run(
        "--steps",
        "200",
        "--lr",
        "1e30",
        "--activation",
        "linear",
        "--no-progress",
        "--out",
        "o",
        cwd=tmp_path,
    )
    assert_one_line_error(result, 1)
    assert "at step" in result.stderr or "OverflowError" in result.stderr
