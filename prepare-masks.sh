#!/usr/bin/env bash
# Step 2: pick one Step 1 subnet per task and gather the masks and the rewind point for Step 3.
#   bash prepare-masks.sh <setting> [auto | ROUND_T0 ROUND_T1 ROUND_T2 ...]
# auto (default): per task the best dev round, the sparsest among equals. Round numbers: those rounds
# (the original's MASK_LIST). Reads $EXP_DIR/single/cp/<task_id>/, writes $EXP_DIR/mtl/mask/ (EXP_DIR defaults to
# exp/<setting>; SINGLE_DIR and MASK_DIR override the two folders). A different choice already in the masks folder
# is an error unless OVERWRITE=1. PYTHON: the project's Python (default: python, else python3).
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit $(( $# < 1 ))
fi
SETTING=$1; shift
EXP_DIR=${EXP_DIR:-exp/$SETTING}
SINGLE_DIR=${SINGLE_DIR:-$EXP_DIR/single/cp}
MASK_DIR=${MASK_DIR:-$EXP_DIR/mtl/mask}
ROUNDS=()
FLAGS=()
[ "${OVERWRITE:-}" = 1 ] && FLAGS=(--overwrite)
if [ $# -gt 0 ] && [ "$1" != "auto" ]; then
  ROUNDS=(--rounds "$@")
fi
if [ -z "${PYTHON:-}" ]; then
  if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
exec "$PYTHON" -m utils.selection --single_dir "$SINGLE_DIR" --out_dir "$MASK_DIR" "${ROUNDS[@]}" "${FLAGS[@]}"
