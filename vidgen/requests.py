"""Typed requests, one per mode, validated against the catalog before any model work.

A request is what the user asked for (prompt, model, seconds, files by path). `plan_render` checks it against
the chosen model's catalog entry, fills defaults, loads the input media within limits and returns the
`RenderPlan` that the pipeline call needs. Every problem becomes an `InvalidRequest` with a plain message.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_TO_VIDEO, Catalog, ModelEntry
from vidgen.director import CameraMove, apply_camera
from vidgen.families import RenderPlan, adapter_for
from vidgen.media import MediaError, read_image, read_video
from vidgen.settings import Settings

MAX_PROMPT_CHARS = 2000
MAX_SEED = 2**32 - 1


class InvalidRequest(ValueError):
    """The request cannot be rendered as asked; str(error) is the message for the user."""


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """Fields shared by every mode. None means 'the model's default'; a seed of None or -1 means random."""

    mode: ClassVar[str] = ""
    prompt: str = ""
    negative_prompt: str = ""
    model_id: str = ""
    duration_s: float | None = None
    resolution: str = ""
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    motion: int | None = None
    camera: dict[str, float] = field(default_factory=dict)
    prompt_required: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, **dataclasses.asdict(self)}

    def input_files(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True, kw_only=True)
class TextToVideoRequest(GenerationRequest):
    mode: ClassVar[str] = TEXT_TO_VIDEO


@dataclass(frozen=True, kw_only=True)
class ImageToVideoRequest(GenerationRequest):
    """An image plus an optional prompt (Runway's 'Image only' and 'Text + Image' modes)."""

    mode: ClassVar[str] = IMAGE_TO_VIDEO
    prompt_required: ClassVar[bool] = False
    image_path: str = ""
    last_image_path: str = ""

    def input_files(self) -> dict[str, str]:
        files = {"image": self.image_path}
        if self.last_image_path:
            files["last_image"] = self.last_image_path
        return files


@dataclass(frozen=True, kw_only=True)
class VideoToVideoRequest(GenerationRequest):
    """Restyle an uploaded clip by prompt (Runway Gen-1); strength 0 keeps the clip, 1 ignores it."""

    mode: ClassVar[str] = VIDEO_TO_VIDEO
    video_path: str = ""
    strength: float | None = None

    def input_files(self) -> dict[str, str]:
        return {"video": self.video_path}


REQUEST_TYPES: dict[str, type[GenerationRequest]] = {
    cls.mode: cls for cls in (TextToVideoRequest, ImageToVideoRequest, VideoToVideoRequest)
}


def request_from_dict(data: dict[str, Any]) -> GenerationRequest:
    """Rebuild a request from `to_dict()` output (recipes, presets, the CLI); unknown keys are errors."""
    data = dict(data)
    mode = data.pop("mode", TEXT_TO_VIDEO)
    if mode not in REQUEST_TYPES:
        raise InvalidRequest(f"Unknown mode '{mode}'. Choose one of: {', '.join(REQUEST_TYPES)}.")
    cls = REQUEST_TYPES[mode]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InvalidRequest(f"Unknown setting(s) for {mode}: {', '.join(sorted(unknown))}.")
    return cls(**data)


def resolve_seed(seed: int | None) -> int:
    if seed is None or seed < 0:
        return secrets.randbelow(MAX_SEED)
    if seed > MAX_SEED:
        raise InvalidRequest(f"Seed must be between 0 and {MAX_SEED} (or -1 for random).")
    return int(seed)


