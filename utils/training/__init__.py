"""Training and evaluating subnets: a subnet's optimiser, masked gradient step and dev/test scores (task), the one
training loop (joint: Step 3's subnets trained jointly, and Step 1's single task as a joint run of that one task)
with the task order of each step (sampling), the task metrics (metrics), one record per epoch in metrics.jsonl
(metricslog), and data-parallel runs under torchrun (distributed)."""
