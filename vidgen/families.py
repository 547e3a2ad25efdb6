"""Per-family knowledge: how a request becomes pipeline arguments, and how latents become a live preview.

Each diffusers family names its arguments differently (SVD has no prompt, LTX wants a frame rate, Wan's
video-to-video takes the clip's own length). One adapter per family keeps that knowledge in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from vidgen.catalog import IMAGE_TO_VIDEO, VIDEO_TO_VIDEO


@dataclass(frozen=True)
class RenderPlan:
    """Everything a pipeline call needs, already validated and resolved against the catalog."""

    mode: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance: float
    seed: int
    image: Image.Image | None = None
    last_image: Image.Image | None = None
    video: tuple[Image.Image, ...] | None = None
    strength: float | None = None
    motion: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    output_camera: tuple[tuple[str, float], ...] = ()  # Director Mode move applied to the rendered frames
    guide_camera: tuple[tuple[str, float], ...] = ()  # Director Mode: render a first frame, warp it, guide from it


class FamilyAdapter:
    """Base adapter; subclasses name their family and override what differs."""

    name = "base"

    def frame_count(self, seconds: float, fps: int, step: int, offset: int, max_frames: int) -> int:
        """The valid frame count closest to `seconds` of video (families need e.g. 4k+1 frames)."""
        wanted = max(1, round(seconds * fps))
        k = max(0, round((wanted - offset) / step))
        frames = k * step + offset
        while frames > max_frames:
            frames -= step
        return max(frames, offset if offset > 0 else step)

    def pipeline_mode(self, plan: RenderPlan) -> str:
        """Which of the model's mode pipelines (catalog `pipelines` key) runs `plan`; usually its own mode."""
        return plan.mode

    def prepare_pipeline(self, mode: str, pipe: Any) -> Any:
        """Fix-ups a mode pipeline needs after `from_pretrained`/`share_components`; returns the pipeline."""
        return pipe

    def call_kwargs(self, plan: RenderPlan, pipe: Any, generator: torch.Generator) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def text_kwargs(plan: RenderPlan, generator: torch.Generator) -> dict[str, Any]:
        """Arguments every prompted diffusers video pipeline takes under the same names."""
        return {
            "prompt": plan.prompt, "negative_prompt": plan.negative_prompt or None,
            "height": plan.height, "width": plan.width, "num_inference_steps": plan.steps,
            "guidance_scale": plan.guidance, "generator": generator, "output_type": "np",
        }

    def preview_latents(self, latents: torch.Tensor, pipe: Any, plan: RenderPlan) -> torch.Tensor:
        """Latents from the step callback as [channels, frames, h, w] in the space `encode_for_preview` uses."""
        return latents[0]

    def encode_for_preview(self, pipe: Any, images: torch.Tensor) -> torch.Tensor:
        """Encode [N, 3, H, W] images in [-1, 1] into the denoiser's latent space: [N, C, h, w]."""
        raise NotImplementedError


class WanAdapter(FamilyAdapter):
    name = "wan"

    def prepare_pipeline(self, mode: str, pipe: Any) -> Any:
        # diffusers 0.42's WanVideoToVideoPipeline derives its scale factors from the VAE's downsampling
        # list, which is wrong for patchifying VAEs (Wan 2.2, the bundled model); the config has the truth.
        if mode == VIDEO_TO_VIDEO:
            from diffusers.video_processor import VideoProcessor

            pipe.vae_scale_factor_spatial = pipe.vae.config.scale_factor_spatial
            pipe.vae_scale_factor_temporal = pipe.vae.config.scale_factor_temporal
            pipe.video_processor = VideoProcessor(vae_scale_factor=pipe.vae_scale_factor_spatial)
        return pipe

    def call_kwargs(self, plan: RenderPlan, pipe: Any, generator: torch.Generator) -> dict[str, Any]:
        kwargs = self.text_kwargs(plan, generator)
        if plan.mode == VIDEO_TO_VIDEO:
            kwargs["video"] = list(plan.video or ())
            kwargs["strength"] = plan.strength
        else:
            # Wan rounds num_frames to 1 + k * temporal_factor; with factor 1 that would add a frame.
            temporal = pipe.vae_scale_factor_temporal
            kwargs["num_frames"] = plan.num_frames - 1 if temporal == 1 else plan.num_frames
        if plan.mode == IMAGE_TO_VIDEO:
            kwargs["image"] = plan.image
            if plan.last_image is not None:
                kwargs["last_image"] = plan.last_image
        kwargs.update(dict(plan.extra))
        return kwargs

    def preview_latents(self, latents: torch.Tensor, pipe: Any, plan: RenderPlan) -> torch.Tensor:
        return latents[0].float()

    def encode_for_preview(self, pipe: Any, images: torch.Tensor) -> torch.Tensor:
        vae = pipe.vae
        z = vae.encode(vae_input(pipe, images.unsqueeze(2))).latent_dist.mode()  # one-frame clips [N, 3, 1, H, W]
        mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
        return ((z - mean) / std)[:, :, 0].float()


