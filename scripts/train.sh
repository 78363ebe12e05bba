#!/usr/bin/env bash
# The main job: set up if needed, then train micrograd's demo network on the
# built-in two-moons data, writing weights, plots and the SVG graph to out/.
# Extra arguments go to `python -m nn train` (see --help).
set -euo pipefail
# Training needs only the pictures (matplotlib) and the progress bar (tqdm).
EXTRAS="plots,progress"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec "$PY" -m nn train --out out "$@"
