"""One tab per generation mode. Each tab owns its widgets and an explicit handler with an `api_name`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import gradio as gr

from vidgen.catalog import IMAGE_TO_VIDEO, MODE_LABELS, TEXT_TO_VIDEO, VIDEO_TO_VIDEO, ModelEntry
from vidgen.families import adapter_for
from vidgen.jobs import Services
from vidgen.quota import format_wait
from vidgen.requests import ImageToVideoRequest, TextToVideoRequest, VideoToVideoRequest
from vidgen.ui.creative import camera_controls, camera_field_values, camera_from_values, keyframe_input
from vidgen.ui.session import current_user, stream_job

GPU_SLOT = "gpu"  # one concurrency group shared by every tab: a single device serves them all


@dataclass
class CommonControls:
    preset: gr.Dropdown
    model: gr.Dropdown
    prompt: gr.Textbox
    negative_prompt: gr.Textbox
    duration: gr.Dropdown
    resolution: gr.Dropdown
    steps: gr.Slider
    guidance: gr.Slider
    seed: gr.Number
    motion: gr.Slider
    cost: gr.Markdown

    def fields(self) -> dict[str, Any]:
        """Request field name -> the widget that edits it (used by presets and 'reuse settings')."""
        return {
            "prompt": self.prompt, "negative_prompt": self.negative_prompt, "model_id": self.model,
            "duration_s": self.duration, "resolution": self.resolution, "steps": self.steps,
            "guidance": self.guidance, "seed": self.seed, "motion": self.motion,
        }


@dataclass
class ModeTab:
    """A built tab: its mode and every request field's widget, in the order its handler takes them."""

    mode: str
    fields: dict[str, Any]
    wire_page_load: Any = None  # callable(demo): show this tab's cost and balance when the page opens


@dataclass
class Outputs:
    preview: gr.HTML
    video: gr.Video
    status: gr.Markdown
    seed_used: gr.Number
    files: gr.File

    def as_list(self, quota_meter: gr.Markdown) -> list[Any]:
        return [self.preview, self.video, self.status, self.seed_used, self.files, quota_meter]


def model_choices(services: Services, mode: str) -> list[tuple[str, str]]:
    return [(entry.label, entry.id) for entry in services.catalog.for_mode(mode)]


def default_entry(services: Services, mode: str) -> ModelEntry:
    default = services.catalog.get(None)
    return default if mode in default.pipelines else services.catalog.for_mode(mode)[0]


def common_controls(services: Services, mode: str, prompt_label: str) -> CommonControls:
    entry = default_entry(services, mode)
    presets = [(p.name, key) for key, p in services.presets.items() if p.mode == mode]
    preset = gr.Dropdown(presets, value=None, label="Preset", visible=bool(presets),
                         info="Fills in every setting below; edit anything before generating.")
    model = gr.Dropdown(model_choices(services, mode), value=entry.id, label="Model")
    prompt = gr.Textbox(label=prompt_label, lines=2, placeholder=_placeholder(entry), elem_classes=["prompt"])
    with gr.Accordion("Settings", open=False):
        negative = gr.Textbox(label="Negative prompt", value="", placeholder=entry.negative_prompt or "",
                              info="What to steer away from, e.g. \"blurry, nsfw\". The safety filter reads it too.")
        with gr.Row():
            # Choices follow the chosen model in the page; API callers may pick another model, so the values
            # are checked against that model's catalog entry on the server (plan_render), not here.
            duration = gr.Dropdown(_duration_choices(entry), value=entry.default_duration, label="Duration (s)",
                                   allow_custom_value=True)
            resolution = gr.Dropdown([r.label for r in entry.resolutions], value=entry.default_resolution.label,
                                     label="Resolution", allow_custom_value=True)
        with gr.Row():
            steps = gr.Slider(entry.steps.min, entry.steps.max, value=entry.steps.default, step=1, label="Steps")
            guidance = gr.Slider(entry.guidance.min, entry.guidance.max, value=entry.guidance.default, step=0.5,
                                 label="Guidance")
        with gr.Row():
            seed = gr.Number(value=-1, precision=0, label="Seed (-1 = random)")
            motion = gr.Slider(0, 10, value=0, step=1, label="General Motion (0 = model default)",
                               info=_motion_info(entry))
    cost = gr.Markdown(elem_classes=["cost-line"])
    model.change(lambda *values: _model_updates(services, *values), [model, duration, resolution, steps, guidance],
                 [duration, resolution, steps, guidance, prompt, motion], api_visibility="private")
    return CommonControls(preset, model, prompt, negative, duration, resolution, steps, guidance, seed, motion, cost)


