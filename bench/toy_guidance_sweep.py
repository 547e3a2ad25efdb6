"""Choose the toy model's guidance scale on validation prompts, never on the prompt sets it is reported on.

    .venv/bin/python bench/toy_guidance_sweep.py [--model DIR] [--guidance 1.5,2,2.5,3,4] [--seeds 700,701]

Validation prompts are training-distribution prompts drawn with seeds the evaluation does not use (it uses 100,
200, 300 and 400), judged by the same judge. The pick is the guidance with the highest mean share of clips with
every attribute right; bench/results/toy_guidance_sweep.json keeps every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from vidgen.toy import TOY_MODEL_DIR  # noqa: E402
from vidgen.toy.evaluate import (  # noqa: E402
    evaluate_cases,
    load_pipeline,
    model_sampling,
    model_world,
    train_dist_cases,
)

RESULTS = Path(__file__).resolve().parent / "results" / "toy_guidance_sweep.json"


def sweep(model: Path, guidances: list[float], seeds: list[int], clips: int, steps: int) -> dict:
    pipe, world = load_pipeline(model), model_world(model)
    by_guidance: dict[str, dict] = {}
    for guidance in guidances:
        per_seed = {str(seed): evaluate_cases(pipe, train_dist_cases(clips, seed=seed), world, steps, guidance)
                    for seed in seeds}
        keys = next(iter(per_seed.values())).keys()
        mean = {key: round(statistics.mean(s[key] for s in per_seed.values()), 4) for key in keys}
        by_guidance[f"{guidance:g}"] = {"mean": mean, "per_seed": per_seed}
        print(f"guidance {guidance:g}: {mean}", flush=True)
    best = max(by_guidance, key=lambda g: by_guidance[g]["mean"]["all"])
    return {"model": str(model), "steps": steps, "clips_per_seed": clips, "validation_seeds": seeds,
            "picked_guidance": float(best), "by_guidance": by_guidance}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(TOY_MODEL_DIR))
    parser.add_argument("--guidance", default="1.5,2,2.5,3,4", help="comma-separated guidance scales to try")
    parser.add_argument("--seeds", default="700,701", help="validation prompt-set seeds")
    parser.add_argument("--clips", type=int, default=200, help="clips per seed")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's recommended steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = Path(args.model)
    steps = args.steps or model_sampling(model)[0]
    results = sweep(model, [float(g) for g in args.guidance.split(",")], [int(s) for s in args.seeds.split(",")],
                    args.clips, steps)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"picked guidance {results['picked_guidance']:g}")


if __name__ == "__main__":
    main()
