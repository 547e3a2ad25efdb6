"""An automatic judge for toy-world clips, with classical computer vision only.

* colour: saturated pixels are assigned to the nearest palette colour; the most frequent colour wins
  (backgrounds and camera textures are unsaturated by construction);
* shape: fill ratio of the bounding box and the top/bottom width ratio of the colour mask;
* motion: straight-line fit of the mask centroid and of log area over time;
* camera move: a global translation + zoom flow model fitted by least squares to the brightness
  constancy equation between consecutive frames (content moving right means the camera pans left).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

from vidgen.toy.world import COLORS

PALETTE = np.array(list(COLORS.values()), np.float32)
PALETTE_NAMES = list(COLORS)
MIN_CHROMA = 75.0  # palette colours are far above, backgrounds and textures far below
MIN_PIXELS = 4


@dataclass(frozen=True)
class JudgeThresholds:
    travel: float = 0.12  # centroid travel, in frame widths, to call a translation
    area_ratio: float = 1.7  # end/start area ratio to call grow or shrink
    plain_background: float = 0.8  # share of border pixels near the border median
    camera_translation: float = 0.08  # frame widths over the clip
    camera_zoom: float = 0.12  # log scale over the clip


@dataclass
class ObjectTrack:
    color: str
    pixels: int
    centroids: list[tuple[float, float] | None]
    areas: list[float]
    masks: list[np.ndarray] = field(repr=False, default_factory=list)


@dataclass
class Verdict:
    color: str | None
    shape: str | None
    motion: str | None
    camera: str
    colors: list[str]
    textured: bool
    details: dict = field(default_factory=dict)


def to_float_frames(frames: np.ndarray) -> np.ndarray:
    """Accept (T, H, W, 3) uint8 or float in [0, 1]; return float32 in 0..255."""
    array = np.asarray(frames)
    if array.dtype == np.uint8:
        return array.astype(np.float32)
    return np.clip(array.astype(np.float32), 0.0, 1.0) * 255.0


def colour_labels(frames: np.ndarray) -> np.ndarray:
    """Palette index per pixel, -1 where the pixel is not a saturated palette colour."""
    chroma = frames.max(axis=-1) - frames.min(axis=-1)
    distances = ((frames[..., None, :] - PALETTE) ** 2).sum(axis=-1)
    labels = distances.argmin(axis=-1)
    near = np.take_along_axis(distances, labels[..., None], axis=-1)[..., 0] < 110.0**2
    return np.where((chroma > MIN_CHROMA) & near, labels, -1)


def track_objects(frames: np.ndarray) -> list[ObjectTrack]:
    labels = colour_labels(frames)
    tracks = []
    for index, name in enumerate(PALETTE_NAMES):
        masks = labels == index
        pixels = int(masks.sum())
        if pixels < MIN_PIXELS * len(frames):
            continue
        centroids, areas = [], []
        for mask in masks:
            ys, xs = np.nonzero(mask)
            areas.append(float(len(xs)))
            centroids.append((float(xs.mean()), float(ys.mean())) if len(xs) >= MIN_PIXELS else None)
        tracks.append(ObjectTrack(name, pixels, centroids, areas, list(masks)))
    return sorted(tracks, key=lambda t: -t.pixels)


def classify_shape(masks: list[np.ndarray]) -> str | None:
    votes: dict[str, int] = {}
    for mask in masks:
        shape = _shape_of(mask)
        if shape:
            votes[shape] = votes.get(shape, 0) + 1
    return max(votes, key=votes.get) if votes else None


def _shape_of(mask: np.ndarray) -> str | None:
    ys, xs = np.nonzero(mask)
    if len(xs) < 12:
        return None
    height, width = mask.shape
    if xs.min() == 0 or ys.min() == 0 or xs.max() == width - 1 or ys.max() == height - 1:
        return None  # cut by the frame edge
    box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
    fill = len(xs) / box
    rows = mask[ys.min() : ys.max() + 1].sum(axis=1)
    third = max(1, len(rows) // 3)
    taper = rows[:third].mean() / max(rows[-third:].mean(), 1e-6)
    if taper < 0.6 or fill < 0.62:
        return "triangle"
    return "square" if fill > 0.88 else "circle"


def classify_motion(track: ObjectTrack, size: int, thresholds: JudgeThresholds) -> str:
    times = [t for t, c in enumerate(track.centroids) if c is not None]
    if len(times) < 2:
        return "still"
    xs = np.array([track.centroids[t][0] for t in times])
    ys = np.array([track.centroids[t][1] for t in times])
    log_area = np.log(np.array([track.areas[t] for t in times]))
    span = (times[-1] - times[0]) or 1
    dx = np.polyfit(times, xs, 1)[0] * span / size
    dy = np.polyfit(times, ys, 1)[0] * span / size
    area_ratio = float(np.exp(abs(np.polyfit(times, log_area, 1)[0] * span)))
    area_sign = np.polyfit(times, log_area, 1)[0]
    travel = max(abs(dx), abs(dy))
    if area_ratio > thresholds.area_ratio and travel < 0.25:
        return "grow" if area_sign > 0 else "shrink"
    if travel > thresholds.travel:
        if abs(dx) >= abs(dy):
            return "right" if dx > 0 else "left"
        return "down" if dy > 0 else "up"
    return "still"


def is_textured(frames: np.ndarray, thresholds: JudgeThresholds) -> bool:
    first = frames[0]
    border = np.concatenate([first[0], first[-1], first[:, 0], first[:, -1]])
    median = np.median(border, axis=0)
    near = (np.abs(border - median).sum(axis=-1) < 40).mean()
    return near < thresholds.plain_background


def global_flow(frames: np.ndarray) -> tuple[float, float, float]:
    """Summed (x translation px, y translation px, log zoom) of the content over the clip."""
    grey = np.stack([gaussian_filter(f.mean(axis=-1), 1.0) for f in frames])
    _, height, width = grey.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx -= (width - 1) / 2
    yy -= (height - 1) / 2
    inner = (slice(2, -2), slice(2, -2))
    total = np.zeros(3)
    for a, b in zip(grey[:-1], grey[1:], strict=True):
        mid = 0.5 * (a + b)
        gy, gx = np.gradient(mid)
        it = (b - a)[inner].ravel()
        gx, gy = gx[inner].ravel(), gy[inner].ravel()
        radial = gx * xx[inner].ravel() + gy * yy[inner].ravel()
        design = np.stack([gx, gy, radial], axis=1)
        params, *_ = np.linalg.lstsq(design, -it, rcond=None)
        total += params
    return float(total[0]), float(total[1]), float(total[2])


def classify_camera(frames: np.ndarray, thresholds: JudgeThresholds) -> tuple[str, tuple[float, float, float]]:
    shift_x, shift_y, zoom = global_flow(frames)
    size = frames.shape[2]
    translation = max(abs(shift_x), abs(shift_y)) / size
    zoom_score = abs(zoom) / thresholds.camera_zoom
    translation_score = translation / thresholds.camera_translation
    if max(zoom_score, translation_score) < 1.0:
        return "static", (shift_x, shift_y, zoom)
    if zoom_score > translation_score:
        return ("zoom_in" if zoom > 0 else "zoom_out"), (shift_x, shift_y, zoom)
    if abs(shift_x) >= abs(shift_y):
        return ("pan_left" if shift_x > 0 else "pan_right"), (shift_x, shift_y, zoom)
    return ("tilt_up" if shift_y > 0 else "tilt_down"), (shift_x, shift_y, zoom)


def judge_clip(frames: np.ndarray, thresholds: JudgeThresholds = JudgeThresholds()) -> Verdict:
    """Decide colour, shape, motion and camera move of a (T, H, W, 3) clip."""
    video = to_float_frames(frames)
    textured = is_textured(video, thresholds)
    camera, flow = classify_camera(video, thresholds) if textured else ("static", (0.0, 0.0, 0.0))
    tracks = track_objects(video)
    if not tracks:
        return Verdict(None, None, None, camera, [], textured, {"flow": flow})
    main = tracks[0]
    return Verdict(
        color=main.color,
        shape=classify_shape(main.masks),
        motion=classify_motion(main, video.shape[2], thresholds),
        camera=camera,
        colors=[t.color for t in tracks],
        textured=textured,
        details={"flow": flow, "pixels": {t.color: t.pixels for t in tracks}},
    )
