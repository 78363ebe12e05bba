#!/usr/bin/env bash
# Set-up shared by scripts/train.sh and scripts/test.sh: a virtual environment
# in .venv with the project and the extras in $EXTRAS (set by the caller), and
# Graphviz's `dot` program. Idempotent: a second run only checks; a run that
# needs extras not installed yet adds them. Source it; it sets $PY.
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

# The virtual environment, re-installed when pyproject.toml changes or an extra is missing.
EXTRAS="${EXTRAS:?setup.sh: set EXTRAS (comma-separated extras) before sourcing}"
STAMP="$VENV/.installed-from"
WANT="$(cksum < "$ROOT/pyproject.toml")"
HAVE_SUM="" HAVE_EXTRAS=""
if [ -f "$STAMP" ]; then
  HAVE_SUM="$(sed -n 1p "$STAMP")"
  HAVE_EXTRAS="$(sed -n 2p "$STAMP")"
fi
NEED=0
[ -x "$PY" ] || NEED=1
[ "$HAVE_SUM" = "$WANT" ] || { NEED=1; HAVE_EXTRAS=""; }
for extra in ${EXTRAS//,/ }; do
  case ",$HAVE_EXTRAS," in *",$extra,"*) ;; *) NEED=1 ;; esac
done
if [ "$NEED" = 1 ]; then
  # Keep what is installed: the union of the extras asked for now and before.
  ALL="$(printf '%s\n' ${EXTRAS//,/ } ${HAVE_EXTRAS//,/ } | sort -u | paste -sd, -)"
  echo "setup: installing the project with [$ALL] into $VENV (a few minutes the first time)" >&2
  [ -x "$PY" ] || python3 -m venv "$VENV"
  LOG="$VENV/pip-install.log"
  if ! { "$PY" -m pip install --upgrade pip && "$PY" -m pip install -e "$ROOT[$ALL]"; } >"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    echo "setup: pip install failed; the full log is in $LOG" >&2
    exit 1
  fi
  case ",$ALL," in
    *",notebooks,"*)
      # The notebooks run on a kernel that must be this environment's Python.
      "$PY" -m ipykernel install --sys-prefix --name python3 >/dev/null ;;
  esac
  printf '%s\n%s\n' "$WANT" "$ALL" > "$STAMP"
fi
export PY
