#!/usr/bin/env bash
# Step 2: pick one Step 1 subnet per task and gather the masks and the rewind point for Step 3.
#   bash prepare-masks.sh <setting> [auto | ROUND_T0 ROUND_T1 ROUND_T2 ... | R0,R1,R2]
# auto (default): per task the best dev round, the sparsest among equals. Round numbers: those rounds (the original's
# MASK_LIST). Reads the Step 1 of run $NAME in $EXP_DIR (default: the newest run of exp/<setting>), writes its masks/;
# SINGLE_DIR and MASK_DIR name the two folders instead. A different choice already there needs OVERWRITE=1.
# The same as `bash run_<setting>.sh masks ...`; PYTHON: the project's Python (default: python, else python3).
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit $(( $# < 1 ))
fi
exec bash "$(dirname "$0")/utils/pipeline/run.sh" "$1" masks "${@:2}"
