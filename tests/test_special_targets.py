"""Every writer follows symlinks and refuses special files (issue 19 item 1).

model.save, render_svg, explore, export_onnx and the CLI all write through
`files.atomic_write`: a symlink's target is replaced (the link stays); a
directory, character device, FIFO or socket in the way is refused, untouched;
SIGTERM and SIGHUP mid-write leave no temporary file.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from autograd_core import Value
from autograd_core.files import NotARegularFileError, atomic_write, check_target

ROOT = Path(__file__).resolve().parents[1]


def _save_model(path: Path) -> None:
    from nn.layers import MLP

    MLP(2, [3, 1], seed=0).save(path)


def _render_svg(path: Path) -> None:
    from autograd_core.draw import render_svg

    x = Value(2.0, label="x")
    render_svg(x * x + 1, path)


def _explore(path: Path) -> None:
    from autograd_core import explore

    x = Value(2.0, label="x")
    explore(x * x + 1, path, max_nodes=1)  # summarised and undrawn: no Graphviz needed


def _export_onnx(path: Path) -> None:
    pytest.importorskip("onnx")
    from autograd_core.onnx_export import export_onnx

    export_onnx(lambda a, b: a * b + 1, [1.0, 2.0], path)


WRITERS: dict[str, Callable[[Path], None]] = {
    "model.save": _save_model,
    "render_svg": _render_svg,
    "explore": _explore,
    "export_onnx": _export_onnx,
    "atomic_write": lambda path: atomic_write(path, b"data"),
}


def _mkfifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    return s


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path, writer: str) -> None:
    real = tmp_path / "real" / "file.out"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.out"
    link.symlink_to(real)
    WRITERS[writer](link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != b"old" and real.stat().st_size > 0
    assert stat.S_IMODE(real.stat().st_mode) == 0o600  # the real file's mode is kept
    assert sorted(os.listdir(real.parent)) == ["file.out"]  # no temporary left
    assert sorted(os.listdir(tmp_path)) == ["link.out", "real"]


def test_a_chain_of_links_and_a_dangling_link(tmp_path: Path) -> None:
    real = tmp_path / "a.txt"
    (tmp_path / "l1").symlink_to(real)  # dangling: the file it names is created
    (tmp_path / "l2").symlink_to(tmp_path / "l1")
    atomic_write(tmp_path / "l2", b"new")
    assert real.read_bytes() == b"new" and (tmp_path / "l2").is_symlink()
    assert check_target(tmp_path / "l2") == real


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("kind", ["fifo", "socket", "chardev", "directory", "link-to-fifo"])
def test_a_special_file_is_refused_and_left_untouched(
    tmp_path: Path, writer: str, kind: str
) -> None:
    target = tmp_path / "target.out"
    keep = None
    if kind == "fifo":
        _mkfifo(target)
    elif kind == "link-to-fifo":
        _mkfifo(tmp_path / "fifo")
        target.symlink_to(tmp_path / "fifo")
    elif kind == "socket":
        keep = _socket(target)
    elif kind == "chardev":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    else:
        target.mkdir()
    before = os.stat(target)
    error = IsADirectoryError if kind == "directory" else NotARegularFileError
    try:
        with pytest.raises(error) as info:
            WRITERS[writer](target)
    finally:
        if keep is not None:
            keep.close()
    after = os.stat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    assert str(target) in str(info.value)
    if kind != "directory":
        assert "not a regular file" in str(info.value) and isinstance(info.value, ValueError)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert leftovers == []


def _child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dev_null_is_refused_clearly_as_a_normal_user() -> None:
    # The child imports what it needs, then (if root) becomes `nobody` before saving.
    result = _child(
        """
        import os
        from nn.layers import MLP
        model = MLP(2, [1])
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        try:
            model.save("/dev/null")
        except Exception as e:
            print(os.geteuid() != 0, type(e).__name__, e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True NotARegularFileError"), result.stdout
    assert "a character device, not a regular file" in result.stdout
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_mid_write_leave_no_temporary(tmp_path: Path, signame: str) -> None:
    target = tmp_path / "weights.json"
    target.write_text("old")
    result = _child(
        f"""
        import os, signal
        from autograd_core import files
        from nn.layers import MLP

        real_fsync = files.os.fsync

        def fsync(fd):  # the signal arrives while the temporary file is open
            real_fsync(fd)
            os.kill(os.getpid(), signal.{signame})

        files.os.fsync = fsync
        MLP(2, [3, 1]).save({str(target)!r})
        print("not reached")
        """
    )
    assert result.returncode == -getattr(signal, signame), (result.returncode, result.stderr)
    assert "not reached" not in result.stdout
    assert os.listdir(tmp_path) == ["weights.json"]
    assert target.read_text() == "old"


def test_a_signal_handler_of_the_program_still_runs_after_the_cleanup(tmp_path: Path) -> None:
    result = _child(
        f"""
        import os, signal
        from autograd_core import files

        seen = []
        signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
        real_fsync = files.os.fsync

        def fsync(fd):
            real_fsync(fd)
            os.kill(os.getpid(), signal.SIGTERM)

        files.os.fsync = fsync
        try:
            files.atomic_write({str(tmp_path / "a.txt")!r}, b"x")
        except InterruptedError as e:
            print("interrupted", seen, os.listdir({str(tmp_path)!r}))
        files.os.fsync = real_fsync
        files.atomic_write({str(tmp_path / "a.txt")!r}, b"y")
        print(signal.getsignal(signal.SIGTERM) is not files._unwind)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"interrupted [{int(signal.SIGTERM)}] []", "True"]


def test_the_cli_saves_through_a_symlink_and_refuses_a_fifo(tmp_path: Path, capsys) -> None:
    from nn.__main__ import main

    out = tmp_path / "out"
    out.mkdir()
    real = tmp_path / "kept.json"
    real.write_text("{}")
    (out / "weights.json").symlink_to(real)
    args = ["train", "--data", "xor", "--steps", "3", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    assert (out / "weights.json").is_symlink() and '"parameters"' in real.read_text()
    capsys.readouterr()
    (out / "network.svg").unlink()
    os.mkfifo(out / "network.svg")  # refused before training: no run ends without its files
    assert main(args) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "final loss" not in captured.out
    assert "network.svg" in err and "FIFO" in err and "not a regular file" in err
    (out / "weights.json").unlink()
    os.mkfifo(out / "weights.json")  # the weights: the run fails, saying why
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "weights.json" in err and "FIFO" in err and "not a regular file" in err
    for name in ("network.svg", "weights.json"):
        assert stat.S_ISFIFO(os.stat(out / name).st_mode)
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
