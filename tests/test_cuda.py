"""The job path on CUDA: every catalog family's tiny pipeline and the bundled toy model, in bfloat16 and float16,
under each memory profile, end to end (cache, live previews, MP4 + recipe, history).

Skipped without a GPU (CI has none). On a CUDA host: `pytest tests/test_cuda.py`. Safety and quota are left out
of these services: both run on the CPU whatever the device, and the CPU suite covers them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from vidgen.catalog import Catalog
from vidgen.history import History
from vidgen.jobs import Done, Preview, Services, run_job
from vidgen.media import probe, write_mp4
from vidgen.pipelines import PipelineCache
from vidgen.requests import ImageToVideoRequest, TextToVideoRequest, VideoToVideoRequest, plan_render
from vidgen.settings import PROJECT_ROOT, Settings
from vidgen.testing.tiny import TINY_ENTRIES, save_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

DTYPES = ["bfloat16", "float16"]
PROFILES = ["gpu", "model_offload", "sequential_offload"]
PROMPT = "a red circle moves to the right on a white background"


@pytest.fixture(scope="module")
def cuda_catalog(tmp_path_factory) -> Path:
    """The three tiny families plus the bundled toy model, as the app's catalog would name them."""
    folder = tmp_path_factory.mktemp("cuda-models")
    models = {
        f"tiny-{family}": {**entry, "source": str(save_tiny(family, folder / family))}
        for family, entry in TINY_ENTRIES.items()
    }
    real = yaml.safe_load((PROJECT_ROOT / "vidgen" / "catalog.yaml").read_text())["models"]["vidgen-toy"]
    models["vidgen-toy"] = {**real, "source": str(PROJECT_ROOT / real["source"])}
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump({"default_model": "vidgen-toy", "models": models}))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cuda-inputs")
    image = folder / "first_frame.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image)
    frames = np.zeros((16, 64, 64, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame[:, : 4 * i] = (30, 30, 220)
    return {"image": image, "video": write_mp4(frames, 8, folder / "input.mp4")}


def cuda_services(tmp_path: Path, catalog_path: Path, **settings) -> Services:
    settings = Settings.load(
        env={}, catalog_path=str(catalog_path), device="cuda", data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "outputs"), **settings,
    )
    return Services(
        settings=settings, catalog=Catalog.load(settings.catalog_path), pipelines=PipelineCache(settings),
        history=History(settings.data_dir, settings.output_dir),
    )


def requests_for(model_id: str, modes: tuple[str, ...], inputs: dict[str, Path]) -> list:
    common = {"prompt": PROMPT, "model_id": model_id}
    made = {
        "text_to_video": TextToVideoRequest(**common, seed=1),
        "image_to_video": ImageToVideoRequest(image_path=str(inputs["image"]), **common, seed=2),
        "video_to_video": VideoToVideoRequest(video_path=str(inputs["video"]), **common, seed=3),
    }
    return [made[mode] for mode in modes]


def assert_playable(services: Services, request, user: str) -> Done:
    """One job: it ends Done, streamed a preview, and wrote the MP4 the plan asked for, with its recipe."""
    entry, plan = plan_render(request, services.catalog, services.settings)
    events = list(run_job(services, request, user))
    last = events[-1]
    assert isinstance(last, Done), f"{entry.id} {request.mode}: {last}"
    assert any(isinstance(e, Preview) for e in events), f"{entry.id} {request.mode}: no live preview"
    info = probe(last.result.video_path)
    scale = entry.display_scale
    assert (info.frames, info.fps) == (plan.num_frames, float(plan.fps)), f"{entry.id} {request.mode}"
    assert (info.width, info.height) == (plan.width * scale, plan.height * scale), f"{entry.id} {request.mode}"
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert json.loads(info.comment)["request"]["seed"] == request.seed
    assert last.result.frames.std() > 0, f"{entry.id} {request.mode}: a constant clip"
    return last


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_model_and_mode_renders_on_cuda(tmp_path, cuda_catalog, inputs, dtype, profile):
    services = cuda_services(tmp_path, cuda_catalog, dtype=dtype, memory_profile=profile, memory_budget_gb=64)
    for entry in services.catalog.models.values():
        for request in requests_for(entry.id, entry.modes, inputs):
            assert_playable(services, request, user="cuda-check")
        for mode in entry.modes:  # sharing modules between modes must not cast them (diffusers' from_pipe did)
            pipe, _ = services.pipelines.get(entry, mode)
            denoiser = pipe.unet if entry.family == "svd" else pipe.transformer
            assert (pipe.vae.dtype, denoiser.dtype) == (getattr(torch, dtype),) * 2, (entry.id, mode)
    assert all(count == 1 for count in services.pipelines.load_counts.values())  # one load per model


def test_vae_tiling_and_director_mode_on_cuda(tmp_path, cuda_catalog, inputs):
    services = cuda_services(tmp_path, cuda_catalog, dtype="bfloat16", memory_profile="gpu", vae_tiling=True)
    panned = TextToVideoRequest(prompt="a blue square on a black background", camera={"pan": 8}, seed=4)
    assert_playable(services, panned, user="cuda-check")


def test_same_seed_gives_the_same_clip_on_cuda(tmp_path, cuda_catalog):
    services = cuda_services(tmp_path, cuda_catalog, dtype="bfloat16", memory_profile="gpu")
    request = TextToVideoRequest(prompt=PROMPT, seed=7)
    first = assert_playable(services, request, user="cuda-check")
    again = assert_playable(services, request, user="cuda-check")
    assert np.array_equal(first.result.frames, again.result.frames)