def plan_render(request: GenerationRequest, catalog: Catalog, settings: Settings) -> tuple[ModelEntry, RenderPlan]:
    """Validate `request` against its model and load its inputs; raises InvalidRequest."""
    try:
        entry = catalog.get(request.model_id or None)
    except KeyError as error:
        raise InvalidRequest(str(error.args[0])) from error
    if request.mode not in entry.pipelines:
        modes = ", ".join(m.replace("_", " ") for m in entry.modes)
        raise InvalidRequest(f"{entry.label} cannot do {request.mode.replace('_', ' ')}; it supports: {modes}.")
    prompt = request.prompt.strip()
    if request.prompt_required and not prompt:
        raise InvalidRequest("Please enter a prompt describing the video.")
    if len(prompt) > MAX_PROMPT_CHARS or len(request.negative_prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"Prompts are limited to {MAX_PROMPT_CHARS} characters.")
    try:
        resolution = entry.resolution(request.resolution)
    except KeyError as error:
        raise InvalidRequest(str(error.args[0])) from error
    duration = entry.default_duration if request.duration_s is None else float(request.duration_s)
    if not min(entry.durations) <= duration <= max(entry.durations):
        raise InvalidRequest(
            f"{entry.label} makes clips of {min(entry.durations):g} to {max(entry.durations):g} s, not {duration:g} s."
        )
    steps = int(entry.steps.default if request.steps is None else request.steps)
    if not entry.steps.contains(steps):
        raise InvalidRequest(f"Steps must be between {entry.steps.min:g} and {entry.steps.max:g}.")
    guidance = float(entry.guidance.default if request.guidance is None else request.guidance)
    if not entry.guidance.contains(guidance):
        raise InvalidRequest(f"Guidance must be between {entry.guidance.min:g} and {entry.guidance.max:g}.")
    if request.motion is not None and not 1 <= request.motion <= 10:
        raise InvalidRequest("General Motion must be between 1 and 10.")
    if request.motion is not None and entry.motion is not None and entry.motion.parameter == "guidance_scale":
        guidance = round(entry.motion.value(request.motion), 4)  # the recipe then shows the guidance used
    try:
        camera = CameraMove.from_dict(request.camera)
    except (TypeError, ValueError) as error:
        raise InvalidRequest(str(error)) from error
    frames = adapter_for(entry.family).frame_count(
        duration, entry.fps, entry.frames.step, entry.frames.offset, entry.frames.max
    )
    size = (resolution.width, resolution.height)
    plan = RenderPlan(
        mode=request.mode,
        prompt=prompt,
        negative_prompt=request.negative_prompt.strip() or entry.negative_prompt,
        width=resolution.width,
        height=resolution.height,
        num_frames=frames,
        fps=entry.fps,
        steps=steps,
        guidance=guidance,
        seed=resolve_seed(request.seed),
        motion=request.motion,
        extra=_extra_kwargs(entry, request.motion),
    )
    return entry, apply_camera(entry, _with_media(request, plan, entry, settings, size), camera)


def _extra_kwargs(entry: ModelEntry, motion: int | None) -> tuple[tuple[str, Any], ...]:
    """Catalog call arguments, plus the General Motion slider mapped onto this model's own parameter."""
    extra = dict(entry.call_kwargs)
    if motion is not None and entry.motion is not None:
        extra[entry.motion.parameter] = entry.motion.value(motion)
    return tuple(sorted(extra.items()))


def _with_media(
    request: GenerationRequest, plan: RenderPlan, entry: ModelEntry, settings: Settings, size: tuple[int, int]
) -> RenderPlan:
    try:
        if isinstance(request, ImageToVideoRequest):
            if not request.image_path:
                raise InvalidRequest("Please upload an image to animate.")
            image = read_image(request.image_path, settings.max_upload_mb, size)
            last = None
            if request.last_image_path:
                last = read_image(request.last_image_path, settings.max_upload_mb, size)
            if last is not None and not entry.keyframes:
                raise InvalidRequest(f"{entry.label} does not support a last-frame keyframe.")
            return dataclasses.replace(plan, image=image, last_image=last)
        if isinstance(request, VideoToVideoRequest):
            if not request.video_path:
                raise InvalidRequest("Please upload a video to restyle.")
            strength = entry.strength.default if request.strength is None else float(request.strength)
            if not entry.strength.contains(strength):
                raise InvalidRequest(f"Strength must be between {entry.strength.min:g} and {entry.strength.max:g}.")
            frames = read_video(
                request.video_path, settings.max_upload_mb, settings.max_input_video_s, entry.fps, size, plan.num_frames
            )
            frames = _valid_length(frames, entry)
            return dataclasses.replace(plan, video=tuple(frames), num_frames=len(frames), strength=strength)
    except MediaError as error:
        raise InvalidRequest(str(error)) from error
    return plan


def _valid_length(frames: list, entry: ModelEntry) -> list:
    """Trim a decoded clip to the longest frame count the model accepts (e.g. 4k+1 for Wan)."""
    rule = entry.frames
    usable = [n for n in range(len(frames), 0, -1) if n >= rule.offset and (n - rule.offset) % rule.step == 0]
    if not usable:
        raise InvalidRequest(f"The video is too short for {entry.label}: it needs at least {rule.offset} frames.")
    return frames[: usable[0]]
