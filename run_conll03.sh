#!/usr/bin/env bash
# Sparse sharing on CoNLL-2003 (POS, chunking, NER on the same sentences): bash run_conll03.sh MODE.
# Every mode reads its budget and paths from the environment; `bash run_conll03.sh help` lists them.
set -euo pipefail
cd "$(dirname "$0")"
SETTING=conll03
TASK_IDS=(0 1 2)            # 0 = pos, 1 = chunk, 2 = ner
DATA_DIR=${DATA_DIR:-data/conll03}                     # train.txt dev.txt test.txt
EMBEDDING=${EMBEDDING-data/glove.6B.100d.txt}          # the paper's vectors; set EMBEDDING= for random ones
DATA_HELP="  DATA_DIR=$DATA_DIR: CoNLL-2003 English train.txt dev.txt test.txt (columns: word POS chunk NER; IOB1 or BIO)
    (https://www.clips.uantwerpen.be/conll2003/ner/: its scripts build the files from the Reuters corpus, RCV1)"

prepare_data() {
  need_files DATA_DIR "$DATA_DIR" "CoNLL-2003's train.txt dev.txt test.txt" train.txt dev.txt test.txt
  embedding_flags
  run_child "$PYTHON" prepare-data.py --type conll03 --dir "$DATA_DIR" --out "$PROCESSED" "${EMB[@]}" "${PREPARE_FLAGS[@]}"
}

source utils/pipeline.sh
main "$@"
