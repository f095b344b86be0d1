"""Training and evaluating subnets: one task's subnet (task: optimiser, LR schedule, masked steps, dev/test
scores), all subnets jointly (joint, Step 3) with the task order of each step (sampling), the task metrics
(metrics), one record per epoch in metrics.jsonl (metricslog), and data-parallel runs under torchrun
(distributed)."""
