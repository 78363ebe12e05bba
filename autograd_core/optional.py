"""Importing optional packages (matplotlib, numpy, tqdm) with an error that says what to install.

`import autograd_core` stays pure Python: packages from the extras in
pyproject.toml are imported only where a feature needs them, always through
`require`, so that a plain `pip install autograd-core` user who asks for a
plot learns which extra brings it instead of reading `No module named ...`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DISTRIBUTION", "MissingOptionalDependency", "require"]

DISTRIBUTION = "autograd-core"


class MissingOptionalDependency(ImportError):
    """An optional package is not installed; the message names the extra that installs it."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import `module` (dotted names allowed) for the feature `what`, or say which extra to install.

    `require("matplotlib.figure", "plots", "loss_curve()")` returns the module,
    or raises `MissingOptionalDependency` (an ImportError) whose message is
    "loss_curve() needs matplotlib, which is not installed: pip install
    'autograd-core[plots]'". Errors raised while importing an installed
    package (a broken install) propagate unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.partition(".")[0]
        if e.name is not None and e.name.partition(".")[0] != top:
            raise  # the package is there but one of *its* dependencies is missing
        raise MissingOptionalDependency(
            f"{what} needs {top}, which is not installed: "
            f"pip install '{DISTRIBUTION}[{extra}]' (or pip install {top})"
        ) from None
