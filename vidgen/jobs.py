"""The orchestrator: request -> safety -> quota reservation -> cached pipeline -> previews/progress ->
encode + recipe -> quota settlement -> history.

`run_job` yields plain events per request, so the Gradio UI streams them, the CLI draws a terminal bar and
tests read them. The pipeline runs in a worker thread that owns everything after the reservation (render,
encode, settle or refund, history): if the consumer goes away the job is cancelled and refunded, never lost
half-way and never charged for work the user did not get.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import vidgen
from vidgen.catalog import Catalog, ModelEntry
from vidgen.director import finish_frames, guided_plan
from vidgen.families import RenderPlan, adapter_for, project_to_rgb
from vidgen.history import History
from vidgen.media import to_uint8, upscale, write_gif, write_mp4
from vidgen.pipelines import LoadedModel, PipelineCache
from vidgen.requests import GenerationRequest, InvalidRequest, plan_render
from vidgen.settings import Settings

log = logging.getLogger(__name__)

OUTPUT_FRAMES_CHECKED = 3  # first, middle and last frame pass the image safety check


# ---- events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    eta_s: float | None
    message: str


@dataclass(frozen=True)
class Preview:
    image: np.ndarray  # uint8 [H, W, 3] at latent size (small): displays scale it up
    step: int


@dataclass(frozen=True)
class JobResult:
    job_id: str
    video_path: Path
    gif_path: Path | None
    recipe_path: Path
    recipe: dict[str, Any]
    seed: int
    seconds_charged: float
    balance: Any | None
    model_label: str
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)  # native uint8 [F, H, W, 3]


@dataclass(frozen=True)
class Done:
    result: JobResult


@dataclass(frozen=True)
class Failed:
    kind: str  # invalid | blocked | quota | cancelled | error
    message: str
    job_id: str = ""


Event = Progress | Preview | Done | Failed


# ---- services -----------------------------------------------------------------------------------------


@dataclass
class Services:
    """Everything a job needs; built once per process by `build_services` (or by tests)."""

    settings: Settings
    catalog: Catalog
    pipelines: PipelineCache
    history: History
    safety: Any | None = None  # vidgen.safety.SafetyFilter
    safety_audit: Any | None = None  # vidgen.safety.SafetyAuditLog
    ledger: Any | None = None  # vidgen.quota.Ledger
    identity: Any | None = None  # vidgen.quota.IdentityResolver
    presets: dict[str, Any] = field(default_factory=dict)  # key -> vidgen.presets.Preset


def estimate_cost_s(entry: ModelEntry, plan: RenderPlan, repeated_frames: int = 0) -> float:
    """Generation-seconds a clip costs: seconds of output video times the model's cost factor.

    `repeated_frames` leading frames repeat video the user already has (Extend) and are not charged.
    """
    return round(max(1, plan.num_frames - repeated_frames) / plan.fps * entry.cost_factor, 3)


# ---- the job ------------------------------------------------------------------------------------------


class Cancelled(Exception):
    pass


def run_job(
    services: Services,
    request: GenerationRequest,
    user: Any,
    cancel: threading.Event | None = None,
    previews: bool = True,
    repeated_frames: int = 0,
) -> Iterator[Event]:
    """Run one generation for `user`, yielding Progress/Preview events and ending with Done or Failed.

    `repeated_frames`: leading output frames that repeat existing video (Extend); they are not charged.
    """
    job_id = uuid.uuid4().hex
    cancel = cancel or threading.Event()
    try:
        entry, plan = plan_render(request, services.catalog, services.settings)
    except InvalidRequest as error:
        yield Failed("invalid", str(error), job_id)
        return
    blocked = _safety_block(services, request, plan, user, job_id)
    if blocked is not None:
        yield blocked
        return
    cost = estimate_cost_s(entry, plan, repeated_frames)
    if services.ledger is not None:
        from vidgen.quota import QuotaExceeded

        try:
            services.ledger.reserve(user, job_id, cost)
        except QuotaExceeded as error:
            yield Failed("quota", str(error), job_id)
            return
    events: queue.Queue[Event | None] = queue.Queue()
    worker = threading.Thread(
        target=_work,
        args=(services, request, entry, plan, user, job_id, cost, cancel, previews, events, repeated_frames),
        name=f"vidgen-job-{job_id[:8]}", daemon=True,
    )
    worker.start()
    try:
        while (event := events.get()) is not None:
            yield event
    finally:
        cancel.set()  # no-op after a normal end; stops the render if the consumer left early


def check_and_audit(services: Services, plan: RenderPlan, images: list, user: Any, job_id: str):
    """The plan's prompt, negative prompt and `images` through the safety filter, with an audit record (when
    the deployment keeps an audit log); returns the SafetyDecision. Jobs and free previews call it before any
    model work."""
    decision = services.safety.check_request(
        texts={"prompt": plan.prompt}, negative_prompt=plan.negative_prompt, images=images)
    if services.safety_audit is not None:
        record = decision.audit_record(plan.prompt, store_raw=services.settings.store_raw_prompts,
                                       negative_prompt=plan.negative_prompt)
        services.safety_audit.write({**record, "job_id": job_id, "user_id": _user_id(user)})
    return decision


def _safety_block(
    services: Services, request: GenerationRequest, plan: RenderPlan, user: Any, job_id: str
) -> Failed | None:
    if services.safety is None:
        return None
    images = [img for img in (plan.image, plan.last_image) if img is not None]
    if plan.video:
        images.append(plan.video[0])
    decision = check_and_audit(services, plan, images, user, job_id)
    if decision.allowed:
        return None
    message = decision.user_message()
    _record_history(services, request, user, job_id, "blocked", 0.0, message)
    return Failed("blocked", message, job_id)


def _work(
    services: Services,
    request: GenerationRequest,
    entry: ModelEntry,
    plan: RenderPlan,
    user: Any,
    job_id: str,
    cost: float,
    cancel: threading.Event,
    previews: bool,
    events: queue.Queue,
    repeated_frames: int = 0,
) -> None:
    ledger = services.ledger
    try:
        frames = _render(services, entry, plan, job_id, cancel, previews, events)
        unsafe = _check_output(services, frames)
        if unsafe is not None:
            _close(ledger, job_id, "blocked")
            _record_history(services, request, user, job_id, "blocked", 0.0, unsafe)
            events.put(Failed("blocked", unsafe, job_id))
            return
        events.put(Progress(plan.steps, plan.steps, 0.0, "Encoding video…"))
        result = _save(services, request, entry, plan, user, job_id, frames)
        charged = round(max(0, len(frames) - repeated_frames) / plan.fps * entry.cost_factor, 3)
        if ledger is not None:
            charged = ledger.settle(job_id, min(charged, cost)).charged_s
        result = _with_charge(result, charged, ledger.balance(user) if ledger is not None else None)
        _record_history(services, request, user, job_id, "done", charged, "", result)
        events.put(Done(result))
    except Cancelled:
        _close(ledger, job_id, "cancelled")
        _record_history(services, request, user, job_id, "cancelled", 0.0, "Cancelled; nothing was charged.")
        events.put(Failed("cancelled", "Cancelled; nothing was charged.", job_id))
    except Exception as error:  # any failure refunds in full and tells the user
        log.exception("Job %s failed", job_id)
        _close(ledger, job_id, "failed")
        message = f"Generation failed ({type(error).__name__}: {error}). Nothing was charged."
        _record_history(services, request, user, job_id, "failed", 0.0, message)
        events.put(Failed("error", message, job_id))
    finally:
        events.put(None)


def _close(ledger: Any, job_id: str, outcome: str) -> None:
    if ledger is not None:
        ledger.refund(job_id, outcome)


def _render(
    services: Services,
    entry: ModelEntry,
    plan: RenderPlan,
    job_id: str,
    cancel: threading.Event,
    previews: bool,
    events: queue.Queue,
) -> np.ndarray:
    cache = services.pipelines
    if cache.device_lock.locked():
        events.put(Progress(0, plan.steps, None, "Waiting for the GPU (another job is running)…"))

    def on_device() -> np.ndarray:
        """Load (first use) and call the pipeline: on the cache's render thread, with the device held."""
        if cancel.is_set():
            raise Cancelled
        if not cache.is_loaded(entry.id):
            events.put(Progress(0, plan.steps, None, f"Loading {entry.label} (first use)…"))
        guided = guided_plan(plan, lambda first: _first_frame(cache, entry, first))  # Director Mode, two passes
        pipe, model = cache.get(entry, adapter_for(entry.family).pipeline_mode(guided))
        projection = cache.preview_projection(model) if previews else None
        callback = _StepCallback(guided, model, projection, cancel, events, services.ledger, job_id)
        generator = torch.Generator(device="cpu").manual_seed(guided.seed)
        kwargs = model.adapter.call_kwargs(guided, pipe, generator)
        events.put(Progress(0, guided.steps, None, "Rendering…"))
        with torch.inference_mode():
            output = pipe(**kwargs, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["latents"])
        return finish_frames(guided, to_uint8(np.asarray(output.frames[0])))

    frames = cache.run_on_device(on_device)
    if cancel.is_set():
        raise Cancelled
    return frames