class LTXAdapter(FamilyAdapter):
    """LTX-Video: text/image to video with LTXPipeline/LTXImageToVideoPipeline; LTXConditionPipeline does
    video to video (the clip as a partly-noised condition) and first+last keyframes."""

    name = "ltx"

    def pipeline_mode(self, plan: RenderPlan) -> str:
        # Keyframes need the condition pipeline, which the catalog lists under video_to_video.
        if plan.mode == IMAGE_TO_VIDEO and plan.last_image is not None:
            return VIDEO_TO_VIDEO
        return plan.mode

    def call_kwargs(self, plan: RenderPlan, pipe: Any, generator: torch.Generator) -> dict[str, Any]:
        from diffusers import LTXConditionPipeline
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        if isinstance(pipe, LTXConditionPipeline) or plan.mode == IMAGE_TO_VIDEO:
            # These two sample the VAE's posterior on the device with the generator, so it has to live there.
            generator = torch.Generator(pipe._execution_device).manual_seed(generator.initial_seed())
        kwargs = {**self.text_kwargs(plan, generator), "num_frames": plan.num_frames, "frame_rate": plan.fps}
        if isinstance(pipe, LTXConditionPipeline):
            kwargs["conditions"] = self._conditions(plan, LTXVideoCondition)
        elif plan.mode == IMAGE_TO_VIDEO:
            kwargs["image"] = plan.image
        kwargs.update(dict(plan.extra))
        return kwargs

    def _conditions(self, plan: RenderPlan, condition: type) -> list[Any]:
        if plan.mode == VIDEO_TO_VIDEO:
            # Condition strength is how much of the clip is kept; vidgen's strength is how much changes.
            return [condition(video=list(plan.video or ()), frame_index=0, strength=1.0 - (plan.strength or 0.0))]
        if plan.mode == IMAGE_TO_VIDEO:
            keyframes = [condition(image=plan.image, frame_index=0, strength=1.0)]
            if plan.last_image is not None:
                keyframes.append(condition(image=plan.last_image, frame_index=plan.num_frames - 1, strength=1.0))
            return keyframes
        return []

    def preview_latents(self, latents: torch.Tensor, pipe: Any, plan: RenderPlan) -> torch.Tensor:
        # Packed tokens [B, S, C]; the condition pipeline puts extra keyframe tokens first, so take the last S.
        frames = (plan.num_frames - 1) // pipe.vae_temporal_compression_ratio + 1
        h = plan.height // pipe.vae_spatial_compression_ratio
        w = plan.width // pipe.vae_spatial_compression_ratio
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        tokens = latents[:, -(frames // pt) * (h // p) * (w // p) :]
        return pipe._unpack_latents(tokens, frames // pt, h // p, w // p, p, pt)[0].float()

    def encode_for_preview(self, pipe: Any, images: torch.Tensor) -> torch.Tensor:
        vae = pipe.vae
        z = vae.encode(vae_input(pipe, images.unsqueeze(2))).latent_dist.mode()
        mean = vae.latents_mean.view(1, -1, 1, 1, 1).to(z)
        std = vae.latents_std.view(1, -1, 1, 1, 1).to(z)
        return ((z - mean) * vae.config.scaling_factor / std)[:, :, 0].float()


class SVDAdapter(FamilyAdapter):
    """Stable Video Diffusion: image only, no prompt; motion comes from micro-conditioning (motion_bucket_id)."""

    name = "svd"

    def call_kwargs(self, plan: RenderPlan, pipe: Any, generator: torch.Generator) -> dict[str, Any]:
        if plan.mode != IMAGE_TO_VIDEO:
            raise ValueError("Stable Video Diffusion only animates an image.")
        kwargs: dict[str, Any] = {
            "image": plan.image,
            "height": plan.height,
            "width": plan.width,
            "num_frames": plan.num_frames,
            "num_inference_steps": plan.steps,
            # SVD ramps guidance linearly over the frames from min to max; the plan's guidance is the max.
            "min_guidance_scale": 1.0,
            "max_guidance_scale": plan.guidance,
            # The pipeline conditions the UNet on fps - 1 itself, so the real output rate goes in.
            "fps": plan.fps,
            "motion_bucket_id": 127,
            "noise_aug_strength": 0.02,
            "decode_chunk_size": 8,
            "generator": generator,
            "output_type": "np",
        }
        kwargs.update(dict(plan.extra))
        kwargs["motion_bucket_id"] = int(round(kwargs["motion_bucket_id"]))  # a bucket index, not a float
        return kwargs

    def preview_latents(self, latents: torch.Tensor, pipe: Any, plan: RenderPlan) -> torch.Tensor:
        return latents[0].permute(1, 0, 2, 3).float()  # [F, C, h, w] -> [C, F, h, w]

    def encode_for_preview(self, pipe: Any, images: torch.Tensor) -> torch.Tensor:
        vae = pipe.vae
        z = vae.encode(vae_input(pipe, images)).latent_dist.mode()
        return (z * vae.config.scaling_factor).float()  # the pipeline decodes latents / scaling_factor


ADAPTERS: dict[str, FamilyAdapter] = {adapter.name: adapter for adapter in (WanAdapter(), LTXAdapter(), SVDAdapter())}


def adapter_for(family: str) -> FamilyAdapter:
    if family not in ADAPTERS:
        raise KeyError(f"No adapter for model family '{family}'. Known: {', '.join(ADAPTERS)}.")
    return ADAPTERS[family]


def configure_scheduler(pipe: Any, overrides: dict[str, Any]) -> Any:
    """Apply a catalog entry's `scheduler` overrides (e.g. Wan's flow_shift) to a freshly loaded pipeline.

    Call it on the base pipeline before deriving the other modes (`share_components`), which share the scheduler.
    An optional "class" key swaps the scheduler class; every other key overrides the loaded config.
    """
    if not overrides:
        return pipe
    import diffusers

    options = dict(overrides)
    scheduler_class = getattr(diffusers, options.pop("class")) if "class" in options else type(pipe.scheduler)
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **options)
    return pipe


def vae_input(pipe: Any, images: torch.Tensor) -> torch.Tensor:
    """`images` on the device the VAE computes on, in its dtype. Not `vae.device`: under CPU offload that is
    "cpu" (model offload) or "meta" (sequential offload) while the offload hooks run the VAE on the GPU."""
    return images.to(pipe._execution_device, pipe.vae.dtype)


def fit_preview_projection(adapter: FamilyAdapter, pipe: Any, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Least-squares linear map from latent channels (+ bias) to RGB, fitted once per loaded model.

    Encoding a handful of random colour-block images through the model's own VAE gives pairs of (latent
    pixel, average RGB of the patch it covers); the fit is then a [C + 1, 3] matrix, so each live preview
    costs one small matmul instead of a VAE decode.
    """
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(-1, 1, size=(8, 3, 4, 4)).astype(np.float32)
    images = torch.nn.functional.interpolate(torch.from_numpy(blocks), size=(size, size), mode="nearest")
    with torch.no_grad():
        latents = adapter.encode_for_preview(pipe, images).cpu()  # [N, C, h, w]; previews project on the CPU
    n, channels, h, w = latents.shape
    target = torch.nn.functional.adaptive_avg_pool2d(images, (h, w))  # [N, 3, h, w]
    x = latents.permute(0, 2, 3, 1).reshape(-1, channels)
    x = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    y = target.permute(0, 2, 3, 1).reshape(-1, 3)
    return torch.linalg.lstsq(x, y).solution  # [C + 1, 3]


def project_to_rgb(latents: torch.Tensor, projection: torch.Tensor, frame: int = -1) -> np.ndarray:
    """One latent frame [C, F, h, w] -> uint8 RGB [h, w, 3] through the fitted projection."""
    z = latents[:, frame].float().cpu()  # [C, h, w]
    x = z.permute(1, 2, 0)
    rgb = x @ projection[:-1] + projection[-1]
    return ((rgb.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).numpy()
