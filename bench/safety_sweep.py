"""Compare classifier recipes on the tune split only: nested recall at false-positive budgets, per seed and for
seed ensembles, so a recipe is chosen before the report split is spent.

    python bench/safety_sweep.py --data ../shared/data/safety --out-dir runs/sweep --device cuda --jobs 8

For every recipe and seed, four fold models are trained (`train.train_and_export`, on `--device`), every tune
prompt is scored by the fold model that did not see it on the production path (int8 MiniLM on the CPU,
`train.out_of_fold_scores`), and thresholds are chosen on three folds and measured on the fourth at each budget
(`safety_ceiling.ceiling`). A seed ensemble averages the seeds' out-of-fold probabilities (the same folds, so
every prompt is still unseen by every member). Work runs in `--jobs` processes; finished fold models and scores
are kept in OUT_DIR and reused, so an interrupted sweep resumes. OUT_DIR/sweep.json is rewritten after every
scored seed, so a sweep stopped early still reports what it finished.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # safety_ceiling, beside this file (spawned workers too)

FOLDS = 4
ALL_LAYERS = (0, 1, 2, 3, 4, 5)
# name -> TrainConfig fields that differ from the defaults. All adapt every MiniLM layer (the best recipe so far).
RECIPES = {
    "all_layers": {},
    "rank32": {"rank": 32, "alpha": 64.0},  # collapsed in session 19: too large an adapter scale for lr 1e-3
    "epochs8": {"epochs": 8},
    "epochs12": {"epochs": 12},
    "epochs16": {"epochs": 16},
    "epochs8_context": {"epochs": 8, "context_copies": 1},
    "benign_hard_x4": {"benign_hard_weight": 4.0},
    "lr3e-4_epochs8": {"lr": 3e-4, "epochs": 8},
    "epochs8_names": {"epochs": 8, "named_people": 600},
    "epochs8_names_plain": {"epochs": 8, "named_people": 600, "plain_acts": 800},  # session 26
}
GROUPS = ("overt/sexual_content", "overt/violence", "overt/self_harm", "overt/illegal_activities",
          "overt/discrimination", "i2p/sexual", "benign_hard", "plain", "plain_worst_file")


def recipe_config(name: str, seed: int, recipes: dict[str, dict]):
    from vidgen.safety.train import TrainConfig

    return replace(TrainConfig(layers=ALL_LAYERS), seed=seed, **recipes[name])


def train_fold(data: str, name: str, seed: int, fold: int, out: str, device: str, recipes: dict) -> float:
    """Fit one fold model (all tune prompts outside `fold`) into `out`; returns seconds spent."""
    import torch

    from vidgen.safety.data import load
    from vidgen.safety.train import fold_of, is_trainable, teacher_fold, train_and_export

    torch.set_num_threads(1)
    started = time.time()
    config = recipe_config(name, seed, recipes)
    rows = [r for r in load(data) if is_trainable(r, config) and fold_of(r.prompt, FOLDS) != fold]
    train_and_export(rows, config, Path(out), threads=1, log=lambda _: None, device=device,
                     teacher_dir=teacher_fold(config, fold, FOLDS))
    return time.time() - started


def score_run(data: str, run: str) -> float:
    """Out-of-fold scores of one recipe and seed, saved as run/oof.npy."""
    import torch

    from vidgen.safety.data import load
    from vidgen.safety.train import out_of_fold_scores

    torch.set_num_threads(1)
    started = time.time()
    _, scores = out_of_fold_scores(load(data), [Path(run) / f"fold{k}" for k in range(FOLDS)])
    np.save(Path(run) / "oof.npy", scores)
    return time.time() - started


def summary(rows, scores: np.ndarray, ruled: np.ndarray) -> dict:
    from safety_ceiling import BUDGETS, ceiling

    out = {}
    for budget, pair in BUDGETS.items():
        result = ceiling(rows, scores, ruled, pair)
        out[budget] = {g: result["nested"].get(g) for g in GROUPS}
    return out


def report(data: Path, out_dir: Path, seeds: list[int], recipes: dict, timings: dict, cache: dict) -> dict:
    """The sweep's results so far; `cache` keeps summaries between calls (each takes seconds)."""
    from vidgen.safety.data import load
    from vidgen.safety.filter import SafetyFilter
    from vidgen.safety.policy import Policy
    from vidgen.safety.train import out_of_fold_rows

    if "rows" not in cache:
        rows = [r for fold_rows in out_of_fold_rows(load(data), FOLDS) for r in fold_rows]  # oof.npy's order
        rules = SafetyFilter(Policy.load("default"), classifier=None, image_classifier=None)
        cache["rows"] = rows, np.array([rules.check_rules(r.prompt) is not None for r in rows])
    rows, ruled = cache["rows"]
    result = {"what": __doc__.split("\n\n")[0], "rows": len(rows), "recipes": {}}
    for name in recipes:
        scored = {s: out_dir / name / f"seed{s}" / "oof.npy" for s in seeds}
        scored = {s: np.load(p) for s, p in scored.items() if p.is_file()}
        if not scored:
            continue
        def members_summary(members: tuple[int, ...], name=name, scored=scored) -> dict:
            if (name, members) not in cache:
                mean = np.mean([scored[s] for s in members], axis=0)
                cache[(name, members)] = summary(rows, mean, ruled)
            return cache[(name, members)]

        entry = {"config": asdict(recipe_config(name, seeds[0], recipes)), "seconds": timings.get(name, {}),
                 "seeds": {s: members_summary((s,)) for s in scored}}
        members = tuple(s for s in seeds if s in scored)
        for size in range(2, len(members) + 1):
            entry[f"ensemble_of_{size}"] = members_summary(members[:size])
        result["recipes"][name] = entry
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--device", default="cpu", help="torch device for training, e.g. cuda")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (training and scoring)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--set", default="", help="extra TrainConfig fields for every recipe, as JSON (e.g. for a "
                        "quick check: '{\"epochs\": 1, \"portraits\": 10}')")
    parser.add_argument("--train-only", action="store_true",
                        help="only train the fold models (score them later, e.g. on another machine, by rerunning "
                        "without this flag)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = json.loads(args.set) if args.set else {}
    recipes = {n: {**RECIPES[n], **extra} for n in args.recipes.split(",")}
    timings: dict[str, dict[str, float]] = {n: {"train": 0.0, "score": 0.0} for n in recipes}
    cache: dict = {}
    # Jobs are handed out one per free worker, scoring before training, so finished seeds are scored (and
    # reported) while later recipes train: a sweep cut short still has results.
    scoring: list[tuple[str, int]] = []
    training: list[tuple[str, int, int]] = []
    folds_left: dict[tuple[str, int], int] = {}
    for name in recipes:  # in order: the first recipes finish first
        for seed in seeds:
            run = args.out_dir / name / f"seed{seed}"
            if (run / "oof.npy").is_file():
                continue
            todo = [k for k in range(FOLDS) if not (run / f"fold{k}" / "classifier.json").is_file()]
            folds_left[(name, seed)] = len(todo)
            if todo:
                training += [(name, seed, k) for k in todo]
            elif not args.train_only:
                scoring.append((name, seed))
    pool = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"))
    pending: dict = {}
    started = time.time()
    while scoring or training or pending:
        while len(pending) < args.jobs and (scoring or training):
            if scoring:
                name, seed = scoring.pop(0)
                run = args.out_dir / name / f"seed{seed}"
                pending[pool.submit(score_run, str(args.data), str(run))] = ("score", name, seed)
            else:
                name, seed, k = training.pop(0)
                out = args.out_dir / name / f"seed{seed}" / f"fold{k}"
                job = pool.submit(train_fold, str(args.data), name, seed, k, str(out), args.device, recipes)
                pending[job] = ("train", name, seed)
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for job in done:
            kind, name, seed = pending.pop(job)
            seconds = job.result()
            timings[name][kind] += seconds
            print(f"{time.time() - started:.0f}s {kind} {name} seed {seed} done in {seconds:.0f}s", flush=True)
            if kind == "train":
                folds_left[(name, seed)] -= 1
                if folds_left[(name, seed)] == 0 and not args.train_only:
                    scoring.append((name, seed))
            else:
                result = report(args.data, args.out_dir, seeds, recipes, timings, cache)
                (args.out_dir / "sweep.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    pool.shutdown()
    result = report(args.data, args.out_dir, seeds, recipes, timings, cache)
    (args.out_dir / "sweep.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
