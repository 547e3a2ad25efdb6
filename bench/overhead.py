"""App overhead: the same generation through the running app (gradio_client, MP4 returned) and as a bare
pipeline call plus `diffusers.utils.export_to_video`, interleaved; writes bench/results/overhead.json.

    .venv/bin/python bench/overhead.py [--pairs 10] [--model vidgen-toy] [--steps N]

The bundled model is used when it is in assets/, otherwise a tiny random-weight Wan pipeline. The app path
includes everything a user gets: safety check, quota reserve/settle, live previews, MP4 + GIF + recipe,
history, and the HTTP round trip. The app runs as its own server process (`python app.py`), as deployed,
so the client's threads never share the server's interpreter. By default the client then fetches the MP4
once over HTTP, as a browser does; `--client-downloads` lets gradio_client download every returned file
itself instead (it fetches each file twice for a streaming endpoint: once for the last streamed update and
once for the completion message).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
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


class AppServer:
    """`python app.py` in its own process, as it is deployed: the client never shares its interpreter."""

    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process, self.url = process, url

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app_server(tmp: Path, catalog_path: Path, model_id: str, threads: int) -> AppServer:
    import httpx

    from vidgen.quota.plans import DEFAULT_PLANS_PATH
    from vidgen.settings import PROJECT_ROOT

    port = free_port()
    # Visitors from localhost are anonymous (30 s a day): give the bench's visitor an unlimited plan; the
    # quota is still reserved and settled for every job.
    plans = yaml.safe_load(DEFAULT_PLANS_PATH.read_text())
    plans["plans"]["anonymous"]["daily_seconds"] = None
    (tmp / "plans.yaml").write_text(yaml.safe_dump(plans))
    env = {**os.environ, "VIDGEN_CATALOG_PATH": str(catalog_path), "VIDGEN_DEFAULT_MODEL": model_id,
           "VIDGEN_DATA_DIR": str(tmp / "app-data"), "VIDGEN_OUTPUT_DIR": str(tmp / "app-outputs"),
           "VIDGEN_PLANS_PATH": str(tmp / "plans.yaml"),
           "VIDGEN_HOST": "127.0.0.1", "VIDGEN_PORT": str(port), "OMP_NUM_THREADS": str(threads),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(tmp / "app.log", "w") as log:  # the child keeps its own handle
        process = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "app.py")], cwd=PROJECT_ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}; see {tmp / 'app.log'}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return AppServer(process, url)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the app did not answer at {url} within 180 s; see {tmp / 'app.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--model", default="vidgen-toy")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--client-downloads", action="store_true",
                        help="let gradio_client download every output file (twice each) instead of one MP4 fetch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import httpx
    from diffusers.utils import export_to_video
    from gradio_client import Client

    from vidgen.catalog import Catalog
    from vidgen.media import to_uint8, upscale
    from vidgen.pipelines import PipelineCache
    from vidgen.requests import TextToVideoRequest, plan_render
    from vidgen.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    catalog_path, model_id = bench_catalog(tmp, args.model)
    settings = Settings.load(catalog_path=str(catalog_path), default_model=model_id)
    catalog = Catalog.load(catalog_path)
    entry = catalog.get(model_id)
    steps = args.steps or int(entry.steps.default)
    _, plan = plan_render(TextToVideoRequest(prompt=PROMPT, model_id=model_id, steps=steps, seed=1), catalog, settings)
    # The bare path is a plain script: load and call on this (main) thread, with the app's loading code.
    pipe, model = PipelineCache(settings).get(entry, plan.mode)
    server = start_app_server(tmp, catalog_path, model_id, args.threads)
    downloads = str(tmp / "downloads") if args.client_downloads else False
    client = Client(server.url, verbose=False, download_files=downloads)
    http = httpx.Client()
    resolution = entry.default_resolution.label

    def fetch_video(video) -> Path:
        """The MP4 on this machine: downloaded by gradio_client already, or fetched once by its URL."""
        if isinstance(video, str):
            return Path(video)
        target = tmp / f"app-{time.perf_counter_ns()}.mp4"
        target.write_bytes(http.get(video["url"]).raise_for_status().content)
        return target

    def app_run() -> float:
        start = time.perf_counter()
        _, video, *_ = client.predict(PROMPT, "", model_id, entry.default_duration, resolution, steps,
                                      entry.guidance.default, 1, 0, api_name="/text_to_video")
        assert fetch_video(video).stat().st_size > 0
        return time.perf_counter() - start

    def bare_run(index: int) -> float:
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(1)
        kwargs = model.adapter.call_kwargs(plan, pipe, generator)
        frames = pipe(**kwargs).frames[0]
        display = upscale(to_uint8(frames), entry.display_scale)
        export_to_video(list(display), str(tmp / f"bare-{index}.mp4"), fps=plan.fps)
        return time.perf_counter() - start

    app_run(), bare_run(-1)  # warm both: model load and preview projection in the app, first calls
    app_times, bare_times, ratios = [], [], []
    for index in range(args.pairs):
        # Alternate the order so drift on a shared machine hits both paths equally.
        if index % 2:
            bare, app = bare_run(index), app_run()
        else:
            app, bare = app_run(), bare_run(index)
        app_times.append(app)
        bare_times.append(bare)
        ratios.append(app / bare)
        print(f"pair {index + 1}/{args.pairs}: app {app:.3f} s, bare {bare:.3f} s, ratio {ratios[-1]:.3f}")
    server.stop()
    result = {
        "ratio_app_over_bare": round(statistics.median(ratios), 4),
        "pairs": args.pairs,
        "app_median_s": round(statistics.median(app_times), 4),
        "bare_median_s": round(statistics.median(bare_times), 4),
        "ratios": [round(r, 4) for r in ratios],
        "model": model_id,
        "steps": steps,
        "frames": plan.num_frames,
        "size": f"{plan.width}x{plan.height} (x{entry.display_scale} for display)",
        "torch_threads": args.threads,
        "app_download": "gradio_client downloads every output file" if args.client_downloads
        else "one HTTP fetch of the MP4, as a browser does",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "note": "app = `python app.py` in its own process, called with gradio_client end to end (safety, "
                "quota, previews, MP4+GIF+recipe, history, MP4 fetched); "
                "bare = pipeline call + export_to_video of the same display-size frames in the bench process.",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
