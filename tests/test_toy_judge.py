"""The judge must be right on rendered ground truth before it can score the model."""

import json
import random

import numpy as np
import pytest

from tests.conftest import load_bench_script
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


def _judge_check_module():
    return load_bench_script("toy_judge_check")


def test_judge_check_scores_a_persons_blind_labels_against_the_judge_and_the_prompt(tmp_path):
    check = _judge_check_module()
    with pytest.raises(SystemExit, match="run `sheet"):
        check.score(tmp_path, tmp_path / "labels.txt")
    clips = [
        {"prompt": "a", "asked": "square", "judge": "circle"},
        {"prompt": "b", "asked": "square", "judge": "square"},
        {"prompt": "c", "asked": "circle", "judge": "circle"},
        {"prompt": "d", "asked": "triangle", "judge": None},
    ]
    (tmp_path / "hidden.json").write_text(json.dumps({"model": "m", "clips": clips}))
    labels = tmp_path / "labels.txt"
    labels.write_text("0s 1s\n2s 3?\n")
    result = check.score(tmp_path, labels)
    assert result["shape_accuracy_by_judge"] == 0.5 and result["shape_accuracy_by_person"] == 0.5
    assert result["person_cannot_tell"] == 1
    assert result["judge_agrees_with_person_where_clear"] == round(1 / 3, 4)
    assert result["disagreements_where_clear"] == {"person square, judge circle": 2}
    assert result["by_asked_shape"]["square"] == {
        "clips": 2, "judge_says_asked": 1, "person_says_asked": 2, "person_cannot_tell": 0}
    labels.write_text("0s 1s 2s")  # clip 3 unlabelled
    with pytest.raises(SystemExit):
        check.score(tmp_path, labels)
    labels.write_text("0s 1s 2s 3x")
    with pytest.raises(SystemExit, match="bad label '3x'"):
        check.score(tmp_path, labels)


def test_judge_check_sheet_shows_three_frames_of_each_clip_and_only_its_number():
    check = _judge_check_module()
    clips = [np.random.default_rng(k).random((17, 32, 32, 3)).astype(np.float32) for k in range(5)]
    sheet = check.contact_sheet(clips, first=32)
    tile = check.clip_tile(clips[0], 32)
    assert tile.size == ((3 * 32 + 2 * 2) * check.TILE_SCALE, 32 * check.TILE_SCALE + 18)
    assert sheet.size == (4 * (tile.width + 8), 2 * (tile.height + 4))


def test_judge_check_shuffles_the_shown_order_only_when_asked():
    check = _judge_check_module()
    assert check.shown_order(6, None) == list(range(6))
    shuffled = check.shown_order(96, 3)
    assert sorted(shuffled) == list(range(96)) and shuffled != list(range(96))
    assert shuffled == check.shown_order(96, 3)
