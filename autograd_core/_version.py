"""The version of `autograd_core` and `nn`, in one place.

pyproject.toml reads it (setuptools `dynamic` version) and both packages
import it, so an installed wheel, an editable install and a plain source
checkout on `sys.path` all report the same number without asking package
metadata at import time.
"""

__version__ = "0.1.0"
