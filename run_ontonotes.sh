#!/usr/bin/env bash
# Sparse sharing on OntoNotes 5.0 (English, CoNLL-2012 format): POS, chunking (from the parse bits) and NER on the
# same sentences. bash run_ontonotes.sh MODE; every mode reads its budget and paths from the environment
# (`bash run_ontonotes.sh help`). Negative transfer is a CoNLL-2003 experiment only (run_conll03.sh negative).
set -euo pipefail
cd "$(dirname "$0")"
SETTING=ontonotes
TASK_IDS=(0 1 2)            # 0 = pos, 1 = chunk, 2 = ner
# A folder holding train/, development/ and test/ with *.gold_conll files below them, e.g. the data/ folder of
# conll-formatted-ontonotes-5.0 after skeleton2conll (then only each split's data/english/ is read).
ONTONOTES_DIR=${ONTONOTES_DIR:-data/ontonotes}
EMBEDDING=${EMBEDDING-data/glove.6B.100d.txt}          # the paper's vectors; set EMBEDDING= for random ones
ONTONOTES_SPLITS=(train development test)
DATA_HELP="  ONTONOTES_DIR=$ONTONOTES_DIR: CoNLL-2012 files: train/ development/ test/ with *.gold_conll below them
    (OntoNotes 5.0, LDC2013T19, through github.com/ontonotes/conll-formatted-ontonotes-5.0 and skeleton2conll.sh)"

# english_view DIR: DIR itself, or, for the CoNLL-2012 release layout (<split>/data/english/annotations/...,
# beside arabic/ and chinese/), a temporary folder of links <split> -> DIR/<split>/data/english.
english_view() {
  local dir=$1 view split
  [ -d "$dir/train/data/english" ] || { echo "$dir"; return; }
  view=$(mktemp -d)
  for split in "${ONTONOTES_SPLITS[@]}"; do
    [ -d "$dir/$split/data/english" ] && ln -s "$(cd "$dir/$split/data/english" && pwd)" "$view/$split"
  done
  echo "$view"
}

prepare_data() {
  local view
  [ -d "$ONTONOTES_DIR" ] || fail 1 "ONTONOTES_DIR=$ONTONOTES_DIR is not a folder: set ONTONOTES_DIR to a CoNLL-2012" \
    "folder with train/ development/ test/ (bash run_ontonotes.sh help says how to build one)"
  embedding_flags
  view=$(english_view "$ONTONOTES_DIR")
  [ "$view" = "$ONTONOTES_DIR" ] || trap "rm -rf -- $(printf %q "$view")" EXIT
  run_child "$PYTHON" prepare-data.py --type ontonotes --dir "$view" --out "$PROCESSED" "${EMB[@]}" "${PREPARE_FLAGS[@]}"
}

source utils/pipeline.sh
main "$@"
