"""A finished run in one file (export.py): the masks bit-packed (bits), the data snapshot as plain values (data),
the file itself, written and read back with every check (archive), and the run rebuilt from it alone (rebuild)."""
