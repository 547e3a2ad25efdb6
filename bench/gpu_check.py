"""The bundled toy model on a CUDA GPU: prompt adherence and speed in float32, bfloat16 and float16, and the
app's job path end to end; writes bench/results/gpu_check.json.

    python bench/gpu_check.py [--clips 200] [--out FILE]

The same held-out-combination prompts, seeds (CPU generators, so the starting noise is the CPU run's) and judge
as `python -m vidgen.toy.evaluate`, so the figures compare with bench/results/toy_model.json. Needs a GPU; CI
has none (tests/test_cuda.py holds the CUDA assertions).
"""

from __future__ import annotations

import argparse
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

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_check.json"
DTYPES = ("float32", "bfloat16", "float16")


def toy_on_cuda(dtype: str, clips: int) -> dict:
    from diffusers import WanPipeline

    from vidgen.toy import TOY_MODEL_DIR
    from vidgen.toy.evaluate import PROMPT_SETS, evaluate_cases, model_sampling, model_world, time_two_second_clip

    steps, guidance = model_sampling(TOY_MODEL_DIR)
    pipe = WanPipeline.from_pretrained(str(TOY_MODEL_DIR), dtype=getattr(torch, dtype)).to("cuda")
    pipe.set_progress_bar_config(disable=True)
    world = model_world(TOY_MODEL_DIR)
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    scores = evaluate_cases(pipe, PROMPT_SETS["heldout_combos"](clips), world, steps, guidance)
    elapsed = time.perf_counter() - started
    times = time_two_second_clip(pipe, world, steps, guidance, repeats=10)
    return {
        "heldout_combos": scores,
        "clips": clips,
        "generate_and_judge_seconds": round(elapsed, 2),
        "clip_2s_seconds_median": round(statistics.median(times), 4),
        "clip_2s_seconds_all": [round(t, 4) for t in times],
        "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
    }


def app_path_on_cuda(repeats: int) -> dict:
    """One text-to-video request through `run_job` (cache, live previews, MP4 + GIF + recipe, history)."""
    from vidgen.catalog import Catalog
    from vidgen.history import History
    from vidgen.jobs import Done, Services, run_job
    from vidgen.pipelines import PipelineCache, choose_memory_profile, resolve_dtype
    from vidgen.requests import TextToVideoRequest
    from vidgen.settings import Settings

    folder = Path(tempfile.mkdtemp())
    settings = Settings.load(env={}, device="cuda", data_dir=str(folder / "data"), output_dir=str(folder / "out"))
    services = Services(settings=settings, catalog=Catalog.load(settings.catalog_path),
                        pipelines=PipelineCache(settings), history=History(settings.data_dir, settings.output_dir))
    times = []
    for seed in range(repeats + 1):  # the first loads the model
        request = TextToVideoRequest(prompt="a blue square moves up on a black background", seed=seed)
        started = time.perf_counter()
        last = list(run_job(services, request, "gpu-check"))[-1]
        assert isinstance(last, Done), last
        times.append(time.perf_counter() - started)
    entry, device = services.catalog.get(None), services.pipelines.device
    return {
        "first_request_seconds": round(times[0], 3),
        "request_seconds_median": round(statistics.median(times[1:]), 4),
        "request_seconds_all": [round(t, 4) for t in times[1:]],
        "memory_profile": choose_memory_profile(settings.memory_profile, entry, device),
        "dtype": str(resolve_dtype(settings.dtype, entry, device)).removeprefix("torch."),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=200, help="held-out-combination clips per dtype")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU here: this check runs on a GPU host only.")
    import diffusers
    import transformers

    results: dict = {
        "device": torch.cuda.get_device_name(0),
        "versions": {"torch": torch.__version__, "cuda": torch.version.cuda, "diffusers": diffusers.__version__,
                     "transformers": transformers.__version__, "python": platform.python_version()},
        "attention": "xformers" if _has("xformers") else "torch SDPA",
        "toy_model": {},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for dtype in DTYPES:  # each part is written as soon as it is measured: a later failure keeps it
        results["toy_model"][dtype] = toy_on_cuda(dtype, args.clips)
        out.write_text(json.dumps(results, indent=2) + "\n")
    results["app_path_toy_t2v"] = app_path_on_cuda(repeats=5)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
