"""Director Mode: Runway-style camera controls (truck, pedestal, pan, tilt, roll, zoom; each -10..+10).

A camera move is a path of 2-D views over the first frame: at progress p (0 = first frame, 1 = last) the view
is centred at c(p), rotated by roll(p) and magnified by zoom(p). Two ways to make a model follow it, chosen by
the catalog's `camera` field:

* ``text``: the model was trained on camera words (the bundled model); the move becomes phrases such as
  "the camera pans left" appended to the prompt (roll, which has no words, warps the rendered frames).
* ``warp``: any other model. The conditioning frame (image to video) is warped along the path into a guide
  clip that the model then re-renders as video to video; a video-to-video input is warped frame by frame the
  same way; text to video first renders the first frame, then guides from it warped the same way; where that
  is not possible (a model without video to video, a keyframe render) the rendered frames are warped.

Sign conventions (the camera's own motion, as in Runway): truck + moves right, pedestal + moves up, pan +
turns right, tilt + turns up, roll + turns clockwise, zoom + goes closer. A camera moving right makes the
scene slide left in the frame. Without depth, truck and pan (and pedestal and tilt) both shift the view; pan
and tilt shift it a little further, as a turning camera sweeps more of a distant scene.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import map_coordinates

from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_TO_VIDEO, ModelEntry
from vidgen.families import RenderPlan

AXES = ("truck", "pedestal", "pan", "tilt", "roll", "zoom")
AXIS_LABELS = {
    "truck": "Horizontal (truck)",
    "pedestal": "Vertical (pedestal)",
    "pan": "Pan",
    "tilt": "Tilt",
    "roll": "Roll",
    "zoom": "Zoom",
}
LIMIT = 10.0
TRUCK_TRAVEL = 0.3  # frame widths moved over the clip at +-10
PAN_TRAVEL = 0.4
ROLL_DEGREES = 30.0
ZOOM_FACTOR = 1.7  # magnification over the clip at +10 (the bundled model's zoom moves use the same)
# Video-to-video strength when re-rendering a warped guide clip. On the bundled model 0.6 let the model override
# the guide (7/12 clips went the requested way) where 0.4 kept it (10/12); see docs/creative-tools.md.
WARP_GUIDE_STRENGTH = 0.4
MIN_TEXT_AMOUNT = 1.0  # smaller settings are below what a text-conditioned model can express

CAMERA_WORDS = {  # (negative, positive) phrases; the bundled model's training vocabulary
    "horizontal": ("the camera pans left", "the camera pans right"),
    "vertical": ("the camera tilts down", "the camera tilts up"),
    "zoom": ("the camera zooms out", "the camera zooms in"),
}


@dataclass(frozen=True)
class CameraMove:
    truck: float = 0.0
    pedestal: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    zoom: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> CameraMove:
        """Validate axis names and the -10..+10 range; raises ValueError with a message for the user."""
        values = dict(values or {})
        unknown = set(values) - set(AXES)
        if unknown:
            raise ValueError(f"Unknown camera control(s): {', '.join(sorted(unknown))}. Use: {', '.join(AXES)}.")
        amounts = {axis: float(values.get(axis) or 0.0) for axis in AXES}
        for axis, amount in amounts.items():
            if not -LIMIT <= amount <= LIMIT or math.isnan(amount):
                raise ValueError(f"Camera '{axis}' must be between -10 and +10.")
        return cls(**amounts)

    @property
    def is_static(self) -> bool:
        return all(getattr(self, axis) == 0 for axis in AXES)

    def as_dict(self) -> dict[str, float]:
        """Only the axes that move, so recipes stay short."""
        return {axis: getattr(self, axis) for axis in AXES if getattr(self, axis) != 0}

    def view(self, progress: float) -> tuple[float, float, float, float]:
        """(centre x, centre y, roll in radians, magnification) of the view at progress 0..1, in frame units
        of the first frame (x right, y down; the first frame's centre is (0.5, 0.5))."""
        dx = (self.truck * TRUCK_TRAVEL + self.pan * PAN_TRAVEL) / LIMIT * progress
        dy = -(self.pedestal * TRUCK_TRAVEL + self.tilt * PAN_TRAVEL) / LIMIT * progress
        angle = math.radians(self.roll / LIMIT * ROLL_DEGREES * progress)
        scale = ZOOM_FACTOR ** (self.zoom / LIMIT * progress)
        return 0.5 + dx, 0.5 + dy, angle, scale


# ---- warping ------------------------------------------------------------------------------------------


def warp_frame(frame: np.ndarray, move: CameraMove, progress: float) -> np.ndarray:
    """The view of `frame` (uint8 [H, W, 3], the scene as the first frame saw it) at `progress`."""
    height, width = frame.shape[:2]
    cx, cy, angle, scale = move.view(progress)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    # Output pixel -> offset from the view centre in frame units, rotated and scaled into the first frame.
    ox = ((u + 0.5) / width - 0.5) / scale
    oy = ((v + 0.5) / height - 0.5) / scale
    cos, sin = math.cos(angle), math.sin(angle)
    sx = (cx + cos * ox - sin * oy * height / width) * width - 0.5
    sy = (cy + sin * ox * width / height + cos * oy) * height - 0.5
    channels = [map_coordinates(frame[..., c].astype(np.float32), [sy, sx], order=1, mode="mirror")
                for c in range(frame.shape[2])]
    return np.clip(np.stack(channels, axis=-1) + 0.5, 0, 255).astype(np.uint8)


def warp_still(image: np.ndarray, move: CameraMove, frames: int) -> np.ndarray:
    """A guide clip: one still seen along the camera path, [frames, H, W, 3]."""
    return np.stack([warp_frame(image, move, _progress(i, frames)) for i in range(frames)])


def warp_clip(clip: np.ndarray, move: CameraMove) -> np.ndarray:
    """Apply the camera path to an existing clip frame by frame (its own motion is kept)."""
    return np.stack([warp_frame(frame, move, _progress(i, len(clip))) for i, frame in enumerate(clip)])


def _progress(index: int, frames: int) -> float:
    return index / (frames - 1) if frames > 1 else 0.0


# ---- text conditioning --------------------------------------------------------------------------------


def camera_phrases(move: CameraMove) -> list[str]:
    """Camera words for a text-conditioned model, strongest component first."""
    components = {"horizontal": move.truck + move.pan, "vertical": move.pedestal + move.tilt, "zoom": move.zoom}
    ordered = sorted(components.items(), key=lambda item: -abs(item[1]))
    return [CAMERA_WORDS[name][amount > 0] for name, amount in ordered if abs(amount) >= MIN_TEXT_AMOUNT]


def prompt_with_camera(prompt: str, move: CameraMove) -> str:
    phrases = camera_phrases(move)
    if not phrases:
        return prompt
    return ", ".join([prompt.rstrip(" ,.")] + phrases) if prompt else ", ".join(phrases)


# ---- planning -----------------------------------------------------------------------------------------


def apply_camera(entry: ModelEntry, plan: RenderPlan, move: CameraMove) -> RenderPlan:
    """Turn a planned render into one that follows `move` on this model (see the module docstring)."""
    if move.is_static or entry.camera == "none":
        return plan
    if entry.camera == "text":
        # Roll has no words in a text-conditioned vocabulary: it is applied to the rendered frames instead.
        roll = (("roll", move.roll),) if move.roll else ()
        return dataclasses.replace(plan, prompt=prompt_with_camera(plan.prompt, move), output_camera=roll)
    if plan.mode == IMAGE_TO_VIDEO and plan.image is not None and VIDEO_TO_VIDEO in entry.pipelines:
        if plan.last_image is None:  # keyframe renders keep both ends; the camera then warps the output
            guide = warp_still(np.asarray(plan.image), move, plan.num_frames)
            return dataclasses.replace(
                plan, mode=VIDEO_TO_VIDEO, video=tuple(Image.fromarray(f) for f in guide),
                strength=guide_strength(plan.steps), image=None,
            )
    if plan.mode == VIDEO_TO_VIDEO and plan.video:
        warped = warp_clip(np.stack([np.asarray(f) for f in plan.video]), move)
        return dataclasses.replace(plan, video=tuple(Image.fromarray(f) for f in warped))
    if plan.mode == TEXT_TO_VIDEO and VIDEO_TO_VIDEO in entry.pipelines:
        return dataclasses.replace(plan, guide_camera=tuple(sorted(move.as_dict().items())))
    return dataclasses.replace(plan, output_camera=tuple(sorted(move.as_dict().items())))


def guided_plan(plan: RenderPlan, render_first_frame: Callable[[RenderPlan], np.ndarray]) -> RenderPlan:
    """Text to video with a camera on a warp model, in two passes: render the first frame from the prompt,
    warp it along the path into a guide clip, and re-render that as video to video (like image to video)."""
    if not plan.guide_camera:
        return plan
    first = render_first_frame(dataclasses.replace(plan, num_frames=1, guide_camera=()))
    guide = warp_still(first, CameraMove(**dict(plan.guide_camera)), plan.num_frames)
    return dataclasses.replace(plan, mode=VIDEO_TO_VIDEO, video=tuple(Image.fromarray(f) for f in guide),
                               strength=guide_strength(plan.steps), guide_camera=())


def guide_strength(steps: int) -> float:
    """WARP_GUIDE_STRENGTH, raised when needed so that at least one denoising step runs (video-to-video runs
    int(steps * strength) of them)."""
    return min(1.0, max(WARP_GUIDE_STRENGTH, 1.0 / steps + 1e-6))


def finish_frames(plan: RenderPlan, frames: np.ndarray) -> np.ndarray:
    """Warp rendered frames when the plan says the camera could only be applied after the render."""
    if not plan.output_camera:
        return frames
    return warp_clip(frames, CameraMove(**dict(plan.output_camera)))


def strategy(entry: ModelEntry, mode: str) -> str:
    """How Director Mode works for this model and mode, in words for the UI and docs."""
    if entry.camera == "none":
        return "not supported"
    if entry.camera == "text":
        return "camera words in the prompt (the model was trained on them); roll turns the rendered frames"
    if VIDEO_TO_VIDEO not in entry.pipelines:
        return "the rendered frames are warped along the camera path"
    if mode == TEXT_TO_VIDEO:
        return "a first frame is rendered, warped along the camera path and re-rendered (video to video)"
    return "a guide clip warped along the camera path is re-rendered (video to video)"


# ---- trajectory preview -------------------------------------------------------------------------------


def trajectory_preview(move: CameraMove, size: tuple[int, int] = (192, 128), steps: int = 6) -> np.ndarray:
    """A small drawing of the camera path: the first frame (grey), views along the way and the last view
    (orange, with an arrow from the first centre to the last)."""
    width, height = size
    canvas = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    unit = min(width, height) / 2.2  # one frame width in pixels; leaves room for moves outside the frame

    def to_canvas(x: float, y: float) -> tuple[float, float]:
        return width / 2 + (x - 0.5) * unit, height / 2 + (y - 0.5) * unit

    def corners(progress: float) -> list[tuple[float, float]]:
        cx, cy, angle, scale = move.view(progress)
        cos, sin = math.cos(angle), math.sin(angle)
        points = []
        for ox, oy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
            ox, oy = ox / scale, oy / scale
            points.append(to_canvas(cx + cos * ox - sin * oy, cy + sin * ox + cos * oy))
        return points

    draw.polygon(corners(0.0), outline=(150, 150, 150), fill=(225, 225, 225))
    for i in range(1, steps):
        draw.polygon(corners(i / steps), outline=(250, 190, 130))
    last = corners(1.0)
    draw.polygon(last, outline=(235, 110, 20), width=2)
    draw.line([last[0], last[1]], fill=(200, 40, 20), width=3)  # the top edge shows roll
    start, end = to_canvas(*move.view(0.0)[:2]), to_canvas(*move.view(1.0)[:2])
    draw.line([start, end], fill=(40, 40, 40), width=2)
    draw.ellipse([end[0] - 3, end[1] - 3, end[0] + 3, end[1] + 3], fill=(40, 40, 40))
    return np.asarray(canvas)
