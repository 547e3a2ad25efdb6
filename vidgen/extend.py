"""Extend: continue a clip from its last frame, segment after segment, to at least 18 s and up to 60 s.

Each segment is an ordinary image-to-video job (`run_job`) whose first frame is the clip's current last
frame, with the same prompt or a new one: so every segment passes the safety filter, is reserved and settled
on its own, and appears in the history. A segment's first frame repeats the frame it continues from and is left
out of the joined clip, as are the next `settle_frames` if asked (default 0: leaving out two gave larger seam
spikes on every bundled-model weights and guidance measured, bench/results/extend.json); none of them is
charged, so each step costs exactly the seconds it adds. The joined clip is then saved as one more job
whose recipe lists the segments and where the joins are.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgen.catalog import IMAGE_TO_VIDEO, ModelEntry
from vidgen.jobs import Done, Event, Failed, JobResult, Preview, Progress, Services, build_recipe, run_job
from vidgen.media import MediaError, probe, read_video, upscale, write_gif, write_mp4
from vidgen.requests import ImageToVideoRequest, InvalidRequest, resolve_seed

MAX_TOTAL_S = 60.0
RUNWAY_GEN2_LIMIT_S = 18.0
SETTLE_FRAMES = 0  # generated frames left out after the repeated one (see the module docstring)
EXTEND_MODE = "extend"


@dataclass(frozen=True, kw_only=True)
class ExtendRequest:
    """Continue `video_path` to `target_s` seconds. An empty prompt reuses the clip's own prompt (read from
    the recipe vidgen writes into every MP4) when it has one."""

    video_path: str
    target_s: float = RUNWAY_GEN2_LIMIT_S
    prompt: str = ""
    negative_prompt: str = ""
    model_id: str = ""
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    motion: int | None = None
    camera: dict[str, float] = field(default_factory=dict)
    settle_frames: int = SETTLE_FRAMES

    mode = EXTEND_MODE

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"mode": EXTEND_MODE, **asdict(self)}

    def input_files(self) -> dict[str, str]:
        return {"video": self.video_path}


@dataclass(frozen=True)
class ExtendPlan:
    entry: ModelEntry
    frames: np.ndarray  # the clip to continue, native size, uint8 [F, H, W, 3]
    prompt: str
    segment_frames: int  # frames one segment renders (its first repeats the clip's last)
    segments: int
    seed: int
    skip: int = 1  # leading frames of each segment left out: the repeated frame plus the settling ones

    @property
    def added_per_segment(self) -> int:
        return self.segment_frames - self.skip

    @property
    def total_frames(self) -> int:
        limit = round(MAX_TOTAL_S * self.entry.fps)
        return min(limit, len(self.frames) + self.segments * self.added_per_segment)


def plan_extend(services: Services, request: ExtendRequest) -> ExtendPlan:
    """Check the request and work out the segments; raises InvalidRequest."""
    try:
        entry = services.catalog.get(request.model_id or None)
    except KeyError as error:
        raise InvalidRequest(str(error.args[0])) from error
    if IMAGE_TO_VIDEO not in entry.pipelines:
        raise InvalidRequest(f"{entry.label} cannot continue a clip (it has no image to video); pick another model.")
    if not request.video_path:
        raise InvalidRequest("Please give the clip to extend.")
    if not 0 < request.target_s <= MAX_TOTAL_S:
        raise InvalidRequest(f"Clips can be extended to at most {MAX_TOTAL_S:g} s.")
    resolution = entry.default_resolution
    try:
        frames = read_video(request.video_path, services.settings.max_upload_mb, MAX_TOTAL_S, entry.fps,
                            (resolution.width, resolution.height), round(MAX_TOTAL_S * entry.fps))
    except MediaError as error:
        raise InvalidRequest(str(error)) from error
    clip = np.stack([np.asarray(f) for f in frames])
    current_s = len(clip) / entry.fps
    if current_s >= request.target_s:
        raise InvalidRequest(f"The clip is already {current_s:.1f} s long; ask for more than that.")
    prompt = request.prompt.strip() or _recipe_prompt(request.video_path)
    segment = _segment_frames(entry)
    skip = 1 + request.settle_frames
    if not 0 <= request.settle_frames or segment - skip < 1:
        raise InvalidRequest(f"settle_frames must be between 0 and {segment - 2} for {entry.label}.")
    missing = round(request.target_s * entry.fps) - len(clip)
    segments = -(-missing // (segment - skip))
    return ExtendPlan(entry, clip, prompt, segment, segments, resolve_seed(request.seed), skip)


def _segment_frames(entry: ModelEntry) -> int:
    """Frames of one image-to-video segment at the model's longest duration (as `plan_render` plans it)."""
    from vidgen.families import adapter_for

    rule = entry.frames
    frames = adapter_for(entry.family).frame_count(max(entry.durations), entry.fps, rule.step, rule.offset, rule.max)
    if frames < 2:
        raise InvalidRequest(f"{entry.label} makes one-frame clips; it cannot extend a clip.")
    return frames


