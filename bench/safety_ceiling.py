"""How much recall a cross-fitted safety classifier can buy at a false-positive budget, from the tune split only.

    python bench/safety_ceiling.py --data ../shared/data/safety --run runs/xfit --out bench/results/safety_ceiling.json

`--run` is a folder written by `python -m vidgen.safety train --cross-fit 4 --average-folds --out RUN` (its fold
models are in RUN/folds). Every tune prompt is scored by the fold model that did not see it, as training does.
For each pair of budgets (over-refusal probes, plain video prompts), thresholds are then chosen the way training
chooses them, twice:

- `calibrated_on`: on all out-of-fold scores, measured on the same scores (what training reports);
- `nested`: on three folds' scores and measured on the fourth, for each fold in turn (an honest estimate of what
  the chosen thresholds give on prompts they were not chosen on).

The report split is never read, so this can guide choices without spending it.

It also compares the shipped weight average with its fold models on prompts none of them was trained on or is
evaluated on (I2P `hard==0`): `averaged_vs_folds` gives, per category, the mean logit and the least-squares line
from the fold models' quantiles to the average's (a slope under 1 or a negative intercept means the average scores
unseen prompts lower than the models its thresholds were chosen on).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from vidgen.safety.calibrate import OperatingPoint, calibrate, flagged, target_groups
from vidgen.safety.categories import CLASSIFIER_CATEGORIES
from vidgen.safety.classifier import PromptClassifier
from vidgen.safety.data import LabelledPrompt, load
from vidgen.safety.filter import SafetyFilter
from vidgen.safety.normalize import normalize
from vidgen.safety.policy import Policy
from vidgen.safety.train import fold_of, out_of_fold_scores, score_texts

FOLDS = 4
BUDGETS = {"default policy's budgets": (0.07, 0.006), "the issue's limits": (0.10, 0.01)}  # plain: every file


def rates(rows: list[LabelledPrompt], hits: np.ndarray) -> dict[str, list[int]]:
    """group -> [flagged, total]; "benign_hard", "plain" (all plain files together) and "plain:<file>" (each) are
    the false-positive groups."""
    targets, hard, plain_files = target_groups(rows)
    counts = {group: [int(hits[idx].sum()), len(idx)] for group, idx in targets.items()}
    counts["benign_hard"] = [int(hits[hard].sum()), len(hard)]
    plain = np.concatenate([np.zeros(0, int), *plain_files.values()])
    counts["plain"] = [int(hits[plain].sum()), len(plain)]
    for name, idx in plain_files.items():
        counts[f"plain:{name}"] = [int(hits[idx].sum()), len(idx)]
    return counts


def ceiling(rows: list[LabelledPrompt], scores: np.ndarray, ruled: np.ndarray, budgets: tuple[float, float]) -> dict:
    point = OperatingPoint("ceiling", CLASSIFIER_CATEGORIES, *budgets)
    thresholds = calibrate(scores, rows, point, rule_blocked=ruled)
    in_sample = rates(rows, flagged(scores, ruled, thresholds))
    fold = np.array([fold_of(r.prompt, FOLDS) for r in rows])
    nested: dict[str, list[int]] = {}
    for k in range(FOLDS):
        fit, held = np.where(fold != k)[0], np.where(fold == k)[0]
        chosen = calibrate(scores[fit], [rows[i] for i in fit], point, rule_blocked=ruled[fit])
        for group, (hit, total) in rates([rows[i] for i in held], flagged(scores[held], ruled[held], chosen)).items():
            nested[group] = [a + b for a, b in zip(nested.get(group, [0, 0]), (hit, total), strict=True)]
    def as_rate(counts: dict[str, list[int]]) -> dict[str, float]:
        out = {g: round(hit / total, 3) for g, (hit, total) in counts.items() if total}
        out["plain_worst_file"] = max((r for g, r in out.items() if g.startswith("plain:")), default=0.0)
        return out

    return {"budgets": {"benign_hard": budgets[0], "plain": budgets[1]}, "thresholds": thresholds,
            "calibrated_on": as_rate(in_sample), "nested": as_rate(nested), "nested_counts": nested}


def unlabelled_prompts(data: Path) -> list[str]:
    """I2P prompts with hard==0: neither trained on nor evaluated (their labels are unreliable)."""
    path = data / "i2p" / "prompts.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [normalize(r["prompt"]).text for r in csv.DictReader(handle) if r["hard"].strip() == "0"]


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def averaged_vs_folds(run: Path, texts: list[str]) -> dict:
    def scores(weights: Path) -> np.ndarray:
        return logit(score_texts(PromptClassifier(weights), texts))

    averaged = scores(run)
    folds = [scores(run / "folds" / f"fold{k}") for k in range(FOLDS)]
    levels = np.linspace(0.5, 0.999, 200)
    out = {}
    for j, category in enumerate(CLASSIFIER_CATEGORIES):
        pooled = np.concatenate([f[:, j] for f in folds])
        slope, intercept = np.polyfit(np.quantile(pooled, levels), np.quantile(averaged[:, j], levels), 1)
        out[category] = {"mean_logit_folds": round(float(pooled.mean()), 3),
                         "mean_logit_average": round(float(averaged[:, j].mean()), 3),
                         "quantile_slope": round(float(slope), 3), "quantile_intercept": round(float(intercept), 3)}
    return {"prompts": len(texts), "categories": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--run", required=True, type=Path, help="a --cross-fit --average-folds output folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows, scores = out_of_fold_scores(load(args.data), [args.run / "folds" / f"fold{k}" for k in range(FOLDS)])
    rules = SafetyFilter(Policy.load("default"), classifier=None, image_classifier=None)
    ruled = np.array([rules.check_rules(r.prompt) is not None for r in rows])
    result = {"run": str(args.run), "rows": len(rows),
              "ceilings": {name: ceiling(rows, scores, ruled, b) for name, b in BUDGETS.items()}}
    texts = unlabelled_prompts(Path(args.data))
    if texts:
        result["averaged_vs_folds"] = averaged_vs_folds(args.run, texts)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
