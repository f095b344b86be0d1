"""The golden budget runs: `run_conll03.sh baselines` and `negative` on 40 training sentences of CoNLL-2003 (the
`processed_conll03_small` slices), and every number they write that training computes (results.json's scores,
history and counts; scores.jsonl's rounds), by role, compared bit for bit with tests/golden/budget_runs.json,
recorded at 057cc41 before the pipeline moved to Python. A change that alters results on purpose re-records them
in the same commit and says why:

    python -m tests.golden_runs PROCESSED PROCESSED_PP      # prints the JSON; redirect it to the golden file

(PROCESSED, PROCESSED_PP: prepare-data.py --type conll03 / conll03-pp on the first 300/100/100 sentences of the
shared CoNLL-2003 files with the 50-d GloVe subset, as tests/conftest.py prepares them. The negative-transfer run
uses the CNN-BiLSTM it used when the numbers were recorded: NEGATIVE_MODEL=cnn-lstm.)"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "budget_runs.json"
BUDGET = {"NAME": "gold", "TRAIN_LIMIT": "40", "EVAL_LIMIT": "30", "EPOCHS": "2", "WARMUP_EPOCHS": "1",
          "PRUNING_ITER": "1", "FINAL_RATE": "0.5", "HIDDEN_SIZE": "16", "JOBS": "2", "SEED": "7",
          "OMP_NUM_THREADS": "1", "NEGATIVE_MODEL": "cnn-lstm"}
TASKS, PP_TASKS = ("pos", "chunk", "ner"), ("ner", "pp")


def results(path: str) -> dict:
    """What a joint run computed: scores, parameter count, overlap, selection, counts and per-epoch history."""
    found = json.loads(Path(path).read_text())
    kept = {k: found[k] for k in ("dev_average", "test_average", "params", "overlap", "selected_epoch", "epochs_run",
                                  "sampling_counts", "system") if k in found}
    kept["tasks"] = found["tasks"]
    kept["history"] = [{k: h[k] for k in ("epoch", "dev", "average", "loss")} for h in found["history"]]
    return kept


COST = ("seconds", "steps", "finder")  # a round's cost and finder, recorded since: bookkeeping, not results


def scores(path: str) -> list[dict]:
    """What a Step 1 task computed: every round's record and its per-epoch history, without its cost."""
    rounds = []
    for line in Path(path).read_text().splitlines():
        record = {k: v for k, v in json.loads(line).items() if k not in COST}
        record["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
        rounds.append(record)
    return rounds


def collect(run: layout.Run) -> dict:
    """The numbers of the two budget runs of one named run, by role."""
    base = {"warmup": results(os.path.join(run.warmup, layout.RESULTS))}
    for arm in ("mtw", "nomtw"):
        for task_id, task in enumerate(TASKS):
            base[f"step1/{arm}/{task}"] = scores(os.path.join(run.step1_task(task_id, arm), layout.SCORES))
        base[f"step3/{arm}"] = results(os.path.join(run.step3(arm), layout.RESULTS))
    for kind in layout.BASELINES:
        base[kind] = results(os.path.join(run.baseline(kind), layout.RESULTS))
    negative = run.negative
    neg = {f"step1/nomtw/{task}": scores(os.path.join(negative.step1_task(task_id), layout.SCORES))
           for task_id, task in enumerate(PP_TASKS)}
    neg["step3/nomtw"] = results(os.path.join(negative.step3(), layout.RESULTS))
    neg["hard"] = results(os.path.join(negative.baseline("hard"), layout.RESULTS))
    return {"baselines": base, "negative": neg}


def run_budget(processed: str, processed_pp: str, exp_dir: str) -> None:
    """`baselines` then `negative` on the budget, into exp_dir (a failure raises with the script's stderr)."""
    env = {**os.environ, **BUDGET, "PYTHON": sys.executable, "PROCESSED": processed, "PROCESSED_PP": processed_pp,
           "EXP_DIR": exp_dir}
    for mode in ("baselines", "negative"):
        done = subprocess.run(["bash", "run_conll03.sh", mode], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=900)
        if done.returncode:
            raise RuntimeError(f"run_conll03.sh {mode} failed:\n{done.stderr[-3000:]}")


def differences(got: object, want: object, path: str = "") -> list[str]:
    """Every place where `got` is not exactly `want` (numbers compared bit for bit)."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [f"{path}: keys {sorted(got) if isinstance(got, dict) else got} != {sorted(want)}"]
        return [d for k in want for d in differences(got[k], want[k], f"{path}/{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: {got} != {want}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        run_budget(sys.argv[1], sys.argv[2], folder)
        print(json.dumps(collect(layout.run(folder, BUDGET["NAME"])), indent=1, sort_keys=True))