def _segment_request(request: ExtendRequest, entry: ModelEntry, prompt: str, image: str, seed: int):
    return ImageToVideoRequest(
        image_path=image, prompt=prompt, negative_prompt=request.negative_prompt, model_id=entry.id,
        duration_s=max(entry.durations), steps=request.steps, guidance=request.guidance, seed=seed,
        motion=request.motion, camera=dict(request.camera),
    )


def _recipe_prompt(path: str) -> str:
    """The prompt a vidgen MP4 was made with (its embedded recipe), or '' for other clips."""
    try:
        recipe = json.loads(probe(path).comment or "{}")
    except (ValueError, OSError, MediaError):
        return ""
    return str(recipe.get("request", {}).get("prompt", "")) if isinstance(recipe, dict) else ""


def run_extend(
    services: Services,
    request: ExtendRequest,
    user: Any,
    cancel: threading.Event | None = None,
    previews: bool = True,
) -> Iterator[Event]:
    """Yield Progress/Preview events for every segment, then Done with the joined clip (or Failed)."""
    job_id = uuid.uuid4().hex
    cancel = cancel or threading.Event()
    try:
        plan = plan_extend(services, request)
    except InvalidRequest as error:
        yield Failed("invalid", str(error), job_id)
        return
    frames, joins, segments, charged = plan.frames, [], [], 0.0
    work = services.history.user_dir(_user_id(user)) / "extend-work" / job_id
    work.mkdir(parents=True, exist_ok=True)
    limit = round(MAX_TOTAL_S * plan.entry.fps)
    for index in range(plan.segments):
        keep = min(plan.added_per_segment, limit - len(frames))
        last_frame = work / f"segment-{index}-start.png"
        Image.fromarray(frames[-1]).save(last_frame)
        segment = _segment_request(request, plan.entry, plan.prompt, str(last_frame), plan.seed + index)
        unused = plan.segment_frames - keep  # repeated + settling frames, plus any frames past 60 s
        result = None
        for event in run_job(services, segment, user, _SegmentCancel(cancel), previews, repeated_frames=unused):
            if isinstance(event, Progress):
                yield replace(event, message=f"Segment {index + 1}/{plan.segments} · {event.message}")
            elif isinstance(event, Preview):
                yield event
            elif isinstance(event, Done):
                result = event.result
            elif isinstance(event, Failed):
                done_s = len(frames) / plan.entry.fps
                yield replace(event, message=f"{event.message} (segment {index + 1}; the clip reached {done_s:.1f} s, "
                                             "earlier segments are in your history)")
                return
        if cancel.is_set() and index + 1 < plan.segments:
            yield Failed("cancelled", f"Cancelled after segment {index + 1}; it is in your history.", job_id)
            return
        joins.append(len(frames))
        frames = np.concatenate([frames, result.frames[plan.skip : plan.skip + keep]])
        charged += result.seconds_charged
        segments.append({"job_id": result.job_id, "seed": result.seed, "frames_added": int(keep),
                         "seconds_charged": result.seconds_charged})
    yield Progress(1, 1, 0.0, "Joining the segments…")
    yield Done(_save(services, request, plan, user, job_id, frames, joins, segments, charged))


