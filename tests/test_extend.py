"""Extend on a tiny Wan pipeline: segments continue from the last frame, each charged for what it adds, the
joined clip and its recipe, the 60 s cap, refusals, and the seam measure."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vidgen.extend import MAX_TOTAL_S, ExtendRequest, plan_extend, run_extend, seam_spike_ratio
from vidgen.jobs import Done, Failed, Progress
from vidgen.media import probe
from vidgen.requests import InvalidRequest


def finish(services, request, user):
    events = list(run_extend(services, request, user))
    return events, events[-1]


def test_extend_joins_segments_and_charges_only_added_seconds(services, free_user, sample_video):
    before = services.ledger.balance(free_user).used_s
    request = ExtendRequest(video_path=str(sample_video), target_s=5, prompt="a red circle moves left", seed=7,
                            settle_frames=0)
    events, last = finish(services, request, free_user)
    assert isinstance(last, Done), last
    result = last.result
    # The 2 s source is 16 frames at the model's 8 fps; each tiny segment renders 17 frames and adds 16.
    assert len(result.frames) == 16 + 2 * 16
    info = probe(result.video_path)
    assert info.frames == 48 and info.fps == 8.0
    recipe = json.loads(info.comment)
    assert recipe["extend"]["joins"] == [16, 32] and recipe["extend"]["source_frames"] == 16
    assert [s["seed"] for s in recipe["extend"]["segments"]] == [7, 8]
    assert result.seconds_charged == pytest.approx(4.0)
    assert services.ledger.balance(free_user).used_s - before == pytest.approx(4.0)
    assert any(isinstance(e, Progress) and e.message.startswith("Segment 2/2") for e in events)
    rows = services.history.list(free_user.user_id)
    assert sorted(r.mode for r in rows) == ["extend", "image_to_video", "image_to_video"]


def test_settling_frames_are_left_out_and_not_charged(services, free_user, sample_video):
    before = services.ledger.balance(free_user).used_s
    request = ExtendRequest(video_path=str(sample_video), target_s=5, prompt="a red circle moves left", seed=7,
                            settle_frames=2)
    _, last = finish(services, request, free_user)
    assert isinstance(last, Done), last
    # Each 17-frame segment adds 14: its first frame repeats the clip's last, the next 2 are left out.
    assert len(last.result.frames) == 16 + 2 * 14 and last.result.recipe["extend"]["joins"] == [16, 30]
    assert services.ledger.balance(free_user).used_s - before == pytest.approx(28 / 8)
    with pytest.raises(InvalidRequest, match="settle_frames"):
        plan_extend(services, ExtendRequest(video_path=str(sample_video), target_s=5, prompt="x", settle_frames=16))


def test_each_segment_starts_from_the_previous_last_frame(services, free_user, sample_video):
    request = ExtendRequest(video_path=str(sample_video), target_s=3, prompt="a blue square", seed=1)
    _, last = finish(services, request, free_user)
    assert isinstance(last, Done), last
    segment_job = last.result.recipe["extend"]["segments"][0]["job_id"]
    segment_dir = last.result.video_path.parent.parent / segment_job
    start = np.asarray(Image.open(next(segment_dir.glob("input-image*"))))
    assert np.array_equal(start, last.result.frames[15])  # the source clip's last frame conditioned segment 1


def test_the_prompt_defaults_to_the_clip_recipe(services, free_user, sample_video):
    from vidgen.jobs import run_job
    from vidgen.requests import TextToVideoRequest

    made = list(run_job(services, TextToVideoRequest(prompt="a green ball rises", seed=3, duration_s=1), free_user))
    clip = made[-1].result.video_path
    plan = plan_extend(services, ExtendRequest(video_path=str(clip), target_s=3))
    assert plan.prompt == "a green ball rises"
    assert plan_extend(services, ExtendRequest(video_path=str(clip), target_s=3, prompt="new")).prompt == "new"


def test_the_total_is_capped_at_60_seconds(services, sample_video):
    plan = plan_extend(services, ExtendRequest(video_path=str(sample_video), target_s=MAX_TOTAL_S, prompt="x"))
    assert plan.total_frames == 480 and plan.segments == 29  # 16 + 29 * 16 frames
    with pytest.raises(InvalidRequest, match="at most 60"):
        plan_extend(services, ExtendRequest(video_path=str(sample_video), target_s=61, prompt="x"))
    with pytest.raises(InvalidRequest, match="already"):
        plan_extend(services, ExtendRequest(video_path=str(sample_video), target_s=1, prompt="x"))


def test_blocked_prompt_stops_before_any_charge(services, free_user, sample_video):
    before = services.ledger.balance(free_user).used_s
    request = ExtendRequest(video_path=str(sample_video), target_s=4, prompt="explicit porn, naked woman")
    _, last = finish(services, request, free_user)
    assert isinstance(last, Failed) and last.kind == "blocked"
    assert services.ledger.balance(free_user).used_s == before


def test_seam_ratio_sees_a_cut_and_ignores_smooth_joins():
    ramp = np.stack([np.full((8, 8, 3), 4 * i, np.uint8) for i in range(30)])
    assert seam_spike_ratio(ramp, [10, 20])["ratio"] == pytest.approx(1.0)
    cut = ramp.copy()
    cut[10:] = np.clip(cut[10:].astype(int) + 40, 0, 255).astype(np.uint8)
    assert seam_spike_ratio(cut, [10])["ratio"] > 5
