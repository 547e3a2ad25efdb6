"""The toy world: rendering, captions, the held-out split and the tokenizer built from it."""

import random

import numpy as np

from vidgen.toy.judge import global_flow
from vidgen.toy.model import build_tokenizer
from vidgen.toy.world import (
    CAMERA_MOVES,
    CAMERA_PHRASES,
    COLORS,
    MOTION_PHRASES,
    WorldConfig,
    caption,
    heldout_triples,
    motion_twin,
    object_state,
    object_triple,
    render_clip,
    sample_spec,
    shape_twin,
    spec_for,
    twin_captions,
)


def test_render_clip_shape_and_object_colour():
    spec = spec_for("red", "square", "right", random.Random(0), background="white")
    clip = render_clip(spec)
    cfg = WorldConfig()
    assert clip.shape == (cfg.num_frames, cfg.size, cfg.size, 3) and clip.dtype == np.uint8
    red = np.all(np.abs(clip.astype(int) - COLORS["red"]) < 10, axis=-1)
    xs_first, xs_last = np.nonzero(red[0])[1], np.nonzero(red[-1])[1]
    assert len(xs_first) > 20 and xs_last.mean() - xs_first.mean() > 0.2 * cfg.size


def test_a_translating_object_starts_on_the_side_it_leaves_and_crosses_the_frame():
    # Where the object is in the first frame agrees with the words (left-movers start on the right), so the
    # motion is a layout the model can place from the text, and it travels more than a token (8 px of 32).
    rng = random.Random(5)
    for motion, axis, sign in (("left", 0, -1), ("right", 0, 1), ("up", 1, -1), ("down", 1, 1)):
        for _ in range(100):
            obj = spec_for("red", "circle", motion, rng).objects[0]
            start, end = object_state(obj, 0.0), object_state(obj, 1.0)
            assert (end[axis] - start[axis]) * sign > 0.35 and (start[axis] - 0.5) * sign < 0
    stills = [spec_for("red", "circle", "still", rng).objects[0].start for _ in range(100)]
    assert all(0.35 < x < 0.65 and 0.35 < y < 0.65 for x, y in stills)


def test_a_camera_clip_keeps_its_object_in_the_frame_while_the_scene_slides():
    rng = random.Random(7)
    for move in ("pan_left", "tilt_down", "zoom_in"):
        clip = render_clip(spec_for("red", "square", move, rng))
        red = np.all(np.abs(clip.astype(int) - COLORS["red"]) < 10, axis=-1)
        assert all(frame.sum() > 20 for frame in red)
        assert not red[:, 0].any() and not red[:, -1].any() and not red[:, :, 0].any() and not red[:, :, -1].any()


def test_every_object_stays_inside_the_frame():
    rng = random.Random(6)
    for _ in range(300):
        spec = sample_spec(rng)
        for obj in spec.objects:
            for progress in (0.0, 0.5, 1.0):
                x, y, size = object_state(obj, progress)
                assert -0.01 <= x - size and x + size <= 1.01 and -0.01 <= y - size and y + size <= 1.01


def test_rendering_is_deterministic():
    spec = sample_spec(random.Random(3))
    assert np.array_equal(render_clip(spec), render_clip(spec))


def test_training_sampler_never_draws_heldout_triples():
    exclude = heldout_triples()
    rng = random.Random(1)
    for _ in range(400):
        spec = sample_spec(rng, exclude)
        assert not any(object_triple(spec, o) in exclude for o in spec.objects)


def test_heldout_triples_are_fixed_and_cover_camera_moves_and_motions():
    triples = heldout_triples()
    assert triples == heldout_triples() and len(triples) == 24
    assert any(t[2] in CAMERA_MOVES for t in triples) and any(t[2] not in CAMERA_MOVES for t in triples)


def test_captions_only_use_tokenizer_words():
    tokenizer = build_tokenizer()
    rng = random.Random(2)
    for _ in range(300):
        spec = sample_spec(rng)
        for heldout in (False, True):
            ids = tokenizer(caption(spec, rng, heldout_templates=heldout)).input_ids
            assert tokenizer.unk_token_id not in ids
            assert ids[-1] == tokenizer.eos_token_id


def test_camera_pan_left_moves_content_right_and_zoom_in_expands():
    rng = random.Random(4)
    shift_x, _, _ = global_flow(render_clip(spec_for("blue", "circle", "pan_left", rng)).astype(np.float32))
    assert shift_x > 3
    _, _, zoom = global_flow(render_clip(spec_for("blue", "circle", "zoom_in", rng)).astype(np.float32))
    assert zoom > 0.2