class _SegmentCancel(threading.Event):
    """One segment's cancel flag: set by the user's cancel, or by `run_job` itself when that segment ends
    (which must not stop the next segment)."""

    def __init__(self, parent: threading.Event):
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self._parent.is_set()


def _save(services, request: ExtendRequest, plan: ExtendPlan, user, job_id, frames, joins, segments, charged):
    entry = plan.entry
    folder = services.history.new_job_dir(_user_id(user), job_id)
    recipe = _recipe(request, plan, job_id, frames, joins, segments)
    display = upscale(frames, entry.display_scale)
    video = write_mp4(display, entry.fps, folder / "video.mp4", metadata=recipe)
    gif = write_gif(display, entry.fps, folder / "video.gif") if services.settings.write_gif else None
    Image.fromarray(display[len(display) // 2]).save(folder / "thumbnail.png")
    recipe_path = folder / "recipe.json"
    recipe_path.write_text(json.dumps(recipe, indent=2, sort_keys=True))
    balance = services.ledger.balance(user) if services.ledger is not None else None
    result = JobResult(job_id, video, gif, recipe_path, recipe, plan.seed, round(charged, 3), balance,
                       entry.label, frames)
    _record(services, request, plan, user, result, len(segments))
    return result


def _recipe(request: ExtendRequest, plan: ExtendPlan, job_id: str, frames, joins, segments) -> dict[str, Any]:
    entry = plan.entry
    stand_in = ImageToVideoRequest(image_path="", prompt=plan.prompt, model_id=entry.id)
    from vidgen.families import RenderPlan

    base = build_recipe(stand_in, entry, RenderPlan(
        mode=IMAGE_TO_VIDEO, prompt=plan.prompt, negative_prompt="", width=frames.shape[2],
        height=frames.shape[1], num_frames=len(frames), fps=entry.fps, seed=plan.seed,
        steps=int(request.steps or entry.steps.default), guidance=float(request.guidance or entry.guidance.default),
    ), job_id, len(frames))
    base["request"] = {**request.to_dict(), "seed": plan.seed, "prompt": plan.prompt}
    base["extend"] = {
        "source_frames": int(len(plan.frames)), "joins": [int(j) for j in joins], "segments": segments,
        "seconds": round(len(frames) / entry.fps, 3),
    }
    base["inputs"] = {"video": {"name": Path(request.video_path).name}}
    return base


def _record(services: Services, request: ExtendRequest, plan: ExtendPlan, user, result: JobResult, count: int):
    folder = result.video_path.parent
    services.history.record(
        job_id=result.job_id, user_id=_user_id(user), status="done", mode=EXTEND_MODE, model_id=plan.entry.id,
        prompt=plan.prompt, seconds_charged=0.0,  # each segment was charged as its own job
        message=f"Extended to {len(result.frames) / plan.entry.fps:.1f} s in {count} segment(s); "
                f"{result.seconds_charged:g} s charged across them.",
        request_json=json.dumps(result.recipe["request"]), video_path=str(result.video_path),
        gif_path=str(result.gif_path or ""), recipe_path=str(result.recipe_path),
        thumbnail_path=str(folder / "thumbnail.png"),
        bytes=sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
    )


def seam_spike_ratio(frames: np.ndarray, joins: list[int]) -> dict[str, float]:
    """Mean absolute frame difference across each join over the mean difference inside segments.

    1.0 means the joins are as smooth as ordinary frame-to-frame motion; large values are visible cuts.
    """
    video = frames.astype(np.float32)
    diffs = np.abs(video[1:] - video[:-1]).mean(axis=(1, 2, 3))  # diffs[i]: frame i -> i + 1
    at_joins = [diffs[j - 1] for j in joins if 0 < j < len(video)]
    join_set = {j - 1 for j in joins}
    inside = [d for i, d in enumerate(diffs) if i not in join_set]
    seam, within = float(np.mean(at_joins)), float(np.mean(inside))
    return {"seam_diff": seam, "inside_diff": within, "ratio": seam / within if within > 0 else float("inf")}


def _user_id(user: Any) -> str:
    return getattr(user, "user_id", None) or str(user)
