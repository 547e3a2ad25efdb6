"""Family adapters against tiny random-weight pipelines of the real diffusers classes.

Each family's tiny pipeline is saved with `save_pretrained`, loaded back with the class a real catalog entry
names, the other modes are built over its modules (`share_components`), and every mode runs through
`adapter.call_kwargs`.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import replace
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_TO_VIDEO, Catalog, ModelEntry
from vidgen.families import (
    ADAPTERS,
    FamilyAdapter,
    RenderPlan,
    adapter_for,
    configure_scheduler,
    fit_preview_projection,
    project_to_rgb,
)
from vidgen.pipelines import PipelineCache, share_components
from vidgen.settings import PROJECT_ROOT, Settings
from vidgen.testing.tiny import TINY_ENTRIES, save_tiny

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

CATALOG = Catalog.load(PROJECT_ROOT / "vidgen" / "catalog.yaml")
# The real catalog entry whose pipeline classes load each family's tiny pipeline.
ENTRY_FOR_FAMILY = {"wan": "wan2.2-ti2v-5b", "ltx": "ltx-video-0.9.5", "svd": "svd-xt"}
# Toy sizes: multiples of each tiny VAE's spatial factor (Wan 2.2: 16 x patch 2, LTX: 32, SVD: 2).
TOY_SIZE = {"wan": (32, 32), "ltx": (64, 64), "svd": (32, 32)}
# Per family: the latent grid of one toy clip, (spatial factor, temporal factor).
LATENT_FACTORS = {"wan": (16, 4), "ltx": (32, 8), "svd": (2, 1)}


def _frames(family: str) -> int:
    return {"wan": 5, "ltx": 9, "svd": 4}[family]


def _image(width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> Image.Image:
    return Image.new("RGB", (width, height), color)


def _plan(family: str, mode: str, **changes) -> RenderPlan:
    width, height = TOY_SIZE[family]
    frames = _frames(family)
    plan = RenderPlan(
        mode=mode, prompt="a red ball moves left", negative_prompt="", width=width, height=height,
        num_frames=frames, fps=8, steps=2, guidance=3.0, seed=0,
    )
    if mode == IMAGE_TO_VIDEO:
        plan = replace(plan, image=_image(width, height))
    if mode == VIDEO_TO_VIDEO:
        clip = tuple(_image(width, height, (20 * i, 90, 160)) for i in range(frames))
        plan = replace(plan, video=clip, strength=0.6)
    return replace(plan, **changes)


class LoadedFamily:
    """A tiny pipeline loaded like a real model: base from `from_pretrained`, other modes over its modules."""

    def __init__(self, family: str, folder: Path):
        self.entry: ModelEntry = CATALOG.get(ENTRY_FOR_FAMILY[family])
        self.adapter: FamilyAdapter = adapter_for(family)
        first_mode = self.entry.modes[0]
        base_class = getattr(diffusers, self.entry.pipelines[first_mode])
        self.base = self.adapter.prepare_pipeline(first_mode, base_class.from_pretrained(folder))
        self.base.set_progress_bar_config(disable=True)
        self.by_mode = {first_mode: self.base}
        for mode in self.entry.modes[1:]:
            pipe = share_components(getattr(diffusers, self.entry.pipelines[mode]), self.base)
            pipe.set_progress_bar_config(disable=True)
            self.by_mode[mode] = self.adapter.prepare_pipeline(mode, pipe)

    def run(self, plan: RenderPlan) -> tuple[np.ndarray, torch.Tensor]:
        """Generate through the adapter; returns the frames and the preview latents of the last step."""
        pipe = self.by_mode[self.adapter.pipeline_mode(plan)]
        seen: dict[str, torch.Tensor] = {}

        def keep_latents(pipeline, step, timestep, tensors):
            seen["latents"] = tensors["latents"]
            return tensors

        kwargs = self.adapter.call_kwargs(plan, pipe, torch.Generator().manual_seed(plan.seed))
        frames = pipe(**kwargs, callback_on_step_end=keep_latents).frames
        return np.asarray(frames), self.adapter.preview_latents(seen["latents"], pipe, plan)


@pytest.fixture(scope="module", params=sorted(ENTRY_FOR_FAMILY))
def loaded(request, tmp_path_factory) -> LoadedFamily:
    folder = save_tiny(request.param, tmp_path_factory.mktemp(f"tiny-{request.param}"))
    assert (folder / "model_index.json").exists()
    return LoadedFamily(request.param, folder)


def test_modes_share_components(loaded: LoadedFamily):
    denoiser = "unet" if loaded.adapter.name == "svd" else "transformer"
    for mode, pipe in loaded.by_mode.items():
        assert type(pipe).__name__ == loaded.entry.pipelines[mode]
        assert getattr(pipe, denoiser) is getattr(loaded.base, denoiser)
        assert pipe.vae is loaded.base.vae


def test_every_mode_generates_the_planned_clip(loaded: LoadedFamily):
    family = loaded.adapter.name
    spatial, temporal = LATENT_FACTORS[family]
    for mode in loaded.entry.modes:
        plan = _plan(family, mode)
        frames, preview = loaded.run(plan)
        assert frames.shape == (1, plan.num_frames, plan.height, plan.width, 3), mode
        assert np.isfinite(frames).all()
        latent_frames = (plan.num_frames - 1) // temporal + 1
        assert preview.shape[1:] == (latent_frames, plan.height // spatial, plan.width // spatial), mode


def test_preview_projection_gives_rgb_of_the_latent_size(loaded: LoadedFamily):
    family = loaded.adapter.name
    plan = _plan(family, loaded.entry.modes[0])
    _, preview = loaded.run(plan)
    projection = fit_preview_projection(loaded.adapter, loaded.base)
    channels = preview.shape[0]
    assert projection.shape == (channels + 1, 3)
    rgb = project_to_rgb(preview, projection)
    assert rgb.shape == (*preview.shape[2:], 3) and rgb.dtype == np.uint8


def _pipeline_own_latents(loaded: LoadedFamily, images: torch.Tensor) -> torch.Tensor:
    """The same images in latent space as each pipeline itself defines it (its own normalisation code)."""
    family, vae = loaded.adapter.name, loaded.base.vae
    with torch.no_grad():
        if family == "wan":  # WanImageToVideoPipeline normalises its first-frame condition (argmax encode)
            i2v = loaded.by_mode[IMAGE_TO_VIDEO]
            height, width = images.shape[2:]
            _, condition, _ = i2v.prepare_latents(
                images, 1, vae.config.z_dim, height, width, 1, torch.float32, torch.device("cpu")
            )
            return condition[:, :, 0]
        if family == "ltx":  # LTX decodes through _denormalize_latents; invert it on the raw VAE latents
            raw = vae.encode(images.unsqueeze(2)).latent_dist.mode()
            mean, std = vae.latents_mean, vae.latents_std
            ours = loaded.adapter.encode_for_preview(loaded.base, images).unsqueeze(2)
            back = loaded.base._denormalize_latents(ours, mean, std, vae.config.scaling_factor)
            torch.testing.assert_close(back, raw, rtol=1e-4, atol=1e-5)
            return ours[:, :, 0]
        # SVD: decode_latents(scaled latents) must equal decoding the raw VAE latents
        raw = vae.encode(images).latent_dist.mode()
        ours = loaded.adapter.encode_for_preview(loaded.base, images)
        decoded = loaded.base.decode_latents(ours.unsqueeze(1), num_frames=1, decode_chunk_size=1)
        reference = vae.decode(raw, num_frames=1).sample
        torch.testing.assert_close(decoded[:, :, 0], reference, rtol=1e-4, atol=1e-4)
        return ours


def test_preview_encoding_matches_the_pipelines_latent_space(loaded: LoadedFamily):
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        ours = loaded.adapter.encode_for_preview(loaded.base, images)
    assert ours.dtype == torch.float32 and ours.shape[0] == 2
    torch.testing.assert_close(ours, _pipeline_own_latents(loaded, images), rtol=1e-4, atol=1e-5)


def test_ltx_keyframes_use_the_condition_pipeline(loaded: LoadedFamily):
    if loaded.adapter.name != "ltx":
        pytest.skip("first+last keyframes are an LTX feature")
    width, height = TOY_SIZE["ltx"]
    plan = _plan("ltx", IMAGE_TO_VIDEO, num_frames=17, last_image=_image(width, height, (30, 30, 220)))
    assert loaded.adapter.pipeline_mode(plan) == VIDEO_TO_VIDEO
    frames, preview = loaded.run(plan)
    assert frames.shape == (1, 17, height, width, 3)
    # The last keyframe adds its own tokens in front; the preview keeps only the clip's 3 latent frames.
    assert preview.shape[1:] == (3, height // 32, width // 32)


def test_ltx_video_to_video_keeps_more_of_the_clip_at_low_strength(loaded: LoadedFamily):
    if loaded.adapter.name != "ltx":
        pytest.skip("LTX condition strength mapping")
    pipe = loaded.by_mode[VIDEO_TO_VIDEO]
    low = loaded.adapter.call_kwargs(_plan("ltx", VIDEO_TO_VIDEO, strength=0.2), pipe, torch.Generator())
    high = loaded.adapter.call_kwargs(_plan("ltx", VIDEO_TO_VIDEO, strength=0.9), pipe, torch.Generator())
    assert low["conditions"][0].strength == pytest.approx(0.8)
    assert high["conditions"][0].strength == pytest.approx(0.1)
    assert len(low["conditions"][0].video) == _frames("ltx")


def test_svd_motion_bucket_is_an_integer_from_the_catalog_mapping():
    entry = CATALOG.get("svd-xt")
    plan = _plan("svd", IMAGE_TO_VIDEO, motion=10, extra=((entry.motion.parameter, entry.motion.value(10)),))
    kwargs = adapter_for("svd").call_kwargs(plan, None, torch.Generator())
    assert kwargs["motion_bucket_id"] == 223 and isinstance(kwargs["motion_bucket_id"], int)
    assert "prompt" not in kwargs and kwargs["fps"] == plan.fps
    with pytest.raises(ValueError):
        adapter_for("svd").call_kwargs(_plan("svd", TEXT_TO_VIDEO), None, torch.Generator())


def test_configure_scheduler_overrides_the_shared_scheduler(tmp_path):
    folder = save_tiny("wan", tmp_path / "wan")
    base = diffusers.WanPipeline.from_pretrained(folder)
    configure_scheduler(base, {"shift": 5.0})
    assert base.scheduler.config.shift == 5.0
    assert diffusers.WanVideoToVideoPipeline.from_pipe(base).scheduler is base.scheduler
    configure_scheduler(base, {"class": "UniPCMultistepScheduler", "prediction_type": "flow_prediction",
                               "use_flow_sigmas": True, "flow_shift": 3.0})
    assert type(base.scheduler).__name__ == "UniPCMultistepScheduler" and base.scheduler.config.flow_shift == 3.0


@pytest.mark.parametrize("entry", list(CATALOG.models.values()), ids=lambda e: e.id)
def test_frame_counts_follow_each_models_rule(entry: ModelEntry):
    adapter = adapter_for(entry.family)
    rule = entry.frames
    for seconds in (*entry.durations, entry.default_duration):
        frames = adapter.frame_count(seconds, entry.fps, rule.step, rule.offset, rule.max)
        assert (frames - rule.offset) % rule.step == 0 and 1 <= frames <= rule.max
        assert abs(frames - seconds * entry.fps) <= rule.step, (seconds, frames)


def test_frame_count_known_values():
    wan, ltx = adapter_for("wan"), adapter_for("ltx")
    assert wan.frame_count(5, 16, 4, 1, 81) == 81  # Wan 2.1: 5 s at 16 fps
    assert wan.frame_count(5, 24, 4, 1, 121) == 121  # Wan 2.2 TI2V: 5 s at 24 fps
    assert ltx.frame_count(5, 24, 8, 1, 161) == 121
    assert ltx.frame_count(60, 24, 8, 1, 161) == 161  # capped at the model's maximum
    assert adapter_for("svd").frame_count(3.6, 7, 1, 0, 25) == 25


@pytest.mark.parametrize("entry", list(CATALOG.models.values()), ids=lambda e: e.id)
def test_catalog_entry_names_real_pipelines_and_arguments(entry: ModelEntry):
    adapter = ADAPTERS[entry.family]
    assert entry.modes, entry.id
    for class_name in entry.pipelines.values():
        pipeline_class = getattr(diffusers, class_name, None)
        assert pipeline_class is not None, f"{entry.id}: diffusers has no {class_name}"
        accepted = inspect.signature(pipeline_class.__call__).parameters
        # Entry-wide call arguments and the motion parameter go to every mode's pipeline call.
        for name in (*entry.call_kwargs, *([entry.motion.parameter] if entry.motion else [])):
            assert name in accepted, f"{entry.id}: {class_name} takes no '{name}'"
    for mode in entry.modes:
        plan = replace(_plan(entry.family, mode), last_image=None)
        assert adapter.pipeline_mode(plan) in entry.pipelines
    if entry.keyframes:
        keyframe_plan = _plan(entry.family, IMAGE_TO_VIDEO, last_image=_image(8, 8))
        assert adapter.pipeline_mode(keyframe_plan) in entry.pipelines
    for resolution in entry.resolutions:
        assert resolution.width % 16 == 0 and resolution.height % 16 == 0
    assert entry.builtin or entry.model_card.startswith("https://huggingface.co/")
    assert entry.camera in ("none", "text", "warp")


@pytest.fixture(scope="module")
def tiny_catalog(tmp_path_factory) -> Catalog:
    models = {}
    for family, spec in TINY_ENTRIES.items():
        folder = save_tiny(family, tmp_path_factory.mktemp(f"cached-{family}"))
        models[f"tiny-{family}"] = {**spec, "source": str(folder)}
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump({"models": models}))
    return Catalog.load(path)


def _plan_for_entry(entry: ModelEntry, mode: str, motion: int = 7) -> RenderPlan:
    """A plan as the request layer builds it: frame rule, catalog call_kwargs and the motion mapping."""
    rule = entry.frames
    frames = adapter_for(entry.family).frame_count(entry.default_duration, entry.fps, rule.step, rule.offset, rule.max)
    size = entry.default_resolution
    plan = replace(_plan(entry.family, mode), width=size.width, height=size.height, num_frames=frames, fps=entry.fps)
    if mode == VIDEO_TO_VIDEO:
        plan = replace(plan, video=tuple(_image(size.width, size.height, (9 * i, 80, 120)) for i in range(frames)))
    extra = {**entry.call_kwargs, entry.motion.parameter: entry.motion.value(motion)}
    return replace(plan, motion=motion, extra=tuple(sorted(extra.items())))


def test_pipeline_cache_serves_every_mode_of_each_family_from_one_load(tiny_catalog: Catalog, tmp_path):
    settings = Settings.load(
        env={}, catalog_path=str(tmp_path / "unused.yaml"), device="cpu", data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "out"),
    )
    cache = PipelineCache(settings)
    for entry in tiny_catalog.models.values():
        adapter = adapter_for(entry.family)
        plans = [_plan_for_entry(entry, mode) for mode in entry.modes]
        if entry.keyframes:
            size = entry.default_resolution
            plans.append(replace(plans[1], last_image=_image(size.width, size.height, (10, 10, 200))))
        for plan in plans:
            pipe, model = cache.get(entry, adapter.pipeline_mode(plan))
            kwargs = adapter.call_kwargs(plan, pipe, torch.Generator().manual_seed(1))
            frames = np.asarray(pipe(**kwargs).frames)
            assert frames.shape == (1, plan.num_frames, plan.height, plan.width, 3), (entry.id, plan.mode)
        assert cache.load_counts[entry.id] == 1
        assert set(model.by_mode) == set(entry.modes)


def test_every_mode_keeps_the_dtype_the_model_was_loaded_in(tiny_catalog: Catalog, tmp_path):
    """diffusers' `from_pipe` casts the modules it shares to float32: a bf16 model must stay bf16 in every mode."""
    settings = Settings.load(
        env={}, catalog_path=str(tmp_path / "unused.yaml"), device="cpu", dtype="bfloat16",
        data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"),
    )
    cache = PipelineCache(settings)
    for entry in tiny_catalog.models.values():
        for mode in entry.modes:
            pipe, _ = cache.get(entry, mode)
            denoiser = pipe.unet if entry.family == "svd" else pipe.transformer
            assert (pipe.vae.dtype, denoiser.dtype) == (torch.bfloat16, torch.bfloat16), (entry.id, mode)
            assert pipe.vae is cache.get(entry, entry.modes[0])[0].vae  # shared, not copied
