#!/usr/bin/env bash
# The whole test suite, notebooks included: set up if needed, then pytest.
# Extra arguments go to pytest.
set -euo pipefail
export SETUP_BROWSER=1  # setup.sh also installs Chromium for the browser tests
# Every optional extra in pyproject.toml: the tests use them all.
EXTRAS="test,notebooks,plots,progress,bench,dev,browser,onnx,batched,digits"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec "$PY" -m pytest -q -n 2 "$@"
