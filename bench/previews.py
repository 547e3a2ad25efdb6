"""Live previews' cost: the same render with previews on and off (`run_job(..., previews=False)`),
interleaved in alternating order; writes bench/results/previews.json with the median per-pair time ratio.

    .venv/bin/python bench/previews.py [--pairs 8] [--steps N] [--threads 1] [--allow-tiny]

Also times the free still previews (4 first-frame candidates) against one full render.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _creative import RESULTS, add_common_arguments, bench_services, machine, model_revision

PROMPT = "a red circle moves to the right on a white background"


def _preview_cost_ms(services, entry, request, repeats: int = 200) -> float:
    """What one live preview costs inside the step callback: unpack the latents, project them to RGB through
    the fitted matrix, enlarge for display (the same calls `_StepCallback` makes), median over repeats."""
    import torch

    from vidgen.families import adapter_for, project_to_rgb
    from vidgen.media import upscale
    from vidgen.requests import plan_render

    _, plan = plan_render(request, services.catalog, services.settings)
    pipe, model = services.pipelines.get(entry, plan.mode)
    projection = services.pipelines.preview_projection(model)
    channels = projection.shape[0] - 1
    factor = pipe.vae_scale_factor_spatial  # Wan-family latents: [1, C, F, H / factor, W / factor]
    latents = torch.randn(1, channels, plan.num_frames, plan.height // factor, plan.width // factor)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        unpacked = adapter_for(entry.family).preview_latents(latents, pipe, plan)
        image = project_to_rgb(unpacked, projection, frame=unpacked.shape[1] // 2)
        upscale(image[None], max(1, 256 // max(image.shape[:2])))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None)
    add_common_arguments(parser)
    args = parser.parse_args()

    from vidgen.jobs import Done, Preview, Progress, run_job
    from vidgen.previews import render_free_previews
    from vidgen.requests import TextToVideoRequest

    services, model_id = bench_services(args.model, args.allow_tiny, args.threads, source=args.source)
    entry = services.catalog.get(model_id)
    steps = args.steps or int(entry.steps.default)
    request = TextToVideoRequest(prompt=PROMPT, model_id=model_id, steps=steps, seed=1)

    def render(previews: bool) -> tuple[float, int]:
        """Seconds of the denoising loop (from 'Rendering…' to 'Encoding video…') and previews shown."""
        marks, shown, last = {}, 0, None
        for event in run_job(services, request, "bench", previews=previews):
            if isinstance(event, Progress) and event.message in ("Rendering…", "Encoding video…"):
                marks[event.message] = time.perf_counter()
            shown += isinstance(event, Preview)
            last = event
        assert isinstance(last, Done), last
        return marks["Encoding video…"] - marks["Rendering…"], shown

    render(True), render(False)  # warm: model load and the preview projection fit
    on_times, off_times, ratios, shown = [], [], [], 0
    for index in range(args.pairs):
        if index % 2 == 0:
            (on, shown), (off, _) = render(True), render(False)
        else:
            (off, _), (on, shown) = render(False), render(True)
        on_times.append(on)
        off_times.append(off)
        ratios.append(on / off)
        print(f"pair {index + 1}/{args.pairs}: previews on {on:.3f} s, off {off:.3f} s, ratio {on / off:.4f}")

    preview_ms = _preview_cost_ms(services, entry, request)
    step_ms = statistics.median(off_times) / steps * 1000

    still_times = []
    for index in range(3):
        start = time.perf_counter()
        render_free_previews(services, TextToVideoRequest(prompt=PROMPT, model_id=model_id, seed=index), "bench")
        still_times.append(time.perf_counter() - start)

    result = {
        "preview_slowdown_ratio": round(statistics.median(ratios), 4),
        "pairs": args.pairs,
        "ratios": [round(r, 4) for r in ratios],
        "render_previews_on_median_s": round(statistics.median(on_times), 4),
        "render_previews_off_median_s": round(statistics.median(off_times), 4),
        "previews_per_render": shown,
        "preview_cost_ms_per_step": round(preview_ms, 3),
        "step_ms_without_previews": round(step_ms, 2),
        "preview_slowdown_from_cost": round(1 + preview_ms / step_ms, 4),
        "free_previews_4_stills_median_s": round(statistics.median(still_times), 4),
        "model": model_id,
        "model_revision": model_revision(services, model_id),
        "steps": steps,
        "torch_threads": args.threads,
        "machine": machine(),
        "note": "preview_slowdown_ratio: time of the denoising loop inside run_job (from 'Rendering' to "
                "'Encoding video'), previews on / off, median over interleaved pairs (alternating which goes "
                "first); quota off. The machine is shared, so single pairs scatter; preview_slowdown_from_cost "
                "is the same ratio from the measured cost of one preview (latent unpack + RGB projection + "
                "enlarging, as in the step callback) over the time of one denoising step.",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "previews.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
