"""The machine-readable description saved next to the weights (``vidgen_toy.json``): what the app shows
users about the built-in demo model and how to call it."""

from __future__ import annotations

from vidgen.toy.model import MAX_SEQUENCE_LENGTH
from vidgen.toy.world import (
    BACKGROUNDS,
    CAMERA_PHRASES,
    COLOR_SYNONYMS,
    MOTION_PHRASES,
    SHAPE_SYNONYMS,
    WorldConfig,
    canonical_prompt,
)

RECOMMENDED_STEPS = 16
# Chosen on validation prompts, not on the reported sets: bench/toy_guidance_sweep.py (2.0 beat 1.5 to 4.0).
RECOMMENDED_GUIDANCE = 2.0

EXAMPLE_TRIPLES = [
    ("red", "circle", "right", "white"),
    ("blue", "square", "up", "black"),
    ("yellow", "triangle", "grow", "gray"),
    ("green", "circle", "shrink", "brown"),
    ("purple", "square", "left", "white"),
    ("orange", "triangle", "pan_left", "white"),
    ("red", "square", "zoom_in", "white"),
    ("blue", "circle", "tilt_up", "white"),
]


def example_prompts() -> list[str]:
    return [canonical_prompt(c, s, m, bg) for c, s, m, bg in EXAMPLE_TRIPLES]


def describe_model(world: WorldConfig = WorldConfig()) -> dict:
    return {
        "name": "vidgen-toy",
        "summary": "Built-in demo model trained by vidgen on a synthetic world of simple moving shapes.",
        "width": world.size,
        "height": world.size,
        # WanPipeline adds one frame when the VAE has no temporal compression: ask for num_frames_argument.
        "num_frames": world.num_frames,
        "num_frames_argument": world.num_frames - 1,
        "fps": world.fps,
        "recommended_steps": RECOMMENDED_STEPS,
        "recommended_guidance": RECOMMENDED_GUIDANCE,
        # Pass max_sequence_length=<this> to every pipeline call: the model was trained with that padding.
        "max_sequence_length": MAX_SEQUENCE_LENGTH,
        "image_to_video": {
            "pipeline": "WanImageToVideoPipeline",
            "how": "WanImageToVideoPipeline.from_pipe(t2v_pipe) then pass image=<PIL first frame>",
        },
        "colors": {name: words for name, words in COLOR_SYNONYMS.items()},
        "shapes": {name: words for name, words in SHAPE_SYNONYMS.items()},
        "backgrounds": list(BACKGROUNDS) + ["textured"],
        "motions": {name: phrases for name, phrases in MOTION_PHRASES.items()},
        "camera_moves": {name: phrases for name, phrases in CAMERA_PHRASES.items() if name != "static"},
        "camera_phrase_canonical": {name: phrases[0] for name, phrases in CAMERA_PHRASES.items()},
        "example_prompts": example_prompts(),
        "limitations": "Only the listed words are understood; unknown words are ignored. 32x32 pixels.",
    }
