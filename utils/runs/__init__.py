"""Runs folders: where every stage of a run writes (layout), and what a finished run holds."""
