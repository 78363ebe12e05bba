"""Writing files atomically, for everything the library saves (SVG, weights, plots).

Separate so that drawing and `nn` share one implementation: a crash or an
error mid-write leaves the old file whole and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from autograd_core.errors import type_name

__all__ = ["atomic_write"]

_NEW_FILE_MODE = 0o644  # minus the umask, as open() would do: our outputs are not secrets


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, empty file beside `path`, open for writing; its mode is 0644 minus the umask.

    Made by hand rather than with `tempfile.mkstemp`, which always makes 0600:
    letting the kernel apply the umask is the only thread-safe way to honour it.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _NEW_FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {str(path)!r}")


def _naming(error: OSError, path: Path) -> OSError:
    """The same kind of OSError, naming the file the caller asked for, not our temporary."""
    if error.errno is None:
        return OSError(f"cannot write {str(path)!r}: {error}")
    return OSError(error.errno, error.strerror, str(path))  # PermissionError, ENOSPC, ...


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    Either the whole new file is there afterwards or the old one is untouched,
    and the temporary file is removed on any failure. Re-writing an existing
    file keeps its permission bits (a 0600 file stays 0600); a new file gets
    0644 minus the umask. An OSError names `path`, never the temporary file.
    """
    path = Path(path)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write() writes bytes, got {type_name(data)}")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None  # a new file (or one we cannot stat: the rename will say why)
    try:
        fd, tmp = _create_temporary(path)
    except OSError as e:
        raise _naming(e, path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, path) from e
        raise
    return path
