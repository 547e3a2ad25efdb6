"""UI for the creative loop: Director Mode camera controls, the keyframe input, the Free Previews tab and the
Extend tab. Each tool has its own controls and an explicit handler with an `api_name`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from vidgen.director import AXES, AXIS_LABELS, CameraMove, strategy, trajectory_preview
from vidgen.extend import MAX_TOTAL_S, RUNWAY_GEN2_LIMIT_S, ExtendRequest, run_extend
from vidgen.jobs import JobResult, Services
from vidgen.previews import DEFAULT_COUNT, MAX_COUNT, PreviewRefused, preview_models, render_free_previews
from vidgen.requests import ImageToVideoRequest, TextToVideoRequest
from vidgen.ui.session import current_user, stream_events, stream_job

GPU_SLOT = "gpu"  # the same concurrency group as the mode tabs: one device serves them all
CAMERA_FIELD = "camera."  # ModeTab field names of the camera sliders: camera.truck, camera.pan, ...


# ---- Director Mode ------------------------------------------------------------------------------------


@dataclass
class CameraControls:
    sliders: dict[str, gr.Slider]
    path: gr.Image

    def fields(self) -> dict[str, gr.Slider]:
        """ModeTab fields, in handler order (truck, pedestal, pan, tilt, roll, zoom)."""
        return {CAMERA_FIELD + axis: self.sliders[axis] for axis in AXES}


def camera_from_values(*values: Any) -> dict[str, float]:
    """Slider values in AXES order -> the request's `camera` dict (only the axes that move)."""
    return CameraMove.from_dict(dict(zip(AXES, (float(v or 0) for v in values), strict=True))).as_dict()


def camera_field_values(camera: dict[str, float] | None) -> dict[str, float]:
    """A request's `camera` dict -> ModeTab field values (for presets and 'reuse settings')."""
    return {CAMERA_FIELD + axis: float((camera or {}).get(axis, 0.0)) for axis in AXES}


def camera_controls(services: Services, mode: str, model: gr.Dropdown) -> CameraControls:
    """Six -10..+10 sliders and a small drawing of the camera path, in a closed accordion."""
    with gr.Accordion("Director Mode (camera)", open=False, elem_classes=["director"]):
        info = gr.Markdown(_strategy_line(services, model.value, mode), elem_classes=["camera-strategy"])
        with gr.Row():
            with gr.Column(scale=3, min_width=240):
                sliders = {
                    axis: gr.Slider(-10, 10, value=0, step=1, label=AXIS_LABELS[axis],
                                    elem_classes=["camera-slider", f"camera-{axis}"])
                    for axis in AXES
                }
            with gr.Column(scale=2, min_width=160):
                path = gr.Image(trajectory_preview(CameraMove()), label="Camera path", interactive=False,
                                height=150, elem_classes=["camera-path"], buttons=[])
                reset = gr.Button("Reset camera", size="sm", elem_classes=["camera-reset"])
    controls = CameraControls(sliders, path)
    values = list(sliders.values())
    for index, slider in enumerate(values):
        public = index == 0 and mode == TEXT_TO_VIDEO  # one /camera_path endpoint for the whole app
        slider.change(camera_path, values, path, api_name="camera_path" if public else None,
                      api_visibility="public" if public else "private")
    reset.click(lambda: [0] * len(AXES), None, values, api_visibility="private")
    model.change(lambda model_id: _strategy_line(services, model_id, mode), model, info, api_visibility="private")
    return controls


def camera_path(truck, pedestal, pan, tilt, roll, zoom):
    """The trajectory preview for a camera setting (also the /camera_path endpoint)."""
    return trajectory_preview(CameraMove.from_dict(camera_from_values(truck, pedestal, pan, tilt, roll, zoom)))


def _strategy_line(services: Services, model_id: str | None, mode: str) -> str:
    try:
        entry = services.catalog.get(model_id)
    except KeyError:
        return ""
    return f"Camera on **{entry.label}**: {strategy(entry, mode)}."


# ---- Keyframes ----------------------------------------------------------------------------------------


def keyframe_input(services: Services, model: gr.Dropdown) -> gr.Image:
    """The last-frame image; shown only for models whose catalog entry says `keyframes: true`."""
    entry = services.catalog.get(model.value)
    last = gr.Image(label="Last frame (keyframe, optional)", type="filepath", sources=["upload", "clipboard"],
                    visible=entry.keyframes, elem_classes=["input-last-image"])
    model.change(lambda model_id: gr.update(visible=services.catalog.get(model_id).keyframes), model, last,
                 api_visibility="private")
    return last


# ---- Free Previews tab --------------------------------------------------------------------------------


