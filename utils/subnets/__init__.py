"""Subnets, the paper's core: binary masks over the encoder's prunable weights applied inside the forward
computation (masks), the kept-fraction schedule and one global magnitude threshold (pruning), Step 1's iterative
magnitude pruning with rewinding (imp), Step 2's choice of one subnet per task (selection), and the encoder
parameter count of the paper's # Params column (params)."""
