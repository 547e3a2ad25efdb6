"""CLI: python -m vidgen.safety {check,evaluate,train} (see --help)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

DEFAULT_OUT = Path("bench/results/safety.json")


def _check(args: argparse.Namespace) -> int:
    from vidgen.safety import SafetyFilter

    safety = SafetyFilter.from_policy(args.policy)
    decision = safety.check_request(texts={"prompt": args.prompt}, negative_prompt=args.negative,
                                    images=args.image or [])
    out = decision.to_dict()
    out["message"] = decision.user_message()
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0 if decision.allowed else 1


def _evaluate(args: argparse.Namespace) -> int:
    from vidgen.safety import Policy, SafetyFilter
    from vidgen.safety.augment import REPORT_NAMES, named_people_rows, styled_benign
    from vidgen.safety.classifier import PromptClassifier
    from vidgen.safety.data import load
    from vidgen.safety.evaluate import counts, evaluate, select_split

    rows = select_split(load(args.data), args.split)
    if Path(args.data).is_dir() and not args.no_styled:
        rows += styled_benign(rows)  # SD-style copies of the selected VBench prompts (over-blocking check)
        rows += named_people_rows(REPORT_NAMES, 300, seed="report")  # names neither training nor calibration saw
    if args.weights:  # thresholds come from the calibration next to those weights
        policy = Policy.load(args.policy, calibration=Path(args.weights) / "calibration.json")
        safety = SafetyFilter(policy, classifier=PromptClassifier(Path(args.weights)))
    else:
        safety = SafetyFilter.from_policy(args.policy)
    print(f"evaluating {len(rows)} prompts ({args.split} split, policy {args.policy}; the classifier runs as in "
          "the app: one thread per ensemble member, members side by side)", file=sys.stderr)
    result = evaluate(safety, rows, progress=lambda m: print(m, file=sys.stderr))
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    if args.details:
        details = {"split": args.split, "policy": args.policy, "classifier_threads_per_member": 1,
                   "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
                   "counts": counts(rows), **result}
        Path(args.details).write_text(json.dumps(details, indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


def _cpu_name() -> str:
    """The CPU model and whether it has VNNI (int8 products in one step; latency depends on it)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    return f"{name} ({'with' if 'vnni' in info else 'without'} VNNI)"


def _train(args: argparse.Namespace) -> int:
    from vidgen.safety.train import WEIGHTS_DIR, TrainConfig, run_training

    config = TrainConfig(epochs=args.epochs, seed=args.seed, shuffle_seed=args.shuffle_seed, rank=args.rank,
                         layers=tuple(int(x) for x in args.layers.split(",")), named_people=args.named_people,
                         teacher=args.teacher, teacher_weight=args.teacher_weight)
    run_training(Path(args.data), Path(args.out) if args.out else WEIGHTS_DIR, config, threads=args.threads,
                 log=lambda m: print(m, file=sys.stderr, flush=True), cross_fit=args.cross_fit,
                 average_folds=args.average_folds, device=args.device)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    import torch

    from vidgen.safety.data import load
    from vidgen.safety.train import WEIGHTS_DIR, run_calibration

    torch.set_num_threads(args.threads)
    run_calibration(load(args.data), Path(args.weights) if args.weights else WEIGHTS_DIR,
                    log=lambda m: print(m, file=sys.stderr, flush=True),
                    folds_dir=Path(args.folds) if args.folds else None)
    return 0


