"""Extend on the bundled model: a first clip, then segments continued from the last frame up to 18 s (Runway
Gen-2's limit) and 60 s; measures the seam spike ratio (mean absolute frame difference across each join over
the mean difference between consecutive frames inside segments) -> bench/results/extend.json.

    .venv/bin/python bench/extend.py [--lengths 18,60] [--steps N] [--threads 1]

1.0 means the joins are as smooth as the motion inside a segment; a hard cut scores far above 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _creative import RESULTS, add_common_arguments, bench_services, machine, model_revision

PROMPTS = {  # a camera pan never runs out of world; an object move continues from wherever it stopped
    "camera pan": "a red circle on a textured background, the camera pans left",
    "object motion": "a blue square moves to the right on a white background",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="18,60")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--settle", default="2,0", help="settle_frames values; the first one is the headline")
    parser.add_argument("--guidance", type=float, default=None, help="default: the catalog's")
    parser.add_argument("--out", default="extend.json", help="file name under bench/results")
    add_common_arguments(parser)
    args = parser.parse_args()

    from vidgen.extend import ExtendRequest, run_extend, seam_spike_ratio
    from vidgen.jobs import Done, run_job
    from vidgen.requests import TextToVideoRequest

    services, model_id = bench_services(args.model, args.allow_tiny, args.threads, source=args.source)
    entry = services.catalog.get(model_id)
    steps = args.steps or int(entry.steps.default)
    settles = [int(v) for v in args.settle.split(",")]
    ratios: dict[str, dict[str, float]] = {}
    runs: dict[str, dict] = {}
    started = time.perf_counter()
    for settle, seconds in ((k, float(s)) for k in settles for s in args.lengths.split(",")):
        per_prompt = {}
        for name, prompt in PROMPTS.items():
            first = list(run_job(services, TextToVideoRequest(prompt=prompt, model_id=model_id, steps=steps, seed=3,
                                                                guidance=args.guidance),
                                 "bench", previews=False))[-1]
            assert isinstance(first, Done), first
            request = ExtendRequest(video_path=str(first.result.video_path), target_s=seconds, steps=steps, seed=5,
                                    guidance=args.guidance, model_id=model_id, settle_frames=settle)
            last = list(run_extend(services, request, "bench", previews=False))[-1]
            assert isinstance(last, Done), last
            frames, joins = last.result.frames, last.result.recipe["extend"]["joins"]
            seam = seam_spike_ratio(frames, joins)
            per_prompt[name] = {
                "seam_spike_ratio": round(seam["ratio"], 4), "seam_diff": round(seam["seam_diff"], 3),
                "inside_diff": round(seam["inside_diff"], 3), "seconds": round(len(frames) / entry.fps, 3),
                "segments": len(joins), "prompt": prompt,
            }
            print(f"settle {settle}, {seconds:g} s, {name}: {per_prompt[name]}", flush=True)
        label = f"{seconds:g}s"
        ratio = round(statistics.mean(p["seam_spike_ratio"] for p in per_prompt.values()), 4)
        ratios.setdefault(f"settle_frames={settle}", {})[label] = ratio
        runs.setdefault(f"settle_frames={settle}", {})[label] = per_prompt
    result = {
        "seam_spike_ratio": ratios[f"settle_frames={settles[0]}"],
        "settle_frames": settles[0],
        "seam_spike_ratio_by_settle_frames": ratios,
        "runs": runs,
        "model": model_id,
        "model_revision": model_revision(services, model_id),
        "steps": steps,
        "guidance": args.guidance or entry.guidance.default,
        "torch_threads": args.threads,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "note": "Each extension starts from a 2 s text-to-video clip read back from its MP4 (as a user's upload "
                "would be) and continues from the last frame with the same prompt (taken from the MP4's recipe). "
                "Ratio per length = mean over the two prompts of (mean |frame diff| at joins) / (mean |frame "
                "diff| inside segments), on the native-size frames. Headline: the app's default settle_frames "
                "(frames after the repeated one left out of each segment); the other value is for comparison.",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"seam_spike_ratio_by_settle_frames": ratios}, indent=2))


if __name__ == "__main__":
    main()
