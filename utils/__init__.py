"""The paper's concepts, one package each:

- data: raw corpora (CoNLL, CoNLL-U, OntoNotes, WSJ) into the processed data set; vocabularies, vectors, batches.
- subnets: masks inside the forward computation, global magnitude pruning, Step 1's IMP rounds, Step 2's choice,
  the # Params count.
- training: one task's subnet and all subnets jointly (Step 3), task sampling, metrics, metrics.jsonl, torchrun.
- settings: the hyper-parameter groups that make both training scripts' flags and config.json.
- runs: the runs-folder layout, what a finished run holds, run-folder ownership, resume state, safe checkpoints.
- pipeline: run_<setting>.sh's variables, the experiment graph of every mode and its executor.
- predict: tagging new text with a finished run; report: the paper's tables and figures.
- runtime: what the top-level scripts share (help formatter, data loading, seeding, JSON, one-line errors)."""
import warnings

# fastNLP 0.x imports pkg_resources (hence setuptools<81); its deprecation warning says nothing to our users.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
