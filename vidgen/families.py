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

    def prepare_pipeline(self, mode: str, pipe: Any) -> Any:
        """Fix-ups a mode pipeline needs after `from_pretrained`/`from_pipe`; returns the pipeline."""
        return pipe

    def call_kwargs(self, plan: RenderPlan, pipe: Any, generator: torch.Generator) -> dict[str, Any]:
        raise NotImplementedError

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
        kwargs: dict[str, Any] = {
            "prompt": plan.prompt,
            "negative_prompt": plan.negative_prompt or None,
            "height": plan.height,
            "width": plan.width,
            "num_inference_steps": plan.steps,
            "guidance_scale": plan.guidance,
            "generator": generator,
            "output_type": "np",
        }
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
        video = images.unsqueeze(2).to(vae.device, vae.dtype)  # one-frame clips: [N, 3, 1, H, W]
        z = vae.encode(video).latent_dist.mode()
        mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
        return ((z - mean) / std)[:, :, 0].float()


ADAPTERS: dict[str, FamilyAdapter] = {adapter.name: adapter for adapter in (WanAdapter(),)}


def adapter_for(family: str) -> FamilyAdapter:
    if family not in ADAPTERS:
        raise KeyError(f"No adapter for model family '{family}'. Known: {', '.join(ADAPTERS)}.")
    return ADAPTERS[family]


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
        latents = adapter.encode_for_preview(pipe, images)  # [N, C, h, w]
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