def _average(args: argparse.Namespace) -> int:
    from vidgen.safety.train import average_cross_fits, average_runs

    runs = [Path(d) for d in args.runs]
    if args.cross_fits:
        average_cross_fits(runs, Path(args.out), shipped_fold=args.ship_fold)
    else:
        average_runs(runs, Path(args.out))
    print(f"wrote the average of {len(runs)} runs to {args.out}; next: calibrate --data PATH --weights {args.out}")
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from vidgen.safety.train import ensemble_cross_fits

    ensemble_cross_fits([Path(d) for d in args.runs], Path(args.out), shipped_fold=args.ship_fold)
    print(f"wrote an ensemble of {len(args.runs)} runs to {args.out}; next: calibrate --data PATH --weights {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vidgen.safety", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="check one prompt; exit 0 allowed, 1 blocked")
    check.add_argument("prompt")
    check.add_argument("--negative", default=None, help="negative prompt, checked too")
    check.add_argument("--image", action="append", help="image file to check (repeatable)")
    check.add_argument("--policy", default="default", help="policy name or path to a policy YAML")
    check.set_defaults(run=_check)

    ev = sub.add_parser("evaluate", help="score a labelled folder or CSV (prompt,label,category,source)")
    ev.add_argument("--data", required=True)
    ev.add_argument("--out", default=None, help=f"write the results JSON here (e.g. {DEFAULT_OUT})")
    ev.add_argument("--policy", default="default")
    ev.add_argument("--split", choices=("report", "tune", "all"), default="report",
                    help="hash split to score (the shipped weights were fit on 'tune'); 'all' for new data")
    ev.add_argument("--details", default=None, help="also write counts and settings to this JSON file")
    ev.add_argument("--no-styled", action="store_true",
                    help="do not add the generated benign prompts: SD-style copies of the VBench prompts "
                    "(reported as vbench_styled/all) and well-known people in ordinary scenes (named_people/all)")
    ev.add_argument("--weights", default=None, help="classifier weights folder (default: the shipped one)")
    ev.set_defaults(run=_evaluate)

    tr = sub.add_parser("train", help="train adapters + head on the tune split and calibrate thresholds")
    tr.add_argument("--data", required=True)
    tr.add_argument("--out", default=None, help="weights folder (default: the shipped vidgen/safety/weights)")
    tr.add_argument("--epochs", type=int, default=4)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--shuffle-seed", type=int, default=None,
                    help="batch order only (default: --seed); runs that differ only here can be averaged")
    tr.add_argument("--threads", type=int, default=1)
    tr.add_argument("--device", default="cpu", help="torch device for the adapter training, e.g. cuda (the frozen "
                    "layers and all scoring stay on the CPU's int8 path)")
    tr.add_argument("--rank", type=int, default=8)
    tr.add_argument("--layers", default="4,5", help="MiniLM layers that get adapters")
    tr.add_argument("--named-people", type=int, default=600,
                    help="generated harmless prompts naming well-known people added to the fit set, so that a "
                    "name alone is not learnt as unsafe (0: none, as before session 20)")
    tr.add_argument("--teacher", default=None, metavar="CROSS_FIT_DIR",
                    help="distil: also learn the scores of this cross-fit (fold0 ... or folds/fold0 ..., e.g. an "
                    "`ensemble --out` folder); the model fitted without fold k learns from the teacher's fold k")
    tr.add_argument("--teacher-weight", type=float, default=0.5,
                    help="with --teacher: targets = (1 - w) x labels + w x teacher scores")
    tr.add_argument("--cross-fit", type=int, default=0, metavar="K",
                    help="calibrate on out-of-fold scores of the whole tune split (K extra fits), then fit the "
                         "shipped model on all of it (default 0: hold a quarter out for calibration)")
    tr.add_argument("--average-folds", action="store_true",
                    help="with --cross-fit: ship the weight average of the K fold models (kept in OUT/folds), "
                         "the models whose scores set the thresholds, instead of a fit on the whole tune split")
    tr.set_defaults(run=_train)

    cal = sub.add_parser("calibrate", help="re-pick thresholds for the shipped weights (no retraining)")
    cal.add_argument("--data", required=True)
    cal.add_argument("--weights", default=None)
    cal.add_argument("--threads", type=int, default=1)
    cal.add_argument("--folds", default=None, help="fold models of cross-fitted weights (default: WEIGHTS/folds)")
    cal.set_defaults(run=_calibrate)

    avg = sub.add_parser("average", help="average trained runs into one model (it scores as fast as one run)")
    avg.add_argument("runs", nargs="+", help="weights folders written by train (or, with --cross-fits, folders "
                     "holding fold0 ... fold{K-1})")
    avg.add_argument("--out", required=True)
    avg.add_argument("--cross-fits", action="store_true",
                     help="RUNS are cross-fits of one recipe with other seeds (bench/safety_sweep.py writes them): "
                     "average fold by fold into OUT/folds, so calibrate can use their out-of-fold scores")
    avg.add_argument("--ship-fold", type=int, default=0, help="with --cross-fits: the averaged fold shipped in OUT")
    avg.set_defaults(run=_average)

    ens = sub.add_parser("ensemble", help="combine cross-fits of one recipe (other seeds) into an ensemble: every "
                         "member scores each prompt and their logits are averaged (one MiniLM pass per member)")
    ens.add_argument("runs", nargs="+", help="folders with fold0 ... fold{K-1} (bench/safety_sweep.py writes them)")
    ens.add_argument("--out", required=True)
    ens.add_argument("--ship-fold", type=int, default=0, help="the fold whose ensemble is shipped in OUT")
    ens.set_defaults(run=_ensemble)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # bad input or weights that cannot be used this way: say why, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
