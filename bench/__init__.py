"""The benchmarks: bench/bench.py times training, evaluation and the training step against the machine's
arithmetic limit (its modules: workload, arms, rates, parts, timing, results, tables, output, and transformer, the
transformer encoder's arm); bench/learning_per_epoch.py compares how much dense single-task runs learn per epoch.
Outputs go to bench/results/."""
