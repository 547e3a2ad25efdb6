"""Director Mode on the bundled model: for each camera move, render clips with the camera set in Director Mode
and let the toy judge (global flow: translation + zoom fitted to brightness constancy) say which way the
camera went; writes bench/results/director.json with the share of clips that went the requested way.

    .venv/bin/python bench/director.py [--clips 8] [--steps N] [--threads 1] [--strategy text|warp]

`text` (the bundled model's own conditioning: camera words in the prompt) is what the app uses for this model;
`warp` renders image to video from a still warped along the camera path (the path real models take), using a
first frame drawn by the toy world renderer; `warp-t2v` is text to video on the warp path (a first frame
rendered from the prompt, warped, then re-rendered). Both warp runs set the model's catalog `camera` to warp.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from _creative import RESULTS, add_common_arguments, bench_services, machine, model_revision

# Judge label -> the Director Mode setting that asks for it (full strength on one axis).
MOVES = {
    "pan_left": {"pan": -10}, "pan_right": {"pan": 10},
    "tilt_up": {"tilt": 10}, "tilt_down": {"tilt": -10},
    "zoom_in": {"zoom": 10}, "zoom_out": {"zoom": -10},
    "truck_left": {"truck": -10}, "truck_right": {"truck": 10},
    "pedestal_up": {"pedestal": 10}, "pedestal_down": {"pedestal": -10},
}
# What the judge calls a truck/pedestal move: without depth it is the same image motion as a pan/tilt.
JUDGE_LABEL = {"truck_left": "pan_left", "truck_right": "pan_right", "pedestal_up": "tilt_up",
               "pedestal_down": "tilt_down"}
COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=None, help="default: the catalog's")
    parser.add_argument("--strategy", choices=["text", "warp", "warp-t2v"], default="text")
    parser.add_argument("--moves", default=",".join(MOVES))
    parser.add_argument("--guide-strength", type=float, default=None, help="warp: video-to-video strength")
    add_common_arguments(parser)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from PIL import Image

    import vidgen.director
    from vidgen.jobs import Done, run_job
    from vidgen.requests import ImageToVideoRequest, TextToVideoRequest
    from vidgen.toy.judge import judge_clip
    from vidgen.toy.world import render_clip, spec_for

    if args.guide_strength is not None:
        vidgen.director.WARP_GUIDE_STRENGTH = args.guide_strength
    services, model_id = bench_services(args.model, args.allow_tiny, args.threads,
                                        camera="text" if args.strategy == "text" else "warp", source=args.source)
    entry = services.catalog.get(model_id)
    steps = args.steps or int(entry.steps.default)
    stills = services.settings.data_dir / "director-stills"
    stills.mkdir(parents=True, exist_ok=True)
    agreement, details, started = {}, {}, time.perf_counter()
    for move in args.moves.split(","):
        rng = random.Random(f"director-{move}")
        hits, verdicts = 0, []
        for index in range(args.clips):
            color, shape = COLORS[index % len(COLORS)], rng.choice(SHAPES)
            prompt = f"a {color} {shape} on a textured background"
            if args.strategy in ("text", "warp-t2v"):
                request = TextToVideoRequest(prompt=prompt, model_id=model_id, steps=steps, seed=1000 + index,
                                             guidance=args.guidance, camera=MOVES[move])
            else:
                first = render_clip(spec_for(color, shape, "static", rng), frames=[0])[0]
                path = stills / f"{move}-{index}.png"
                Image.fromarray(first).save(path)
                request = ImageToVideoRequest(image_path=str(path), prompt=prompt, model_id=model_id, steps=steps,
                                              guidance=args.guidance, seed=1000 + index, camera=MOVES[move])
            last = list(run_job(services, request, "bench", previews=False))[-1]
            assert isinstance(last, Done), last
            verdict = judge_clip(last.result.frames)
            hits += verdict.camera == JUDGE_LABEL.get(move, move)
            verdicts.append(verdict.camera)
        agreement[move] = round(hits / args.clips, 4)
        details[move] = verdicts
        print(f"{move}: {hits}/{args.clips} {verdicts}", flush=True)
    judged = [m for m in agreement if m not in JUDGE_LABEL]
    result = {
        "direction_agreement": agreement,
        "mean_agreement": round(sum(agreement.values()) / len(agreement), 4),
        "mean_agreement_pan_tilt_zoom": round(sum(agreement[m] for m in judged) / max(1, len(judged)), 4),
        "target": 0.8,
        "clips_per_move": args.clips,
        "verdicts": details,
        "strategy": args.strategy,
        "warp_guide_strength": None if args.strategy == "text" else vidgen.director.WARP_GUIDE_STRENGTH,
        "settings": {move: MOVES[move] for move in agreement},
        "model": model_id,
        "model_revision": model_revision(services, model_id),
        "steps": steps,
        "torch_threads": args.threads,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "judge": "vidgen.toy.judge.judge_clip (camera: global translation + zoom flow; needs a textured "
                 "background, which camera prompts get). Truck/pedestal are judged as pan/tilt: without depth "
                 "they move the image the same way. Roll is not measured: the judge has no rotation term and "
                 "the bundled model was never trained on roll.",
    }
    names = {"text": "director.json", "warp": "director_warp.json", "warp-t2v": "director_warp_t2v.json"}
    out = RESULTS / (args.out or names[args.strategy])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    headline = RESULTS / "director.json"
    if args.strategy != "text" and not args.out and headline.exists():  # summarise next to the headline figures
        summary = json.loads(headline.read_text())
        key = {"warp": "warp_image_to_video", "warp-t2v": "warp_text_to_video_two_pass"}[args.strategy]
        summary.setdefault("other_strategies", {})[key] = {
            "direction_agreement": agreement, "mean_agreement": result["mean_agreement"],
            "warp_guide_strength": result["warp_guide_strength"], "model_revision": result["model_revision"],
            "details": f"bench/results/{names[args.strategy]}",
        }
        headline.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("direction_agreement", "mean_agreement")}, indent=2))


if __name__ == "__main__":
    main()