def outputs_column() -> Outputs:
    # HTML with an inline image, not gr.Image: a per-step gr.Image is saved, served and fetched as a file,
    # which cost about 50 ms per step here; inline, a preview is a few kilobytes in the event stream.
    preview = gr.HTML(label="Live preview", show_label=True, elem_classes=["live-preview"], min_height=256)
    video = gr.Video(label="Result", interactive=False, autoplay=True, loop=True, height=320,
                     elem_classes=["result-video"])
    status = gr.Markdown(elem_classes=["job-status"])
    seed_used = gr.Number(label="Seed used", precision=0, interactive=False)
    files = gr.File(label="Download (GIF, recipe)", file_count="multiple", interactive=False)
    return Outputs(preview, video, status, seed_used, files)


def _motion_info(entry: ModelEntry) -> str:
    if entry.motion is None:
        return "This model has no motion control."
    return f"Sets {entry.motion.parameter} from {entry.motion.low:g} to {entry.motion.high:g}. {entry.motion.note}"


def _motion(value: Any) -> int | None:
    """The slider's 0 means 'leave it to the model'; 1-10 is Runway's General Motion."""
    return None if value in (None, "", 0) else int(value)


def _placeholder(entry: ModelEntry) -> str:
    return "a red circle moves to the left on a white background" if entry.builtin else "A drone shot over a coast"


def _duration_choices(entry: ModelEntry) -> list[float]:
    return sorted(set(entry.durations))


def _model_updates(services: Services, model_id: str, duration, resolution, steps, guidance) -> tuple[Any, ...]:
    """New choices and ranges for the chosen model; current values stay when the model allows them
    (so a preset or 'reuse settings' that also switches the model keeps its values)."""
    entry = services.catalog.get(model_id)
    labels = [r.label for r in entry.resolutions]
    return (
        gr.update(choices=_duration_choices(entry),
                  value=duration if duration in entry.durations else entry.default_duration),
        gr.update(choices=labels, value=resolution if resolution in labels else entry.default_resolution.label),
        gr.update(minimum=entry.steps.min, maximum=entry.steps.max,
                  value=steps if steps is not None and entry.steps.contains(steps) else entry.steps.default),
        gr.update(minimum=entry.guidance.min, maximum=entry.guidance.max,
                  value=guidance if guidance is not None and entry.guidance.contains(guidance)
                  else entry.guidance.default),
        gr.update(placeholder=_placeholder(entry)),
        gr.update(info=_motion_info(entry)),
    )


def clip_cost_s(entry: ModelEntry, duration: float | None) -> float:
    """What a clip of `duration` will be charged: its real frame count / fps, times the cost factor."""
    seconds = float(duration if duration is not None else entry.default_duration)
    rule = entry.frames
    frames = adapter_for(entry.family).frame_count(seconds, entry.fps, rule.step, rule.offset, rule.max)
    return round(frames / entry.fps * entry.cost_factor, 3)


def cost_updates(services: Services, model_id: str, duration: float | None, request: gr.Request) -> tuple:
    """Shown before the user clicks: the cost line, and a Generate button that says why it would be refused."""
    try:
        seconds = clip_cost_s(services.catalog.get(model_id), duration)
    except (KeyError, TypeError, ValueError):
        return "", gr.update(value="Generate")
    balance = services.ledger.balance(current_user(services, request))
    if balance.fits(seconds):
        return balance.cost_line(seconds), gr.update(value="Generate")
    wait = format_wait((balance.resets_at - datetime.now(timezone.utc)).total_seconds())
    line = f"⚠️ {balance.cost_line(seconds)}: not enough left today. Your quota resets in {wait}."
    return line, gr.update(value=f"Generate (daily limit reached, try again in {wait})")


