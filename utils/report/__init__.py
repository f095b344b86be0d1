"""report.py's package: the paper's tables and figures from one named run of a runs folder (utils.runs.layout).
Modules, each importing only those before it: files (reading JSON with one-line errors, atomic writes), tables
(rows and tables as data, Markdown and CSV), paper (the paper's numbers), read (the files of a run's stage
folders), runs (which run, its data setting, its training folders, the commands to suggest), collect (one run's
rows and tables), layers (the masks per tensor part and per layer), figures (kept_vs_dev.png,
learning_curves.png), heatmap (mask_overlap.png), write (one run's report), seeds (the report
over seeds), finders (the finder table over named runs), compare (the closing table of run_<setting>.sh all)."""