def test_a_shape_twin_is_the_same_clip_with_the_other_of_circle_and_square():
    rng = random.Random(4)
    for shape, other in (("circle", "square"), ("square", "circle")):
        spec = spec_for("red", shape, "left", rng, background="white")
        twin = shape_twin(spec)
        assert twin.objects[0].shape == other and spec.objects[0].shape == shape  # the original is untouched
        assert twin.objects[0].start == spec.objects[0].start and twin.background == spec.background
        differs = (render_clip(spec) != render_clip(twin)).any(axis=-1)
        assert 0 < differs.mean() < 0.1  # only the corners change


def test_triangles_pairs_and_heldout_twins_have_no_twin():
    rng = random.Random(5)
    assert shape_twin(spec_for("red", "triangle", "up", rng)) is None
    pair = next(s for s in (sample_spec(rng) for _ in range(500)) if len(s.objects) == 2)
    assert shape_twin(pair) is None
    color, shape, move = next(t for t in heldout_triples() if t[1] in ("circle", "square"))
    source = spec_for(color, "square" if shape == "circle" else "circle", move, rng)
    assert shape_twin(source) is not None and shape_twin(source, heldout_triples()) is None


def test_twin_captions_differ_only_in_the_shape_word_and_use_one_captions_randomness():
    rng = random.Random(6)
    for _ in range(100):
        spec = sample_spec(rng)
        twin = shape_twin(spec)
        if twin is None:
            continue
        state = rng.getstate()
        text, twin_text = twin_captions(spec, twin, rng)
        after = rng.getstate()
        rng.setstate(state)
        assert caption(spec, rng) == text and rng.getstate() == after
        changed = [(a, b) for a, b in zip(text.split(), twin_text.split(), strict=True) if a != b]
        shape_words = {"circle", "ball", "disc", "square", "box", "block"}
        assert len(changed) == 1 and {word.strip(",.") for word in changed[0]} <= shape_words


def test_a_motion_twin_is_the_clip_played_backwards_with_the_opposite_move():
    rng = random.Random(7)
    opposite = {"left": "right", "up": "down", "grow": "shrink", "pan_left": "pan_right", "tilt_down": "tilt_up",
                "zoom_in": "zoom_out"}
    for move, other in list(opposite.items()) + [(b, a) for a, b in opposite.items()]:
        spec = spec_for("blue", "square", move, rng)
        twin = motion_twin(spec)
        assert object_triple(twin, twin.objects[0]) == ("blue", "square", other)
        assert np.abs(render_clip(twin).astype(int) - render_clip(spec)[::-1]).max() <= 2, move


def test_still_clips_pairs_and_heldout_reverses_have_no_motion_twin():
    rng = random.Random(8)
    assert motion_twin(spec_for("red", "circle", "still", rng)) is None
    assert motion_twin(spec_for("red", "circle", "static", rng)) is None
    pair = next(s for s in (sample_spec(rng) for _ in range(500)) if len(s.objects) == 2)
    assert motion_twin(pair) is None
    reverse = {"left": "right", "right": "left", "up": "down", "down": "up", "grow": "shrink", "shrink": "grow",
               "pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down", "tilt_down": "tilt_up",
               "zoom_in": "zoom_out", "zoom_out": "zoom_in"}
    color, shape, move = next(t for t in sorted(heldout_triples()) if t[2] in reverse)
    source = spec_for(color, shape, reverse[move], rng)
    assert motion_twin(source) is not None and motion_twin(source, heldout_triples()) is None


def test_motion_twin_captions_differ_only_in_the_move():
    rng = random.Random(9)
    phrases = [*MOTION_PHRASES.values(), *CAMERA_PHRASES.values()]
    move_words = {word for group in phrases for phrase in group for word in phrase.split()}
    checked = 0
    for _ in range(200):
        spec = sample_spec(rng)
        twin = motion_twin(spec)
        if twin is None:
            continue
        text, twin_text = twin_captions(spec, twin, rng)
        changed = [(a, b) for a, b in zip(text.split(), twin_text.split(), strict=True) if a != b]
        assert changed and {word.strip(",.") for pair in changed for word in pair} <= move_words
        checked += 1
    assert checked > 100
