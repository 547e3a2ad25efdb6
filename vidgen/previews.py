"""Free Previews: a few first-frame stills from a prompt, rendered quickly, before paying for a video.

Each candidate is the first frame only, at a fraction of the model's steps, all candidates in one batched
call with one seed each. Previews cost no generation-seconds, but they pass the prompt safety filter before
any model work, the image filter after it, and the plan's preview rate limit (`Ledger.take_preview`). The
chosen still then becomes the first frame of an image-to-video render with the same prompt.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, ModelEntry
from vidgen.jobs import Services, check_and_audit
from vidgen.media import to_uint8, upscale
from vidgen.requests import ImageToVideoRequest, InvalidRequest, TextToVideoRequest, plan_render

DEFAULT_COUNT = 4
MAX_COUNT = 8
STEP_SHARE = 0.4  # previews use this share of the model's default steps


class PreviewRefused(Exception):
    """No previews were rendered; `kind` is invalid | blocked | rate_limited, str() is the user message."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class StillCandidate:
    seed: int
    image_path: Path  # native size: the conditioning image of the video render
    display_path: Path  # enlarged for the page


@dataclass(frozen=True)
class FreePreviews:
    preview_id: str
    model_id: str
    prompt: str
    steps: int
    candidates: list[StillCandidate]
    previews_today: int
    dropped: int = 0  # candidates the image filter removed

    def video_request(self, index: int, **settings: Any) -> ImageToVideoRequest:
        """The image-to-video request that turns candidate `index` into a video with the same prompt."""
        chosen = self.candidates[index]
        settings.setdefault("seed", chosen.seed)
        return ImageToVideoRequest(image_path=str(chosen.image_path), prompt=self.prompt, model_id=self.model_id,
                                   **settings)


def preview_steps(entry: ModelEntry) -> int:
    return int(max(entry.steps.min, round(entry.steps.default * STEP_SHARE)))


def preview_models(catalog) -> list[ModelEntry]:
    """Models that can draw a still from text and then animate it."""
    return [e for e in catalog.models.values() if TEXT_TO_VIDEO in e.pipelines and IMAGE_TO_VIDEO in e.pipelines]


def render_free_previews(
    services: Services, request: TextToVideoRequest, user: Any, count: int = DEFAULT_COUNT
) -> FreePreviews:
    """Render `count` first-frame candidates for `request`; raises PreviewRefused when nothing may run."""
    if not 1 <= count <= MAX_COUNT:
        raise PreviewRefused("invalid", f"Ask for 1 to {MAX_COUNT} previews.")
    try:
        entry, plan = plan_render(request, services.catalog, services.settings)
    except InvalidRequest as error:
        raise PreviewRefused("invalid", str(error)) from error
    if IMAGE_TO_VIDEO not in entry.pipelines:
        raise PreviewRefused("invalid", f"{entry.label} cannot animate a still; pick a model with Image to Video.")
    _check_prompt(services, plan, user)
    taken = _take_preview(services, user)
    plan = dataclasses.replace(plan, num_frames=1, steps=preview_steps(entry), output_camera=())
    stills = _render_stills(services, entry, plan, count)
    return _save(services, user, entry, dataclasses.replace(plan, prompt=request.prompt.strip()), stills, taken)


def _check_prompt(services: Services, plan, user: Any) -> None:
    if services.safety is None:
        return
    decision = check_and_audit(services, plan, [], user, "free-preview")
    if not decision.allowed:
        raise PreviewRefused("blocked", decision.user_message())


def _take_preview(services: Services, user: Any) -> int:
    if services.ledger is None:
        return 0
    from vidgen.quota.types import PreviewRateLimited

    try:
        return services.ledger.take_preview(user)
    except PreviewRateLimited as error:
        raise PreviewRefused("rate_limited", str(error)) from error


def _render_stills(services: Services, entry: ModelEntry, plan, count: int) -> np.ndarray:
    """One batched call: `count` first frames, seeds plan.seed, plan.seed + 1, ..."""
    cache = services.pipelines

    def render():
        pipe, model = cache.get(entry, TEXT_TO_VIDEO)
        kwargs = model.adapter.call_kwargs(plan, pipe, torch.Generator(device="cpu"))
        kwargs["generator"] = [torch.Generator(device="cpu").manual_seed(plan.seed + i) for i in range(count)]
        kwargs["num_videos_per_prompt"] = count
        with torch.inference_mode():
            return pipe(**kwargs)

    frames = np.asarray(cache.run_on_device(render).frames)  # [count, frames, H, W, 3]
    return to_uint8(frames[:, 0])


def _save(services: Services, user: Any, entry: ModelEntry, plan, stills: np.ndarray, taken: int) -> FreePreviews:
    preview_id = uuid.uuid4().hex
    folder = services.history.user_dir(_user_id(user)) / "previews" / preview_id
    folder.mkdir(parents=True, exist_ok=True)
    candidates, dropped = [], 0
    for index, still in enumerate(stills):
        if services.safety is not None and not services.safety.check_image(Image.fromarray(still)).allowed:
            dropped += 1
            continue
        seed = plan.seed + index
        native, display = folder / f"still-{index}-seed{seed}.png", folder / f"still-{index}-display.png"
        Image.fromarray(still).save(native)
        Image.fromarray(upscale(still[None], entry.display_scale)[0]).save(display)
        candidates.append(StillCandidate(seed, native, display))
    return FreePreviews(preview_id, entry.id, plan.prompt, plan.steps, candidates, taken, dropped)


def _user_id(user: Any) -> str:
    return getattr(user, "user_id", None) or str(user)
