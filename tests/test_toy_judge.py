"""The judge must be right on rendered ground truth before it can score the model."""

import random

import numpy as np

from vidgen.toy.evaluate import judge_accuracy_on_rendered
from vidgen.toy.judge import judge_clip
from vidgen.toy.world import CAMERA_MOVES, MOTIONS, SHAPES, render_clip, spec_for


def test_judge_is_at_least_98_percent_right_on_rendered_clips():
    scores = judge_accuracy_on_rendered(count=150, seed=11)
    assert scores["all"] >= 0.98, scores


def test_judge_reads_every_motion_and_shape():
    rng = random.Random(5)
    for motion in MOTIONS:
        for shape in SHAPES:
            verdict = judge_clip(render_clip(spec_for("green", shape, motion, rng, background="black")))
            assert (verdict.color, verdict.shape, verdict.motion) == ("green", shape, motion)
            assert verdict.camera == "static"


def test_judge_reads_every_camera_move():
    rng = random.Random(6)
    for move in CAMERA_MOVES + ["static"]:
        verdict = judge_clip(render_clip(spec_for("orange", "square", move, rng)))
        assert verdict.camera == move and verdict.color == "orange"


def test_judge_sees_mirrored_clips_as_the_opposite_move():
    rng = random.Random(7)
    clip = render_clip(spec_for("purple", "triangle", "left", rng, background="white"))
    assert judge_clip(clip[:, :, ::-1]).motion == "right"
    pan = render_clip(spec_for("purple", "triangle", "pan_left", rng))
    assert judge_clip(pan[:, :, ::-1]).camera == "pan_right"
    assert judge_clip(pan[::-1]).camera == "pan_right"


def test_judge_finds_nothing_in_an_empty_clip():
    verdict = judge_clip(np.full((17, 32, 32, 3), 240, np.uint8))
    assert verdict.color is None and verdict.motion is None and verdict.camera == "static"