def common_request_fields(prompt, negative_prompt, model, duration, resolution, steps, guidance, seed,
                          motion) -> dict[str, Any]:
    """Widget values shared by every mode tab -> request fields (empty widgets mean 'model default')."""
    return {
        "prompt": prompt or "", "negative_prompt": negative_prompt or "", "model_id": model or "",
        "duration_s": duration, "resolution": resolution or "", "steps": _int_or_none(steps), "guidance": guidance,
        "seed": _int_or_none(seed), "motion": _motion(motion),
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def build_text_to_video_tab(services: Services, quota_meter: gr.Markdown) -> ModeTab:
    with gr.Tab(MODE_LABELS[TEXT_TO_VIDEO], id=TEXT_TO_VIDEO):
        with gr.Row():
            with gr.Column():
                controls = common_controls(services, TEXT_TO_VIDEO, "Prompt")
                camera = camera_controls(services, TEXT_TO_VIDEO, controls.model)
                tab = ModeTab(TEXT_TO_VIDEO, {**controls.fields(), **camera.fields()})
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    cancel = gr.Button("Cancel")
                preset_examples(services, tab)
            with gr.Column():
                out = outputs_column()

    def text_to_video(prompt, negative_prompt, model, duration, resolution, steps, guidance, seed, motion,
                      truck=0, pedestal=0, pan=0, tilt=0, roll=0, zoom=0,
                      request: gr.Request = None, progress=gr.Progress()):
        common = common_request_fields(prompt, negative_prompt, model, duration, resolution, steps, guidance, seed,
                                       motion)
        job = TextToVideoRequest(**common, camera=camera_from_values(truck, pedestal, pan, tilt, roll, zoom))
        yield from stream_job(services, job, current_user(services, request), progress)

    _wire(services, controls, generate, cancel, text_to_video, tab, out, quota_meter)
    return tab


def build_image_to_video_tab(services: Services, quota_meter: gr.Markdown) -> ModeTab:
    with gr.Tab(MODE_LABELS[IMAGE_TO_VIDEO], id=IMAGE_TO_VIDEO):
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="Image (first frame)", type="filepath", sources=["upload", "clipboard"],
                                 elem_classes=["input-image"])
                controls = common_controls(services, IMAGE_TO_VIDEO, "Prompt (optional)")
                last_image = keyframe_input(services, controls.model)
                camera = camera_controls(services, IMAGE_TO_VIDEO, controls.model)
                tab = ModeTab(IMAGE_TO_VIDEO, {"image_path": image, **controls.fields(), **camera.fields(),
                                               "last_image_path": last_image})
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    cancel = gr.Button("Cancel")
                preset_examples(services, tab)
            with gr.Column():
                out = outputs_column()

    def image_to_video(image, prompt, negative_prompt, model, duration, resolution, steps, guidance, seed, motion,
                       truck=0, pedestal=0, pan=0, tilt=0, roll=0, zoom=0, last_image=None,
                       request: gr.Request = None, progress=gr.Progress()):
        common = common_request_fields(prompt, negative_prompt, model, duration, resolution, steps, guidance, seed,
                                       motion)
        job = ImageToVideoRequest(
            **common, image_path=image or "", last_image_path=last_image or "",
            camera=camera_from_values(truck, pedestal, pan, tilt, roll, zoom),
        )
        yield from stream_job(services, job, current_user(services, request), progress)

    _wire(services, controls, generate, cancel, image_to_video, tab, out, quota_meter)
    return tab


