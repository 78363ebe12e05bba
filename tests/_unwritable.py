"""A folder nobody may write into, even root (shared by the file and CLI fault tests)."""

import os
import shutil
import subprocess

import pytest


def make_unwritable(folder):
    """Make `folder` unwritable; returns a function that undoes it.

    chmod is enough for a normal user; root ignores permissions, so for root
    the folder is made immutable with `chattr +i`, which binds root too.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root, and chattr +i is not available to make a folder read-only")
    return lambda: subprocess.run([chattr, "-i", str(folder)], check=True)
