"""Free Previews on a tiny Wan pipeline: N stills in one quick call, free of generation-seconds, behind the
safety filter and the preview rate limit; a picked still becomes the first frame of an image-to-video job."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vidgen.jobs import Done, run_job
from vidgen.previews import PreviewRefused, preview_steps, render_free_previews
from vidgen.requests import TextToVideoRequest


def test_four_stills_cost_nothing_and_are_reproducible(services, free_user):
    before = services.ledger.balance(free_user).used_s
    request = TextToVideoRequest(prompt="a red circle moves left", seed=11)
    previews = render_free_previews(services, request, free_user)
    assert [c.seed for c in previews.candidates] == [11, 12, 13, 14]
    stills = [np.asarray(Image.open(c.image_path)) for c in previews.candidates]
    assert all(s.shape == (32, 32, 3) for s in stills)
    assert Image.open(previews.candidates[0].display_path).size == (128, 128)
    assert len({s.tobytes() for s in stills}) == 4  # one seed each, four different stills
    assert services.ledger.balance(free_user).used_s == before
    assert previews.previews_today == 1 and previews.steps == preview_steps(services.catalog.get(None))
    again = render_free_previews(services, request, free_user, count=2)
    repeat = np.asarray(Image.open(again.candidates[1].image_path)).astype(int)
    assert np.abs(repeat - stills[1]).max() <= 2  # the same seed gives the same still (batch size aside)


def test_a_picked_still_becomes_the_first_frame_of_the_video(services, free_user):
    previews = render_free_previews(services, TextToVideoRequest(prompt="a blue square", seed=3), free_user, count=2)
    request = previews.video_request(1, duration_s=1)
    assert request.image_path == str(previews.candidates[1].image_path) and request.seed == 4
    last = list(run_job(services, request, free_user))[-1]
    assert isinstance(last, Done), last
    assert last.result.recipe["request"]["prompt"] == "a blue square"
    assert last.result.seconds_charged > 0  # the video itself is charged as usual


def test_blocked_prompts_get_no_previews(services, free_user):
    with pytest.raises(PreviewRefused, match="Blocked") as refused:
        render_free_previews(services, TextToVideoRequest(prompt="explicit porn, naked woman"), free_user)
    assert refused.value.kind == "blocked"
    assert services.ledger.balance(free_user).previews_today == 0


def test_the_preview_rate_limit_applies(services, free_user):
    limit = services.ledger.plans.get("free").previews_per_minute
    request = TextToVideoRequest(prompt="a yellow wedge", seed=1)
    for _ in range(limit):
        render_free_previews(services, request, free_user, count=1)
    with pytest.raises(PreviewRefused) as refused:
        render_free_previews(services, request, free_user, count=1)
    assert refused.value.kind == "rate_limited" and "minute" in str(refused.value)


def test_bad_requests_are_refused_before_the_rate_limit(services, free_user):
    with pytest.raises(PreviewRefused, match="1 to 8"):
        render_free_previews(services, TextToVideoRequest(prompt="a cat"), free_user, count=9)
    with pytest.raises(PreviewRefused, match="enter a prompt"):
        render_free_previews(services, TextToVideoRequest(prompt=""), free_user)
