"""Same behaviour: a budget `run_conll03.sh baselines` and `negative` write exactly the numbers recorded in
tests/golden/budget_runs.json (every score, loss, count and round, bit for bit; see tests/golden_runs.py for the
command that re-records them)."""
import json

from tests.golden_runs import GOLDEN, BUDGET, collect, differences, run_budget
from utils.runs import layout


def test_budget_runs_give_the_golden_numbers(processed_conll03_small, processed_conll03_pp_small, tmp_path):
    run_budget(str(processed_conll03_small), str(processed_conll03_pp_small), str(tmp_path / "exp"))
    got = collect(layout.run(str(tmp_path / "exp"), BUDGET["NAME"]))
    assert differences(got, json.loads(GOLDEN.read_text())) == []
