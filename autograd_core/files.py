"""Writing files atomically, for everything the library saves (SVG, weights, plots).

Separate so that drawing, exploring, ONNX export and `nn` (models, the CLI)
share one implementation: a crash or an error mid-write leaves the old file
whole and no temporary file behind.

What a target may be. A regular file (replaced) or nothing (created). A
symlink is followed: the file it points to is replaced atomically, the link
stays. Anything else that exists there, a directory, a device (`/dev/null`),
a FIFO or a socket, is refused with an error naming it, and left untouched:
renaming a file over it would replace the device or pipe by a regular file.

Signals. SIGINT unwinds as KeyboardInterrupt, which removes the temporary
file. While a write is under way in the main thread, SIGTERM and SIGHUP do
the same: the temporary file is removed, then the signal is delivered again
to the handler that was there before (by default it ends the process).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from autograd_core.errors import type_name

__all__ = ["NotARegularFileError", "atomic_write", "check_target"]

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


class NotARegularFileError(OSError, ValueError):
    """The target exists and is not a regular file (a device, FIFO or socket): not replaced."""


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _real_target(path: Path) -> tuple[Path, int | None]:
    """The file to replace (symlinks followed) and its permission bits (None: a new file).

    Refuses, untouched, a target that exists and is not a regular file.
    """
    real = Path(os.path.realpath(path))
    via = f" (a symlink to {str(real)!r})" if real != path.absolute() else ""
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None  # a new file (or a dangling link: its target is created)
    except OSError as e:
        raise _naming(e, path) from e
    if stat.S_ISREG(st.st_mode):
        return real, stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            errno.EISDIR,
            f"cannot write {str(path)!r}{via}: it is a directory; give a file name inside it",
            str(path),
        )
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
    raise NotARegularFileError(
        errno.EINVAL,
        f"cannot write {str(path)!r}{via}: it is {kind}, not a regular file. Files are saved "
        "by replacing them whole, which would put a regular file in its place; give the path "
        "of a regular file (nothing was written)",
        str(path),
    )


def check_target(path: str | os.PathLike) -> Path:
    """The file `atomic_write(path, ...)` would replace (symlinks followed), or its error.

    For checks before long work (the CLI, before training): raises what
    `atomic_write` would for a directory, device, FIFO or socket there.
    """
    return _real_target(Path(path))[0]


class _Signalled(BaseException):
    """SIGTERM or SIGHUP arrived mid-write: unwinds like KeyboardInterrupt, then re-sent."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _unwind(signum: int, frame: FrameType | None) -> None:
    raise _Signalled(signum)


_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """While the block runs (main thread only), SIGTERM/SIGHUP unwind it, then take effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in _SIGNALS:
        handler = signal.getsignal(sig)
        if handler is None or handler == signal.SIG_IGN:
            continue  # ignored anyway, or set outside Python: leave it be
        previous[sig] = signal.signal(sig, _unwind)
    try:
        yield
    except _Signalled as e:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous = {}
        signal.raise_signal(e.signum)  # the handler from before: by default, the end
        raise InterruptedError(
            errno.EINTR, f"the write was interrupted by signal {e.signum}; nothing was written"
        ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    Either the whole new file is there afterwards or the old one is untouched,
    and the temporary file is removed on any failure (SIGTERM and SIGHUP
    included). Re-writing an existing file keeps its permission bits (a 0600
    file stays 0600); a new file gets 0644 minus the umask. A symlink is
    followed: its target is replaced, the link stays. A directory is an
    IsADirectoryError, a device, FIFO or socket a NotARegularFileError (an
    OSError and a ValueError), each leaving it untouched. An OSError names
    `path`, never the temporary file. Returns `path`.
    """
    path = Path(path)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write() writes bytes, got {type_name(data)}")
    real, mode = _real_target(path)
    with _signals_unwind():
        try:
            fd, tmp = _create_temporary(real)
        except OSError as e:
            raise _naming(e, path) from e
        try:
            with os.fdopen(fd, "wb") as f:
                if mode is not None:
                    os.fchmod(f.fileno(), mode)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, real)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise _naming(e, path) from e
            raise
    return path
