"""Director Mode: camera paths, warps measured with the toy judge's global flow, text conditioning, and the
camera applied end to end on tiny Wan pipelines through both strategies (text words, warped frames)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import yaml

from tests.conftest import TINY_WAN_ENTRY, make_services
from vidgen.catalog import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, VIDEO_TO_VIDEO
from vidgen.director import (
    AXES,
    WARP_GUIDE_STRENGTH,
    CameraMove,
    camera_phrases,
    prompt_with_camera,
    trajectory_preview,
    warp_frame,
    warp_still,
)
from vidgen.jobs import Done, run_job
from vidgen.requests import ImageToVideoRequest, InvalidRequest, TextToVideoRequest, plan_render
from vidgen.toy.judge import JudgeThresholds, classify_camera, to_float_frames
from vidgen.toy.world import render_clip, spec_for


@pytest.fixture(scope="module")
def textured_still() -> np.ndarray:
    spec = spec_for("red", "circle", "static", random.Random(3))
    return render_clip(spec)[0]


@pytest.mark.parametrize(
    ("axis", "amount", "expected"),
    [
        ("truck", 10, "pan_right"), ("truck", -10, "pan_left"),
        ("pan", 10, "pan_right"), ("pan", -10, "pan_left"),
        ("pedestal", 10, "tilt_up"), ("pedestal", -10, "tilt_down"),
        ("tilt", 10, "tilt_up"), ("tilt", -10, "tilt_down"),
        ("zoom", 10, "zoom_in"), ("zoom", -10, "zoom_out"),
    ],
)
def test_warped_guide_clip_moves_the_requested_way(textured_still, axis, amount, expected):
    clip = warp_still(textured_still, CameraMove(**{axis: amount}), 17)
    label, _ = classify_camera(to_float_frames(clip), JudgeThresholds())
    assert label == expected


def test_small_moves_move_less_than_large_ones(textured_still):
    from vidgen.toy.judge import global_flow

    small = global_flow(warp_still(textured_still, CameraMove(pan=2), 9).astype(np.float32))[0]
    large = global_flow(warp_still(textured_still, CameraMove(pan=8), 9).astype(np.float32))[0]
    assert large < small < 0  # camera right: content slides left (negative x flow), more for a larger move


def test_roll_turns_the_view_clockwise():
    frame = np.zeros((33, 33, 3), np.uint8)
    frame[2:6, 14:19] = 255  # a mark at the top centre
    rolled = warp_frame(frame, CameraMove(roll=10), 1.0)  # camera rolls 30 degrees clockwise
    ys, xs = np.nonzero(rolled[..., 0] > 128)
    assert xs.mean() < 14 and ys.mean() > 3  # so the scene turns anticlockwise: the mark goes up-left


def test_first_frame_of_a_guide_clip_is_the_image(textured_still):
    clip = warp_still(textured_still, CameraMove(truck=7, roll=-4, zoom=3), 5)
    assert np.abs(clip[0].astype(int) - textured_still.astype(int)).max() <= 1


def test_camera_values_are_checked():
    with pytest.raises(ValueError, match="between -10 and \\+10"):
        CameraMove.from_dict({"pan": 11})
    with pytest.raises(ValueError, match="Unknown camera"):
        CameraMove.from_dict({"dolly": 1})
    assert CameraMove.from_dict({"zoom": "3"}).as_dict() == {"zoom": 3.0}
    assert CameraMove.from_dict({}).is_static


def test_camera_words_follow_the_strongest_component():
    assert camera_phrases(CameraMove(pan=-6)) == ["the camera pans left"]
    assert camera_phrases(CameraMove(truck=2, pan=2, zoom=-8)) == ["the camera zooms out", "the camera pans right"]
    assert camera_phrases(CameraMove(pedestal=5)) == ["the camera tilts up"]
    assert prompt_with_camera("a red circle.", CameraMove(tilt=-3)) == "a red circle, the camera tilts down"
    assert prompt_with_camera("a red circle", CameraMove()) == "a red circle"


def test_trajectory_preview_draws_each_move_differently():
    still = trajectory_preview(CameraMove())
    assert still.shape == (128, 192, 3) and still.dtype == np.uint8
    drawings = [trajectory_preview(CameraMove(**{axis: 8})) for axis in AXES]
    for drawing in drawings:
        assert (drawing != still).any()
    assert len({d.tobytes() for d in drawings}) == len(AXES)


# ---- the camera through the request path on tiny pipelines -------------------------------------------


@pytest.fixture(scope="module")
def camera_catalog(tmp_path_factory, tiny_wan_dir):
    models = {
        "tiny-warp": {**TINY_WAN_ENTRY, "source": str(tiny_wan_dir), "camera": "warp"},
        "tiny-text": {**TINY_WAN_ENTRY, "source": str(tiny_wan_dir), "camera": "text"},
        "tiny-warp-t2v-only": {**TINY_WAN_ENTRY, "source": str(tiny_wan_dir), "camera": "warp",
                               "pipelines": {"text_to_video": "WanPipeline"}},
    }
    path = tmp_path_factory.mktemp("camera-catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump({"default_model": "tiny-warp", "models": models}))
    return path


@pytest.fixture
def camera_services(tmp_path, camera_catalog, safety_filter):
    return make_services(tmp_path, camera_catalog, safety_filter)


def test_text_models_get_camera_words(camera_services):
    request = TextToVideoRequest(prompt="a red circle", model_id="tiny-text", camera={"pan": -5}, seed=1)
    _, plan = plan_render(request, camera_services.catalog, camera_services.settings)
    assert plan.prompt == "a red circle, the camera pans left" and plan.mode == TEXT_TO_VIDEO
    assert plan.output_camera == ()
    rolled = TextToVideoRequest(prompt="a red circle", model_id="tiny-text", camera={"roll": 4, "zoom": 2}, seed=1)
    _, plan = plan_render(rolled, camera_services.catalog, camera_services.settings)
    assert plan.prompt == "a red circle, the camera zooms in" and plan.output_camera == (("roll", 4.0),)


def test_warp_models_render_image_to_video_from_a_warped_guide(camera_services, textured_still, tmp_path):
    from PIL import Image

    sample_image = tmp_path / "textured.png"
    Image.fromarray(textured_still).save(sample_image)
    request = ImageToVideoRequest(image_path=str(sample_image), model_id="tiny-warp", camera={"zoom": 6}, seed=1)
    _, plan = plan_render(request, camera_services.catalog, camera_services.settings)
    assert plan.mode == VIDEO_TO_VIDEO and len(plan.video) == plan.num_frames
    assert plan.strength == pytest.approx(max(WARP_GUIDE_STRENGTH, 1 / plan.steps), abs=1e-5)  # >= one step
    assert np.asarray(plan.video[0]).tolist() != np.asarray(plan.video[-1]).tolist()
    static = ImageToVideoRequest(image_path=str(sample_image), model_id="tiny-warp", seed=1)
    assert plan_render(static, camera_services.catalog, camera_services.settings)[1].mode == IMAGE_TO_VIDEO


def test_unknown_camera_axis_is_an_invalid_request(camera_services):
    request = TextToVideoRequest(prompt="a cat", model_id="tiny-warp", camera={"spin": 3})
    with pytest.raises(InvalidRequest, match="Unknown camera"):
        plan_render(request, camera_services.catalog, camera_services.settings)


def test_text_to_video_on_a_warp_model_is_guided_by_its_warped_first_frame(camera_services, free_user):
    catalog, settings = camera_services.catalog, camera_services.settings
    moved = TextToVideoRequest(prompt="a red circle", model_id="tiny-warp", seed=5, duration_s=2, camera={"pan": 10})
    _, plan = plan_render(moved, catalog, settings)
    assert plan.guide_camera == (("pan", 10.0),) and plan.output_camera == () and plan.mode == TEXT_TO_VIDEO
    plain = TextToVideoRequest(prompt="a red circle", model_id="tiny-warp", seed=5, duration_s=2)
    results = []
    for request in (plain, moved):
        last = list(run_job(camera_services, request, free_user))[-1]
        assert isinstance(last, Done), last
        results.append(last.result)
    assert results[1].frames.shape == results[0].frames.shape
    assert not np.array_equal(results[0].frames, results[1].frames)
    assert results[1].recipe["request"]["camera"] == {"pan": 10}


def test_without_video_to_video_the_rendered_frames_are_warped(camera_services):
    request = TextToVideoRequest(prompt="a red circle", model_id="tiny-warp-t2v-only", camera={"zoom": -5})
    _, plan = plan_render(request, camera_services.catalog, camera_services.settings)
    assert plan.output_camera == (("zoom", -5.0),) and plan.guide_camera == ()


# ---- General Motion ---------------------------------------------------------------------------------------


def test_general_motion_drives_the_models_own_parameter(camera_services):
    catalog, settings = camera_services.catalog, camera_services.settings
    plans = {m: plan_render(TextToVideoRequest(prompt="a cat", model_id="tiny-warp", motion=m), catalog, settings)[1]
             for m in (None, 1, 10)}
    assert plans[None].guidance == 3.0  # 0 on the slider: the model's own default
    assert (plans[1].guidance, plans[10].guidance) == (2.0, 6.0)
    assert dict(plans[10].extra)["guidance_scale"] == 6.0


def test_shipped_motion_mappings_stay_inside_each_models_limits():
    from vidgen.catalog import Catalog
    from vidgen.settings import PROJECT_ROOT

    catalog = Catalog.load(PROJECT_ROOT / "vidgen" / "catalog.yaml")
    for entry in catalog.models.values():
        assert entry.motion is not None, entry.id
        low, high = entry.motion.value(1), entry.motion.value(10)
        assert low < high, entry.id  # more motion, larger value
        if entry.motion.parameter == "guidance_scale":
            assert entry.guidance.contains(low) and entry.guidance.contains(high), entry.id
        else:
            assert entry.motion.parameter == "motion_bucket_id" and 0 <= low and high <= 255, entry.id
