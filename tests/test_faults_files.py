"""atomic_write under faults: modes kept, errors naming the target, nothing left behind."""

import errno
import os
import stat

import pytest
from _unwritable import make_unwritable

from autograd_core import files
from autograd_core.engine import Value
from autograd_core.files import atomic_write


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("kept", [0o600, 0o640, 0o444, 0o755], ids=oct)
def test_rewriting_a_file_keeps_its_mode(tmp_path, kept):
    target = tmp_path / "weights.json"
    target.write_bytes(b"old")
    target.chmod(kept)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode(target) == kept
    assert os.listdir(tmp_path) == ["weights.json"]


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o644)])
def test_a_new_file_is_0644_minus_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.txt", b"x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.txt") == expected


def test_saving_a_model_over_a_private_file_keeps_it_private(tmp_path):
    from nn import MLP

    target = tmp_path / "weights.json"
    model = MLP(2, [3, 1], seed=0)
    model.save(target)
    target.chmod(0o600)
    model.save(target)
    assert mode(target) == 0o600


def test_rendering_over_a_private_svg_keeps_it_private(tmp_path):
    from autograd_core.draw import render_svg

    target = tmp_path / "g.svg"
    target.write_text("old")
    target.chmod(0o600)
    render_svg(Value(1.0, "x") * 2, target)
    assert mode(target) == 0o600 and target.read_text().lstrip().startswith("<?xml")


def test_an_unwritable_folder_is_reported_with_the_target_path(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"old")
    undo = make_unwritable(folder)
    try:
        with pytest.raises(OSError) as info:
            atomic_write(folder / "a.txt", b"new")
        names = os.listdir(folder)
    finally:
        undo()
    assert info.value.filename == str(folder / "a.txt")
    assert str(folder / "a.txt") in str(info.value)
    assert ".tmp" not in str(info.value)
    assert names == ["a.txt"] and (folder / "a.txt").read_bytes() == b"old"


def test_a_missing_folder_names_the_target(tmp_path):
    target = tmp_path / "no" / "a.txt"
    with pytest.raises(FileNotFoundError) as info:
        atomic_write(target, b"x")
    assert info.value.filename == str(target)


def test_a_directory_in_the_way_names_the_target_and_leaves_nothing(tmp_path):
    target = tmp_path / "out.svg"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        atomic_write(target, b"x")
    assert info.value.filename == str(target)
    assert os.listdir(tmp_path) == ["out.svg"]


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_failure_mid_write_names_the_target_and_removes_the_temporary(
    tmp_path, monkeypatch, where
):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    seen = []

    def broken(*args):
        seen.append(args)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/some/.a.txt.1234.tmp")

    monkeypatch.setattr(files.os, where, broken)
    with pytest.raises(OSError) as info:
        atomic_write(target, b"new")
    assert seen  # the fault really happened where we said
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_an_interrupt_mid_write_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_text_instead_of_bytes_is_a_type_error_and_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="writes bytes, got str"):
        atomic_write(tmp_path / "a.txt", "text")
    assert os.listdir(tmp_path) == []
