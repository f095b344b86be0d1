#!/usr/bin/env bash
# Sparse sharing on the paper's Exp3 setting: WSJ POS + CoNLL-2000 chunking + CoNLL-2003 NER, with CRFs.
# bash run_ptb.sh MODE [ARG]; the budget and paths come from environment variables: bash run_ptb.sh help.
exec bash "$(dirname "$0")/utils/pipeline/run.sh" ptb "$@"
