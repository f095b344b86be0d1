#!/usr/bin/env bash
# Sparse sharing on your own tasks from CoNLL-style column files (TASKS: prepare-data.py task specs).
# bash run_columns.sh MODE [ARG]; the budget and paths come from environment variables: bash run_columns.sh help.
exec bash "$(dirname "$0")/utils/pipeline/run.sh" columns "$@"
