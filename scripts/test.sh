#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): set up if needed, then the checks
# (ruff check, ruff format --check, mypy) and pytest, notebooks and the documentation
# build (tests/test_docs.py: mkdocs build --strict) included. Every step runs even when
# an earlier one fails; the exit status is non-zero if any failed.
# Extra arguments go to pytest. CHECKS=0 skips ruff and mypy (a quicker re-run of tests).
set -euo pipefail
export SETUP_BROWSER=1  # setup.sh also installs Chromium for the browser tests
# Every optional extra in pyproject.toml: the tests use them all.
EXTRAS="test,testing,notebooks,plots,progress,bench,dev,docs,browser,onnx,batched,digits"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
failed=()
if [ "${CHECKS:-1}" != "0" ]; then
  echo "== ruff check" >&2
  "$PY" -m ruff check . || failed+=("ruff check")
  echo "== ruff format --check" >&2
  "$PY" -m ruff format --check . || failed+=("ruff format --check")
  echo "== mypy autograd_core nn" >&2
  "$PY" -m mypy autograd_core nn || failed+=("mypy")
fi
echo "== pytest" >&2
status=0
"$PY" -m pytest -q -n 2 "$@" || status=$?
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test.sh: failed: ${failed[*]} (see above)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
