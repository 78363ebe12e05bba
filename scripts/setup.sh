#!/usr/bin/env bash
# Set-up shared by scripts/train.sh and scripts/test.sh: a virtual environment
# in .venv with the project and its extras, and Graphviz's `dot` program.
# Idempotent: a second run only checks. Source it; it sets $PY.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

if ! command -v python3 >/dev/null 2>&1; then
  echo "setup: python3 is not on PATH; install Python 3.10 or newer first." >&2
  exit 1
fi
python3 - <<'PYCHECK' || { echo "setup: Python 3.10 or newer is needed (found $(python3 --version 2>&1))." >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYCHECK

# Graphviz's `dot` renders the SVG graphs; pip cannot install it.
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Graphviz with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  else
    echo "setup: Graphviz's 'dot' is missing: install it (sudo apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/) and run this again." >&2
    exit 1
  fi
fi

# --- Browser tests (tests/test_explore.py): headless Chromium and chromedriver.
# Only for the tests (scripts/test.sh sets SETUP_BROWSER=1); without them those tests
# are skipped. Installed with apt-get only when missing and only as root.
if [ "${SETUP_BROWSER:-0}" = "1" ] && ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Chromium and chromedriver with apt-get (for the browser tests)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: note: Chromium or chromedriver is missing, so the browser tests will be skipped; install them with: sudo apt-get install chromium chromium-driver" >&2
  fi
fi
# --- end of the browser tests' block

# The virtual environment, re-installed when pyproject.toml changes.
STAMP="$VENV/.installed-from"
WANT="$(cat "$ROOT/pyproject.toml" | cksum)"
if [ ! -x "$PY" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "setup: creating $VENV and installing the project (a few minutes the first time)" >&2
  python3 -m venv "$VENV"
  LOG="$VENV/pip-install.log"
  if ! { "$PY" -m pip install --upgrade pip && "$PY" -m pip install -e "$ROOT[test,notebooks,plots,progress,browser,onnx]"; } >"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    echo "setup: pip install failed; the full log is in $LOG" >&2
    exit 1
  fi
  # The notebooks run on a kernel that must be this environment's Python.
  "$PY" -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$WANT" > "$STAMP"
fi
export PY