def build_video_to_video_tab(services: Services, quota_meter: gr.Markdown) -> ModeTab:
    entry = default_entry(services, VIDEO_TO_VIDEO)
    with gr.Tab(MODE_LABELS[VIDEO_TO_VIDEO], id=VIDEO_TO_VIDEO):
        with gr.Row():
            with gr.Column():
                video = gr.Video(label=f"Clip to restyle (up to {services.settings.max_input_video_s:g} s)",
                                 sources=["upload"], elem_classes=["input-video"])
                controls = common_controls(services, VIDEO_TO_VIDEO, "Prompt (the new style)")
                strength = gr.Slider(entry.strength.min, entry.strength.max, value=entry.strength.default,
                                     step=0.05, label="Strength", info="Low keeps the clip; high follows the prompt.")
                camera = camera_controls(services, VIDEO_TO_VIDEO, controls.model)
                tab = ModeTab(VIDEO_TO_VIDEO, {"video_path": video, **controls.fields(), "strength": strength,
                                               **camera.fields()})
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    cancel = gr.Button("Cancel")
                preset_examples(services, tab)
            with gr.Column():
                out = outputs_column()

    def video_to_video(video, prompt, negative_prompt, model, duration, resolution, steps, guidance, seed, motion,
                       strength, truck=0, pedestal=0, pan=0, tilt=0, roll=0, zoom=0,
                       request: gr.Request = None, progress=gr.Progress()):
        common = common_request_fields(prompt, negative_prompt, model, duration, resolution, steps, guidance, seed,
                                       motion)
        job = VideoToVideoRequest(
            **common, video_path=video or "", strength=strength,
            camera=camera_from_values(truck, pedestal, pan, tilt, roll, zoom),
        )
        yield from stream_job(services, job, current_user(services, request), progress)

    _wire(services, controls, generate, cancel, video_to_video, tab, out, quota_meter)
    return tab


def fill_fields(services: Services, tab: ModeTab, values: dict[str, Any]) -> list[Any]:
    """Widget values for `tab` from request fields (a preset, a recipe, a history row); None -> model default."""
    entry = services.catalog.get(values.get("model_id") or default_entry(services, tab.mode).id)
    defaults = {
        "prompt": "", "negative_prompt": "", "model_id": entry.id, "duration_s": entry.default_duration,
        "resolution": entry.default_resolution.label, "steps": entry.steps.default, "guidance": entry.guidance.default,
        "seed": -1, "motion": 0, "image_path": None, "video_path": None, "strength": entry.strength.default,
        **camera_field_values(None),
    }
    values = {**values, **camera_field_values(values.get("camera"))}  # Director Mode sliders
    for name in ("image_path", "last_image_path", "video_path"):
        values[name] = values.get(name) or None  # "" would make Gradio look for a file named ""
    return [values.get(name) if values.get(name) is not None else defaults.get(name) for name in tab.fields]


def preset_examples(services: Services, tab: ModeTab) -> gr.Examples | None:
    """Clickable examples built from the presets of this mode."""
    presets = [p for p in services.presets.values() if p.mode == tab.mode]
    if not presets:
        return None
    return gr.Examples(
        examples=[fill_fields(services, tab, p.request_fields()) for p in presets],
        inputs=list(tab.fields.values()), example_labels=[p.name for p in presets], label="Examples",
        cache_examples=False,
    )


def _wire(services, controls: CommonControls, generate, cancel, handler, tab: ModeTab, out: Outputs,
          quota_meter) -> None:
    inputs = list(tab.fields.values())
    run = generate.click(
        handler, inputs, out.as_list(quota_meter), api_name=handler.__name__,
        concurrency_id=GPU_SLOT, concurrency_limit=services.settings.gpu_slots,
    )

    def apply_preset(key):
        if not key:
            return [gr.skip()] * len(inputs)
        return fill_fields(services, tab, services.presets[key].request_fields())

    controls.preset.change(apply_preset, controls.preset, inputs, api_visibility="private")
    cancel.click(None, None, None, cancels=[run], api_visibility="private")

    def update_cost(model_id, duration, request: gr.Request):
        return cost_updates(services, model_id, duration, request)

    cost_io = ([controls.model, controls.duration], [controls.cost, generate])
    gr.on([controls.model.change, controls.duration.change], update_cost, *cost_io, api_visibility="private")
    run.then(update_cost, *cost_io, api_visibility="private")
    tab.wire_page_load = lambda demo: demo.load(update_cost, *cost_io, api_visibility="private")
