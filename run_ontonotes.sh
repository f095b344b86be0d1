#!/usr/bin/env bash
# Sparse sharing on OntoNotes 5.0 (English, CoNLL-2012 format): POS, chunks from the parse bits, NER.
# bash run_ontonotes.sh MODE [ARG]; the budget and paths come from environment variables: bash run_ontonotes.sh help.
exec bash "$(dirname "$0")/utils/pipeline/run.sh" ontonotes "$@"
