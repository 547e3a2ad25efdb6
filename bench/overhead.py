"""App overhead: the same generation through the running app (gradio_client, MP4 returned) and as a bare
pipeline call plus `diffusers.utils.export_to_video`, interleaved; writes bench/results/overhead.json.

    .venv/bin/python bench/overhead.py [--pairs 10] [--model vidgen-toy] [--steps N]

The bundled model is used when it is in assets/, otherwise a tiny random-weight Wan pipeline. The app path
includes everything a user gets: safety check, quota reserve/settle, live previews, MP4 + GIF + recipe,
history, and the HTTP round trip with the file download.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import yaml  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "overhead.json"
PROMPT = "a red circle moves to the right on a white background"


def bench_catalog(tmp: Path, model_id: str) -> tuple[Path, str]:
    from vidgen.catalog import Catalog
    from vidgen.settings import PROJECT_ROOT

    shipped = PROJECT_ROOT / "vidgen" / "catalog.yaml"
    catalog = Catalog.load(shipped)
    if model_id in catalog.models and Path(catalog.get(model_id).resolved_source()).is_dir():
        return shipped, model_id
    from tests.conftest import TINY_WAN_ENTRY
    from vidgen.testing.tiny import save_tiny

    folder = save_tiny("wan", tmp / "tiny-wan")
    path = tmp / "catalog.yaml"
    path.write_text(yaml.safe_dump({"models": {"tiny-wan": {**TINY_WAN_ENTRY, "source": str(folder)}}}))
    return path, "tiny-wan"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--model", default="vidgen-toy")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from diffusers.utils import export_to_video
    from gradio_client import Client

    from vidgen.catalog import Catalog
    from vidgen.jobs import Done, run_job
    from vidgen.media import to_uint8, upscale
    from vidgen.quota import ClientInfo
    from vidgen.requests import TextToVideoRequest, plan_render
    from vidgen.services import build_services
    from vidgen.settings import Settings
    from vidgen.ui import create_demo

    tmp = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    catalog_path, model_id = bench_catalog(tmp, args.model)
    settings = Settings.load(catalog_path=str(catalog_path), data_dir=str(tmp / "data"),
                             output_dir=str(tmp / "outputs"), local_user="bench", default_model=model_id)
    services = build_services(settings)
    entry = services.catalog.get(model_id)
    steps = args.steps or int(entry.steps.default)
    request = TextToVideoRequest(prompt=PROMPT, model_id=model_id, steps=steps, seed=1)
    _, plan = plan_render(request, Catalog.load(catalog_path), settings)

    # Warm both paths (model load, preview projection fit, Gradio start) before timing anything.
    user = services.identity.resolve(ClientInfo())  # the configured local user, as the app sees it
    assert isinstance(list(run_job(services, request, user))[-1], Done)
    pipe, model = services.pipelines.get(entry, plan.mode)
    demo = create_demo(services)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    client = Client(demo.local_url, verbose=False, download_files=str(tmp / "downloads"))
    resolution = entry.default_resolution.label

    def app_run() -> float:
        start = time.perf_counter()
        _, video, *_ = client.predict(PROMPT, "", model_id, entry.default_duration, resolution, steps,
                                      entry.guidance.default, 1, 0, api_name="/text_to_video")
        assert Path(video).stat().st_size > 0
        return time.perf_counter() - start

    def bare_run(index: int) -> float:
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(1)
        kwargs = model.adapter.call_kwargs(plan, pipe, generator)
        frames = pipe(**kwargs).frames[0]
        display = upscale(to_uint8(frames), entry.display_scale)
        export_to_video(list(display), str(tmp / f"bare-{index}.mp4"), fps=plan.fps)
        return time.perf_counter() - start

    def core_run() -> float:
        """The orchestrator alone (no Gradio): safety, quota, render, previews, MP4+GIF+recipe, history."""
        start = time.perf_counter()
        assert isinstance(list(run_job(services, request, user))[-1], Done)
        return time.perf_counter() - start

    app_run(), bare_run(-1), core_run()
    app_times, bare_times, core_times, ratios, core_ratios = [], [], [], [], []
    for index in range(args.pairs):
        # Rotate the order so drift on a shared machine hits every path equally.
        runs = {"app": app_run, "bare": functools.partial(bare_run, index), "core": core_run}
        order = ["app", "bare", "core"][index % 3:] + ["app", "bare", "core"][: index % 3]
        times = {name: runs[name]() for name in order}
        app_times.append(times["app"])
        bare_times.append(times["bare"])
        core_times.append(times["core"])
        ratios.append(times["app"] / times["bare"])
        core_ratios.append(times["core"] / times["bare"])
        print(f"pair {index + 1}/{args.pairs}: app {times['app']:.3f} s, bare {times['bare']:.3f} s, "
              f"core {times['core']:.3f} s, ratio {ratios[-1]:.3f}")
    demo.close()
    result = {
        "ratio_app_over_bare": round(statistics.median(ratios), 4),
        "pairs": args.pairs,
        "app_median_s": round(statistics.median(app_times), 4),
        "bare_median_s": round(statistics.median(bare_times), 4),
        "ratios": [round(r, 4) for r in ratios],
        "core_over_bare": round(statistics.median(core_ratios), 4),
        "core_median_s": round(statistics.median(core_times), 4),
        "model": model_id,
        "steps": steps,
        "frames": plan.num_frames,
        "size": f"{plan.width}x{plan.height} (x{entry.display_scale} for display)",
        "torch_threads": args.threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "note": "app = gradio_client end to end (safety, quota, previews, MP4+GIF+recipe, history, download); "
                "core = the same job through vidgen.jobs.run_job without Gradio; "
                "bare = pipeline call + export_to_video of the same display-size frames.",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
