"""The toy model's synthetic world: clip specifications, a numpy renderer and a caption generator.

A clip is one or two flat shapes moving over a plain background, or one shape standing still over a
textured background while the camera pans, tilts or zooms. Captions are generated from templates with
synonyms; a fixed set of (colour, shape, move) triples and a few sentence templates never appear in
training so that generalisation can be measured.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import map_coordinates

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 35, 35),
    "green": (30, 170, 60),
    "blue": (35, 75, 225),
    "yellow": (240, 210, 30),
    "purple": (145, 55, 190),
    "orange": (250, 130, 20),
}
COLOR_SYNONYMS: dict[str, list[str]] = {
    "red": ["red", "crimson", "scarlet"],
    "green": ["green", "emerald"],
    "blue": ["blue", "azure"],
    "yellow": ["yellow", "golden"],
    "purple": ["purple", "violet"],
    "orange": ["orange", "tangerine"],
}
SHAPES = ["circle", "square", "triangle"]
SHAPE_SYNONYMS: dict[str, list[str]] = {
    "circle": ["circle", "ball", "disc"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle", "wedge"],
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (125, 125, 125),
    "brown": (105, 75, 50),
}
MOTIONS = ["left", "right", "up", "down", "grow", "shrink", "still"]
MOTION_PHRASES: dict[str, list[str]] = {
    "left": ["moves to the left", "moves left", "drifting left", "slides to the left", "travels left"],
    "right": ["moves to the right", "moves right", "drifting right", "slides to the right", "travels right"],
    "up": ["moves up", "rises", "floating upward", "slides up", "travels upward"],
    "down": ["moves down", "falls", "sinking downward", "slides down", "travels downward"],
    "grow": ["grows", "gets bigger", "approaches", "growing larger", "comes closer"],
    "shrink": ["shrinks", "gets smaller", "recedes", "shrinking away", "moves away"],
    "still": ["stays still", "sits still", "does not move", "resting in place", "stays in place"],
}
CAMERA_MOVES = ["pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"]
CAMERA_PHRASES: dict[str, list[str]] = {
    "pan_left": ["the camera pans left", "camera pans to the left", "the camera slowly pans left"],
    "pan_right": ["the camera pans right", "camera pans to the right", "the camera slowly pans right"],
    "tilt_up": ["the camera tilts up", "camera tilts upward", "the camera slowly tilts up"],
    "tilt_down": ["the camera tilts down", "camera tilts downward", "the camera slowly tilts down"],
    "zoom_in": ["the camera zooms in", "camera zooms in closer", "the camera slowly zooms in"],
    "zoom_out": ["the camera zooms out", "camera zooms out wider", "the camera slowly zooms out"],
    "static": ["the camera is still", "static camera", "the camera does not move"],
}
TEXTURE_WORDS = ["textured", "mottled", "patterned"]
TRAVEL = 0.4  # frame widths a translating object covers over the clip
TRACK_LOW, TRACK_HIGH = 0.2, 0.8  # where a translating object's centre may go
CAMERA_SHIFT = 0.5  # frame widths a pan or tilt moves the view over the clip
# Half extents in frame units. At 32 px the VAE (4x spatial) rounds the corners of small squares; objects 1.3x
# the session-9 size (0.13-0.16, grow/shrink 0.07-0.21) are reconstructed with the right shape in 86 % of held-out
# clips instead of 70 % (docs/toy-model.md).
OBJECT_SIZE = (0.17, 0.21)
GROW_RANGE = (0.47, 1.4)  # a growing object goes from 0.47 to 1.4 times its size, a shrinking one back
PAIR_SCALE = 0.7  # two objects share the frame, so both are drawn smaller

# Object captions: {obj} = "a red circle", {mot} = motion phrase, {bg} = background colour word.
TRAIN_TEMPLATES = [
    "{obj} {mot} on a {bg} background",
    "{obj} {mot}",
    "{obj} that {mot}, {bg} background",
    "on a {bg} background, {obj} {mot}",
    "a {bg} background with {obj} that {mot}",
]
HELDOUT_TEMPLATES = [
    "{bg} background, {obj} {mot}",
    "{obj} on a {bg} background {mot}",
    "with a {bg} background {obj} {mot}",
]
TRAIN_CAMERA_TEMPLATES = [
    "{obj} on a {tex} background, {cam}",
    "{cam} over {obj} on a {tex} background",
    "{obj}, {cam}",
    "{cam}, {obj} on a {tex} background",
]
HELDOUT_CAMERA_TEMPLATES = [
    "{tex} background with {obj}, {cam}",
    "{cam} over {obj}",
]
CANONICAL_CAMERA_SHARE = 0.6

TEXTURE_TONES = [
    ((70, 85, 70), (190, 180, 150)),
    ((60, 60, 80), (170, 170, 190)),
    ((90, 70, 55), (200, 185, 160)),
    ((40, 40, 40), (200, 200, 200)),
]


@dataclass(frozen=True)
class WorldConfig:
    """Native clip geometry of the toy model."""

    size: int = 32
    num_frames: int = 17
    fps: int = 8
    supersample: int = 3


@dataclass
class ObjectSpec:
    color: str
    shape: str
    motion: str
    start: tuple[float, float]  # centre in frame units (0..1)
    base_size: float  # half extent in frame units


@dataclass
class ClipSpec:
    objects: list[ObjectSpec]
    background: str  # a BACKGROUNDS key, or "texture"
    camera: str = "static"
    texture_seed: int = 0
    texture_tone: int = 0
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def is_camera_clip(self) -> bool:
        return self.background == "texture"


def heldout_triples(count: int = 24, seed: int = 1234) -> set[tuple[str, str, str]]:
    """(colour, shape, move) triples never rendered in training; move is a motion or a camera move."""
    rng = random.Random(seed)
    all_triples = [(c, s, m) for c in COLORS for s in SHAPES for m in MOTIONS + CAMERA_MOVES]
    return set(rng.sample(all_triples, count))


def object_triple(spec: ClipSpec, obj: ObjectSpec) -> tuple[str, str, str]:
    move = spec.camera if spec.is_camera_clip and spec.camera != "static" else obj.motion
    return (obj.color, obj.shape, move)


def _start_and_size(rng: random.Random, motion: str = "still") -> tuple[tuple[float, float], float]:
    """Pick a start position and base size so that the whole track stays inside the frame.

    A translating object starts on the side it moves away from and crosses most of the frame (TRAVEL), so its
    place in the first frame agrees with the words; growing, shrinking and still objects start near the
    centre. (An earlier world started every motion in one central box and moved it a quarter of the frame:
    motion then had to come from the words alone, one token of travel, and text-to-video motion stayed at
    about 30 %; see docs/toy-model.md.)
    """
    # Every motion draws the same numbers in the same order; changing that would change every training clip and
    # evaluation prompt drawn from a seed.
    size = rng.uniform(*OBJECT_SIZE)
    along = rng.uniform(TRACK_LOW + TRAVEL, TRACK_HIGH)  # start coordinate on the axis of travel
    across = rng.uniform(0.3, 0.7)
    if motion == "left":
        return (along, across), size
    if motion == "right":
        return (1.0 - along, across), size
    if motion == "up":
        return (across, along), size
    if motion == "down":
        return (across, 1.0 - along), size
    return (rng.uniform(0.38, 0.62), rng.uniform(0.38, 0.62)), size


def camera_object_start(rng: random.Random) -> tuple[float, float]:
    """World position of the (still) object of a camera clip: near the centre, so that its track in the frame
    (the scene slides by CAMERA_SHIFT) stays inside the frame and starts on the side the scene moves away from."""
    return (rng.uniform(0.42, 0.58), rng.uniform(0.42, 0.58))


def object_state(obj: ObjectSpec, progress: float) -> tuple[float, float, float]:
    """Centre x, centre y and half size at progress 0..1."""
    x, y = obj.start
    size = obj.base_size
    travel = TRAVEL * progress
    if obj.motion == "left":
        x -= travel
    elif obj.motion == "right":
        x += travel
    elif obj.motion == "up":
        y -= travel
    elif obj.motion == "down":
        y += travel
    elif obj.motion == "grow":
        size *= GROW_RANGE[0] + (GROW_RANGE[1] - GROW_RANGE[0]) * progress
    elif obj.motion == "shrink":
        size *= GROW_RANGE[1] - (GROW_RANGE[1] - GROW_RANGE[0]) * progress
    return x, y, size


def camera_state(camera: str, progress: float) -> tuple[float, float, float]:
    """Camera centre (world units, frame = 1) and zoom at progress 0..1.

    "pan left" moves the view to the left, so the scene slides right in the frame; "tilt up" moves it
    up, so the scene slides down; "zoom in" magnifies the scene.
    """
    shift = CAMERA_SHIFT * (progress - 0.5)
    cx, cy, zoom = 0.5, 0.5, 1.0
    if camera == "pan_left":
        cx -= shift
    elif camera == "pan_right":
        cx += shift
    elif camera == "tilt_up":
        cy -= shift
    elif camera == "tilt_down":
        cy += shift
    elif camera == "zoom_in":
        zoom = 1.0 * (1.7**progress)
    elif camera == "zoom_out":
        zoom = 1.7 * (1.7**-progress)
    return cx, cy, zoom


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, size: float) -> np.ndarray:
    if shape == "circle":
        return dx * dx + dy * dy <= size * size
    if shape == "square":
        half = size * 0.89  # same area as the circle
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # Upward triangle with apex at the top: inside three half-planes.
    s = size * 1.25
    top, bottom = -s, s * 0.75
    inside_y = (dy >= top) & (dy <= bottom)
    half_width = (dy - top) / (bottom - top) * s
    return inside_y & (np.abs(dx) <= half_width)


def _texture(seed: int, tone: int, grid: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth random field over world coordinates [-1, 2] and its two colours."""
    noise = np.random.default_rng(seed).random((grid, grid)).astype(np.float32)
    low, high = TEXTURE_TONES[tone % len(TEXTURE_TONES)]
    return noise, np.array(low, np.float32), np.array(high, np.float32)


