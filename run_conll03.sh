#!/usr/bin/env bash
# Sparse sharing on CoNLL-2003 (POS, chunking, NER on the same sentences).
# bash run_conll03.sh MODE [ARG]; the budget and paths come from environment variables: bash run_conll03.sh help.
exec bash "$(dirname "$0")/utils/pipeline/run.sh" conll03 "$@"
