#!/usr/bin/env bash
# Sparse sharing on your own tasks, read from CoNLL-style column files: bash run_columns.sh MODE.
# TASKS holds prepare-data.py --type columns task specs (NAME:COLUMN:SCHEME[:train=F,test=F,dev=F]), separated by
# spaces; the task list of the other modes is the processed data's. `bash run_columns.sh help` lists the variables.
set -euo pipefail
cd "$(dirname "$0")"
SETTING=columns
TASK_IDS=()                 # the tasks of $PROCESSED/meta.json, in the order of TASKS
TASKS=${TASKS:-}            # e.g. "chunk:2:bio:train=data/conll2000/train.txt,test=data/conll2000/test.txt ner:3:bioes"
TRAIN=${TRAIN:-}            # the files of the tasks in TASKS without their own (TEST too; DEV optional)
DEV=${DEV:-}
TEST=${TEST:-}
WORD_COLUMN=${WORD_COLUMN:-0}
DEV_FRACTION=${DEV_FRACTION:-0.1}                      # of train, held out as dev for a task without a dev file
EMBEDDING=${EMBEDDING-data/glove.6B.100d.txt}          # set EMBEDDING= for random vectors
DATA_HELP="  TASKS=\"${TASKS:-NAME:COLUMN:SCHEME[:train=FILE,test=FILE[,dev=FILE]] ...}\": two or more tasks, separated by
    spaces; SCHEME iob1, bio (span F1 over BIO), bioes (span F1 over BIOES) or plain (accuracy); COLUMN 0-based
  TRAIN=${TRAIN:-(none)} DEV=${DEV:-(none)} TEST=${TEST:-(none)}: files of the tasks without their own
  WORD_COLUMN=$WORD_COLUMN DEV_FRACTION=$DEV_FRACTION: the words' column; share of train held out as dev (no dev file)
  (python prepare-data.py -h documents the task specs; set PROCESSED and EXP_DIR to keep several settings apart)"

prepare_data() {
  local specs=() spec flags=()
  read -ra specs <<< "$TASKS"
  [ "${#specs[@]}" -ge 2 ] || fail 2 "TASKS='$TASKS': give two or more task specs NAME:COLUMN:SCHEME[:FILES]," \
    "e.g. TASKS=\"chunk:2:bio:train=data/conll2000/train.txt,test=data/conll2000/test.txt ner:3:bioes:train=...\""
  for spec in "${specs[@]}"; do flags+=(--task "$spec"); done
  [ -n "$TRAIN" ] && flags+=(--train "$TRAIN")
  [ -n "$DEV" ] && flags+=(--dev "$DEV")
  [ -n "$TEST" ] && flags+=(--test "$TEST")
  embedding_flags
  run_child "$PYTHON" prepare-data.py --type columns "${flags[@]}" --word_column "$WORD_COLUMN" \
    --dev_fraction "$DEV_FRACTION" --out "$PROCESSED" "${EMB[@]}" "${PREPARE_FLAGS[@]}"
}

source utils/pipeline.sh
main "$@"