def build_free_previews_tab(services: Services, quota_meter: gr.Markdown) -> None:
    models = preview_models(services.catalog)
    if not models:
        return
    default = services.catalog.get(None)
    entry = default if default in models else models[0]
    with gr.Tab("Free Previews", id="free_previews"):
        gr.Markdown("Four quick first-frame stills from your prompt, free of generation-seconds. Pick one and "
                    "render it into a video (that render is charged as usual).")
        with gr.Row():
            with gr.Column():
                model = gr.Dropdown([(m.label, m.id) for m in models], value=entry.id, label="Model")
                prompt = gr.Textbox(label="Prompt", lines=2, elem_classes=["preview-prompt"],
                                    placeholder="a red circle moves to the left on a white background")
                with gr.Row():
                    count = gr.Slider(1, MAX_COUNT, value=DEFAULT_COUNT, step=1, label="Stills")
                    seed = gr.Number(value=-1, precision=0, label="Seed (-1 = random)")
                negative = gr.Textbox(label="Negative prompt", value="", visible=False)
                get_previews = gr.Button("Get free previews", variant="secondary", elem_classes=["get-previews"])
                gallery = gr.Gallery(label="Stills (click one to pick it)", columns=4, height=220,
                                     allow_preview=False, elem_classes=["preview-gallery"])
                preview_status = gr.Markdown(elem_classes=["preview-status"])
                candidates = gr.State([])
            with gr.Column():
                chosen = gr.Image(label="Picked still (first frame)", type="filepath", interactive=False,
                                  height=200, elem_classes=["picked-still"])
                chosen_seed = gr.Number(value=-1, precision=0, label="Seed for the video", visible=False)
                render = gr.Button("Render video from this still", variant="primary", elem_classes=["render-still"])
                from vidgen.ui.tabs import outputs_column

                out = outputs_column()

    def free_previews(prompt, negative_prompt, model, count, seed, request: gr.Request):
        """Render `count` stills; returns (gallery, status, candidates)."""
        user = current_user(services, request)
        job = TextToVideoRequest(prompt=prompt or "", negative_prompt=negative_prompt or "", model_id=model or "",
                                 seed=None if seed in (None, "") else int(seed))
        try:
            result = render_free_previews(services, job, user, int(count or DEFAULT_COUNT))
        except PreviewRefused as refused:
            title = {"blocked": "Blocked", "rate_limited": "Preview limit"}.get(refused.kind, "Check your input")
            raise gr.Error(str(refused), title=title, print_exception=False) from None
        items = [(str(c.display_path), f"seed {c.seed}") for c in result.candidates]
        picks = [{"image": str(c.image_path), "seed": c.seed} for c in result.candidates]
        status = (f"{len(items)} stills in {result.steps} steps · free · preview {result.previews_today} today"
                  + (f" · {result.dropped} removed by the image filter" if result.dropped else ""))
        return items, status, picks

    get_previews.click(free_previews, [prompt, negative, model, count, seed], [gallery, preview_status, candidates],
                       api_name="free_previews", concurrency_id=GPU_SLOT,
                       concurrency_limit=services.settings.gpu_slots)

    def pick(picks, event: gr.SelectData):
        choice = picks[event.index]
        return choice["image"], choice["seed"]

    gallery.select(pick, candidates, [chosen, chosen_seed], api_visibility="private")

    def generate_from_preview(still, prompt, negative_prompt, model, seed, request: gr.Request,
                              progress=gr.Progress()):
        """Animate a picked still with the same prompt (charged like any image-to-video render)."""
        if not still:
            raise gr.Error("Pick one of the stills first.", title="Check your input", print_exception=False)
        job = ImageToVideoRequest(image_path=still, prompt=prompt or "", negative_prompt=negative_prompt or "",
                                  model_id=model or "", seed=None if seed in (None, "") else int(seed))
        yield from stream_job(services, job, current_user(services, request), progress)

    render.click(generate_from_preview, [chosen, prompt, negative, model, chosen_seed], out.as_list(quota_meter),
                 api_name="generate_from_preview", concurrency_id=GPU_SLOT,
                 concurrency_limit=services.settings.gpu_slots)


# ---- Extend tab ---------------------------------------------------------------------------------------


def build_extend_tab(services: Services, quota_meter: gr.Markdown) -> None:
    models = services.catalog.for_mode(IMAGE_TO_VIDEO)
    if not models:
        return
    default = services.catalog.get(None)
    entry = default if default in models else models[0]
    with gr.Tab("Extend", id="extend"):
        gr.Markdown(f"Continue a clip from its last frame, segment by segment, up to {MAX_TOTAL_S:g} s. Each "
                    "segment is charged for the seconds it adds.")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Clip to extend (a vidgen result or any MP4)", sources=["upload"],
                                 elem_classes=["extend-video"])
                model = gr.Dropdown([(m.label, m.id) for m in models], value=entry.id, label="Model")
                prompt = gr.Textbox(label="Prompt (empty = the clip's own prompt)", lines=2,
                                    elem_classes=["extend-prompt"])
                target = gr.Slider(1, MAX_TOTAL_S, value=RUNWAY_GEN2_LIMIT_S, step=1, label="Extend to (seconds)",
                                   elem_classes=["extend-target"])
                seed = gr.Number(value=-1, precision=0, label="Seed (-1 = random)")
                with gr.Row():
                    extend_button = gr.Button("Extend", variant="primary", elem_classes=["extend-button"])
                    cancel = gr.Button("Cancel")
            with gr.Column():
                from vidgen.ui.tabs import outputs_column

                out = outputs_column()

    def extend(video, prompt, model, target_s, seed, request: gr.Request, progress=gr.Progress()):
        """Extend `video` to `target_s` seconds; streams like the generation endpoints."""
        user = current_user(services, request)
        job = ExtendRequest(video_path=video or "", prompt=prompt or "", model_id=model or "",
                            target_s=float(target_s or RUNWAY_GEN2_LIMIT_S),
                            seed=None if seed in (None, "") else int(seed))
        yield from stream_events(services, run_extend(services, job, user), user, progress, extend_status)

    run = extend_button.click(extend, [video, prompt, model, target, seed], out.as_list(quota_meter),
                              api_name="extend", concurrency_id=GPU_SLOT,
                              concurrency_limit=services.settings.gpu_slots)
    cancel.click(None, None, None, cancels=[run], api_visibility="private")


def extend_status(result: JobResult) -> str:
    seconds = len(result.frames) / result.recipe["resolved"]["fps"] if result.frames is not None else 0
    return f"Extended to **{seconds:.1f} s** with **{result.model_label}** · {result.seconds_charged:g} s charged"
