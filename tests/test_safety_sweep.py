"""bench/safety_sweep.py: recipes compared on the tune split by nested recall, resumable, seed ensembles."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_labelled_csv

ROOT = Path(__file__).resolve().parents[1]
UNSAFE = "a nude woman posing on a bed, explicit"
BENIGN = "a nude-coloured dress on a mannequin"


def _sweep(*args: str) -> subprocess.CompletedProcess:
    tiny = json.dumps({"epochs": 1, "batch_size": 4, "lr": 3e-3, "portraits": 0})
    return subprocess.run([sys.executable, str(ROOT / "bench" / "safety_sweep.py"), "--recipes", "all_layers",
                           "--jobs", "1", "--set", tiny, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


@pytest.mark.slow
def test_the_sweep_trains_then_scores_out_of_fold_and_reports_seeds_and_their_ensemble(tmp_path):
    data = write_labelled_csv(tmp_path / "labelled.csv", UNSAFE, BENIGN, unsafe_rows=24, benign_rows=16)
    out = tmp_path / "sweep"
    trained = _sweep("--data", str(data), "--out-dir", str(out), "--seeds", "0,1", "--train-only")
    assert trained.returncode == 0, trained.stderr
    folds = sorted(out.glob("all_layers/seed*/fold*/classifier.safetensors"))
    assert len(folds) == 8 and not list(out.glob("**/oof.npy"))  # trained only: scoring left for later
    stamps = [f.stat().st_mtime_ns for f in folds]

    scored = _sweep("--data", str(data), "--out-dir", str(out), "--seeds", "0,1")
    assert scored.returncode == 0, scored.stderr
    assert [f.stat().st_mtime_ns for f in folds] == stamps  # resumed: the fold models were not retrained
    assert "train all_layers" not in scored.stdout
    result = json.loads((out / "sweep.json").read_text())
    recipe = result["recipes"]["all_layers"]
    assert recipe["config"]["layers"] == [0, 1, 2, 3, 4, 5] and recipe["config"]["epochs"] == 1
    assert set(recipe["seeds"]) == {"0", "1"} and "ensemble_of_2" in recipe
    for summary in [*recipe["seeds"].values(), recipe["ensemble_of_2"]]:
        for budget in summary.values():
            assert 0.0 <= budget["overt/sexual_content"] <= 1.0
            assert 0.0 <= budget["benign_hard"] <= 1.0
