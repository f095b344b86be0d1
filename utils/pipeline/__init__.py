"""The pipeline behind run_<setting>.sh: its variables (variables), the data settings (settings), the experiment
graph of every mode (plan), what makes two jobs the same (identity), and running a plan (executor);
`python -m utils.pipeline SETTING MODE` is the entry point, and run_<setting>.sh a few lines that call it."""
