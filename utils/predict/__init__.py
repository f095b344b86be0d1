"""Tagging new text with a finished run (predict.py): the run's model and subnets, from its folder or its export
file (tagger), the input readers (inputs), the output formats (output) and the scores against gold columns
(scoring)."""
