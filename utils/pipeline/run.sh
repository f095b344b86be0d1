#!/usr/bin/env bash
# The run scripts' launcher: bash utils/pipeline/run.sh SETTING MODE [ARG...] runs `python -m utils.pipeline` from
# the repository root with the project's Python: $PYTHON, else the first python (or python3) on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PYTHON:-}" ]; then
  if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 ||
  { echo "error: PYTHON=$PYTHON: no such command; set PYTHON to the project's Python (e.g. PYTHON=.venv/bin/python)" >&2; exit 2; }
exec "$PYTHON" -m utils.pipeline "$@"