def _first_frame(cache: PipelineCache, entry: ModelEntry, plan: RenderPlan) -> np.ndarray:
    """One frame of `plan` from its own pipeline (the first pass of a guided camera render)."""
    pipe, model = cache.get(entry, adapter_for(entry.family).pipeline_mode(plan))
    kwargs = model.adapter.call_kwargs(plan, pipe, torch.Generator(device="cpu").manual_seed(plan.seed))
    with torch.inference_mode():
        return to_uint8(np.asarray(pipe(**kwargs).frames[0]))[0]


class _StepCallback:
    """diffusers' callback_on_step_end: progress + ETA, a live preview, cancellation and a quota heartbeat."""

    def __init__(self, plan, model: LoadedModel, projection, cancel, events, ledger, job_id):
        self.plan, self.model, self.projection = plan, model, projection
        self.cancel, self.events, self.ledger, self.job_id = cancel, events, ledger, job_id
        self.started = time.perf_counter()

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        done = step + 1
        total = getattr(pipe, "_num_timesteps", None) or self.plan.steps
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (total - done)
        self.events.put(Progress(done, total, eta, f"Step {done}/{total}"))
        if self.projection is not None and "latents" in tensors:
            latents = self.model.adapter.preview_latents(tensors["latents"], pipe, self.plan)
            image = project_to_rgb(latents, self.projection, frame=latents.shape[1] // 2)
            self.events.put(Preview(image, done))
        if self.ledger is not None and done % 10 == 0:
            self.ledger.heartbeat(self.job_id)  # long renders keep their reservation alive
        if self.cancel.is_set():
            pipe._interrupt = True  # diffusers skips the remaining steps
        return tensors


def _check_output(services: Services, frames: np.ndarray) -> str | None:
    if services.safety is None:
        return None
    picks = np.linspace(0, len(frames) - 1, OUTPUT_FRAMES_CHECKED).astype(int)
    for index in sorted(set(picks.tolist())):
        decision = services.safety.check_image(Image.fromarray(frames[index]))
        if not decision.allowed:
            return decision.user_message()
    return None


def _save(
    services: Services,
    request: GenerationRequest,
    entry: ModelEntry,
    plan: RenderPlan,
    user: Any,
    job_id: str,
    frames: np.ndarray,
) -> JobResult:
    folder = services.history.new_job_dir(_user_id(user), job_id)
    request = _keep_inputs(request, folder)
    recipe = build_recipe(request, entry, plan, job_id, len(frames))
    display = upscale(frames, entry.display_scale)
    # The GIF and thumbnail are encoded beside the MP4: both encoders release the GIL, so on two or more
    # cores the extras cost the user no waiting.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidgen-extras") as extras:
        pending_gif = extras.submit(_write_extras, display, plan.fps, folder, services.settings.write_gif)
        video = write_mp4(display, plan.fps, folder / "video.mp4", metadata=recipe)
        gif = pending_gif.result()
    recipe_path = folder / "recipe.json"
    recipe_path.write_text(json.dumps(recipe, indent=2, sort_keys=True))
    return JobResult(job_id, video, gif, recipe_path, recipe, plan.seed, 0.0, None, entry.label, frames)


def _write_extras(display: np.ndarray, fps: int, folder: Path, with_gif: bool) -> Path | None:
    """The history thumbnail and, when enabled, the GIF; returns the GIF's path."""
    Image.fromarray(display[len(display) // 2]).save(folder / "thumbnail.png", compress_level=1)
    return write_gif(display, fps, folder / "video.gif") if with_gif else None


def _keep_inputs(request: GenerationRequest, folder: Path) -> GenerationRequest:
    """Copy uploaded inputs next to the result, so history and recipes still work after uploads expire."""
    from dataclasses import replace

    copies = {}
    for name, path in request.input_files().items():
        if path:
            target = folder / f"input-{name}{Path(path).suffix.lower()}"
            shutil.copyfile(path, target)
            copies[f"{name}_path"] = str(target)
    return replace(request, **copies) if copies else request


def _with_charge(result: JobResult, charged: float, balance: Any) -> JobResult:
    from dataclasses import replace

    return replace(result, seconds_charged=charged, balance=balance)


def build_recipe(
    request: GenerationRequest, entry: ModelEntry, plan: RenderPlan, job_id: str, frames: int
) -> dict[str, Any]:
    """Everything needed to make this clip again: model + revision, mode, every parameter, the seed."""
    params = request.to_dict()
    params["seed"] = plan.seed
    return {
        "app": "vidgen",
        "app_version": vidgen.__version__,
        "job_id": job_id,
        "model": {
            "id": entry.id, "source": entry.source, "revision": entry.revision or _local_revision(entry),
            "family": entry.family, "pipeline": entry.pipelines[adapter_for(entry.family).pipeline_mode(plan)],
        },
        "request": params,
        "resolved": {
            "width": plan.width, "height": plan.height, "num_frames": frames, "fps": plan.fps,
            "steps": plan.steps, "guidance": plan.guidance, "strength": plan.strength, "seed": plan.seed,
            "negative_prompt": plan.negative_prompt, "display_scale": entry.display_scale,
        },
        "inputs": {name: _file_digest(path) for name, path in request.input_files().items() if path},
    }


def _local_revision(entry: ModelEntry) -> str:
    """A content id for a local model folder: the hash of its file names and sizes."""
    folder = Path(entry.resolved_source())
    if not folder.is_dir():
        return "main"
    listing = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())
    return "local-" + hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]


def _file_digest(path: str) -> dict[str, str]:
    data = Path(path).read_bytes()
    return {"name": Path(path).name, "sha256": hashlib.sha256(data).hexdigest()}


def _user_id(user: Any) -> str:
    return getattr(user, "user_id", None) or str(user)


def _record_history(
    services: Services,
    request: GenerationRequest,
    user: Any,
    job_id: str,
    status: str,
    charged: float,
    message: str,
    result: JobResult | None = None,
) -> None:
    files: dict[str, Any] = {}
    if result is not None:
        folder = result.video_path.parent
        files = {
            "video_path": str(result.video_path),
            "gif_path": str(result.gif_path or ""),
            "recipe_path": str(result.recipe_path),
            "thumbnail_path": str(folder / "thumbnail.png"),
            "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
        }
    params = result.recipe["request"] if result is not None else request.to_dict()
    services.history.record(
        job_id=job_id, user_id=_user_id(user), status=status, mode=request.mode,
        model_id=request.model_id or services.catalog.default_model, prompt=request.prompt,
        seconds_charged=charged, message=message, request_json=json.dumps(params), **files,
    )