def render_clip(spec: ClipSpec, cfg: WorldConfig = WorldConfig(), frames: list[int] | None = None) -> np.ndarray:
    """Render a clip (or the listed frame indices) as uint8 frames of shape (T, H, W, 3)."""
    indices = list(range(cfg.num_frames)) if frames is None else frames
    n = cfg.size * cfg.supersample
    coords = (np.arange(n, dtype=np.float32) + 0.5) / n
    u, v = np.meshgrid(coords, coords)  # u: x (right), v: y (down)
    progress = np.array([t / (cfg.num_frames - 1) for t in indices], np.float32)
    camera = spec.camera if spec.is_camera_clip else "static"
    cams = np.array([camera_state(camera, p) for p in progress], np.float32)
    cx, cy, zoom = (cams[:, i, None, None] for i in range(3))
    wx = cx + (u[None] - 0.5) / zoom
    wy = cy + (v[None] - 0.5) / zoom
    image = _background(spec, wx, wy)
    for obj in spec.objects:
        states = np.array([object_state(obj, p) for p in progress], np.float32)
        ox, oy, size = (states[:, i, None, None] for i in range(3))
        mask = _shape_mask(obj.shape, wx - ox, wy - oy, size)
        image[mask] = COLORS[obj.color]
    ss = cfg.supersample
    small = image.reshape(len(indices), cfg.size, ss, cfg.size, ss, 3).mean(axis=(2, 4))
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def _background(spec: ClipSpec, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    if not spec.is_camera_clip:
        return np.broadcast_to(np.array(BACKGROUNDS[spec.background], np.float32), wx.shape + (3,)).copy()
    noise, low, high = _texture(spec.texture_seed, spec.texture_tone)
    grid = noise.shape[0]
    gx = (wx + 1.0) / 3.0 * (grid - 1)
    gy = (wy + 1.0) / 3.0 * (grid - 1)
    value = map_coordinates(noise, [gy.ravel(), gx.ravel()], order=3, mode="reflect").reshape(wx.shape)
    value = np.clip(value, 0.0, 1.0)[..., None]
    return low + (high - low) * value


# ---------------------------------------------------------------- sampling


@dataclass(frozen=True)
class SamplerShares:
    two_objects: float = 0.12
    camera: float = 0.36
    camera_static: float = 0.08  # of camera clips


def _random_object(rng: random.Random, color: str, shape: str, motion: str) -> ObjectSpec:
    start, size = _start_and_size(rng, motion)
    return ObjectSpec(color=color, shape=shape, motion=motion, start=start, base_size=size)


def _camera_clip(rng: random.Random, color: str, shape: str, camera: str) -> ClipSpec:
    obj = _random_object(rng, color, shape, "still")
    obj.start = camera_object_start(rng)
    return ClipSpec([obj], "texture", camera, rng.randrange(10**6), rng.randrange(len(TEXTURE_TONES)))


def sample_spec(
    rng: random.Random, exclude: set[tuple[str, str, str]] | None = None, shares: SamplerShares = SamplerShares()
) -> ClipSpec:
    """Draw a random clip; triples in ``exclude`` (held-out combinations) are never produced."""
    exclude = exclude or set()
    while True:
        spec = _draw(rng, shares)
        if not any(object_triple(spec, o) in exclude for o in spec.objects):
            return spec


def _draw(rng: random.Random, shares: SamplerShares) -> ClipSpec:
    if rng.random() < shares.camera:
        camera = "static" if rng.random() < shares.camera_static else rng.choice(CAMERA_MOVES)
        return _camera_clip(rng, rng.choice(list(COLORS)), rng.choice(SHAPES), camera)
    background = rng.choice(list(BACKGROUNDS))
    count = 2 if rng.random() < shares.two_objects else 1
    colors = rng.sample(list(COLORS), count)
    objects = [_random_object(rng, c, rng.choice(SHAPES), rng.choice(MOTIONS)) for c in colors]
    if count == 2:
        _separate(objects)
    return ClipSpec(objects, background)


def _separate(objects: list[ObjectSpec]) -> None:
    """Keep two objects apart by moving them along an axis neither travels on, so their tracks stay whole."""
    first, second = objects
    first.base_size *= PAIR_SCALE
    second.base_size *= PAIR_SCALE
    moves = {first.motion, second.motion}
    if not moves & {"up", "down"}:
        first.start, second.start = (first.start[0], 0.22), (second.start[0], 0.78)
    elif not moves & {"left", "right"}:
        first.start, second.start = (0.22, first.start[1]), (0.78, second.start[1])
    else:  # one horizontal, one vertical: the horizontal one along the top, the vertical one at the side
        horizontal, vertical = (first, second) if first.motion in ("left", "right") else (second, first)
        horizontal.start = (horizontal.start[0], 0.2)
        vertical.start = (0.82, vertical.start[1])


def spec_for(color: str, shape: str, move: str, rng: random.Random, background: str | None = None) -> ClipSpec:
    """A single-object clip for a given (colour, shape, move); move may be a camera move."""
    if move in CAMERA_MOVES or move == "static":
        return _camera_clip(rng, color, shape, move)
    bg = background or rng.choice(list(BACKGROUNDS))
    return ClipSpec([_random_object(rng, color, shape, move)], bg)


# Squares and circles differ only at their corners, a few latent values; the model learns the rest of a clip
# long before it learns that difference. A twin clip is the same clip with the other of the two shapes.
TWIN_SHAPES = {"circle": "square", "square": "circle"}


def shape_twin(spec: ClipSpec, exclude: set[tuple[str, str, str]] | None = None) -> ClipSpec | None:
    """The same single-object clip with a circle drawn as a square or the reverse; None when the clip has two
    objects, a triangle, or its twin would be a held-out combination."""
    if len(spec.objects) != 1 or spec.objects[0].shape not in TWIN_SHAPES:
        return None
    obj = replace(spec.objects[0], shape=TWIN_SHAPES[spec.objects[0].shape])
    twin = replace(spec, objects=[obj], extras=dict(spec.extras))
    return None if object_triple(twin, obj) in (exclude or set()) else twin


# Each move and the move its clip becomes when played backwards.
REVERSED_MOTIONS = {"left": "right", "right": "left", "up": "down", "down": "up", "grow": "shrink", "shrink": "grow"}
REVERSED_CAMERA_MOVES = {
    "pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down", "tilt_down": "tilt_up",
    "zoom_in": "zoom_out", "zoom_out": "zoom_in",
}


def motion_twin(spec: ClipSpec, exclude: set[tuple[str, str, str]] | None = None) -> ClipSpec | None:
    """The same single-object clip played backwards, which is the clip of the opposite move ("moves left" becomes
    "moves right" from where the left-mover ended, a zoom in a zoom out); None for still objects, a still camera,
    two objects, or a twin that would be a held-out combination. Rendered, it is the clip's frames reversed."""
    if len(spec.objects) != 1:
        return None
    obj = spec.objects[0]
    if spec.is_camera_clip:
        if spec.camera not in REVERSED_CAMERA_MOVES:
            return None
        camera = REVERSED_CAMERA_MOVES[spec.camera]
        twin = replace(spec, objects=[replace(obj)], camera=camera, extras=dict(spec.extras))
    else:
        if obj.motion not in REVERSED_MOTIONS:
            return None
        x, y, _ = object_state(obj, 1.0)  # where the clip ends is where its reverse starts
        reversed_obj = replace(obj, motion=REVERSED_MOTIONS[obj.motion], start=(x, y))
        twin = replace(spec, objects=[reversed_obj], extras=dict(spec.extras))
    return None if object_triple(twin, twin.objects[0]) in (exclude or set()) else twin


# ---------------------------------------------------------------- captions


def _object_phrase(obj: ObjectSpec, rng: random.Random) -> str:
    return f"a {rng.choice(COLOR_SYNONYMS[obj.color])} {rng.choice(SHAPE_SYNONYMS[obj.shape])}"


def _camera_phrase(camera: str, rng: random.Random) -> str:
    phrases = CAMERA_PHRASES[camera]
    return phrases[0] if rng.random() < CANONICAL_CAMERA_SHARE else rng.choice(phrases[1:])


def caption(spec: ClipSpec, rng: random.Random, heldout_templates: bool = False) -> str:
    """A varied caption; ``heldout_templates`` picks the sentence frames never used in training."""
    if spec.is_camera_clip:
        templates = HELDOUT_CAMERA_TEMPLATES if heldout_templates else TRAIN_CAMERA_TEMPLATES
        obj = _object_phrase(spec.objects[0], rng)
        return rng.choice(templates).format(
            obj=obj, cam=_camera_phrase(spec.camera, rng), tex=rng.choice(TEXTURE_WORDS)
        )
    templates = HELDOUT_TEMPLATES if heldout_templates else TRAIN_TEMPLATES
    template = rng.choice(templates)
    parts = [(_object_phrase(o, rng), rng.choice(MOTION_PHRASES[o.motion])) for o in spec.objects]
    if len(parts) == 1:
        obj, mot = parts[0]
        return template.format(obj=obj, mot=mot, bg=spec.background)
    (obj_a, mot_a), (obj_b, mot_b) = parts
    return f"{obj_a} {mot_a} and {obj_b} {mot_b} on a {spec.background} background"


def twin_captions(spec: ClipSpec, twin: ClipSpec, rng: random.Random) -> tuple[str, str]:
    """Captions of a clip and its twin drawn from the same random state, so they differ only in the shape word or
    the move (circle and square, and every move, have as many synonyms); ``rng`` advances as for one caption."""
    state = rng.getstate()
    twin_text = caption(twin, rng)
    rng.setstate(state)
    return caption(spec, rng), twin_text


def canonical_prompt(color: str, shape: str, move: str, background: str = "white") -> str:
    """The plainest prompt for a triple, used in examples and Director Mode."""
    if move in CAMERA_PHRASES:
        return f"a {color} {shape} on a textured background, {CAMERA_PHRASES[move][0]}"
    return f"a {color} {shape} {MOTION_PHRASES[move][0]} on a {background} background"


def all_caption_words() -> set[str]:
    """Every word any caption can contain (the tokenizer's vocabulary)."""
    texts: list[str] = []
    for groups in (COLOR_SYNONYMS, SHAPE_SYNONYMS, MOTION_PHRASES, CAMERA_PHRASES):
        for phrases in groups.values():
            texts.extend(phrases)
    texts += list(BACKGROUNDS) + TEXTURE_WORDS
    texts += TRAIN_TEMPLATES + HELDOUT_TEMPLATES + TRAIN_CAMERA_TEMPLATES + HELDOUT_CAMERA_TEMPLATES
    texts.append("and")
    words: set[str] = set()
    for text in texts:
        for word in text.replace(",", " , ").split():
            if not word.startswith("{"):
                words.add(word.lower())
    return words
