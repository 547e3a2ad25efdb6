"""The app launched in-process and driven through its public API with gradio_client, like any API caller."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.conftest import make_services
from vidgen.media import probe
from vidgen.ui import create_demo


@pytest.fixture(scope="module")
def app(tmp_path_factory, catalog_path, safety_filter):
    services = make_services(tmp_path_factory.mktemp("app"), catalog_path, safety_filter)
    demo = create_demo(services)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                allowed_paths=[str(services.settings.output_dir)])
    client = Client(demo.local_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))
    yield services, client
    demo.close()


def common(prompt="a red circle moves left", seed=4):
    # prompt, negative prompt, model, duration, resolution, steps, guidance, seed, motion
    return [prompt, "", "tiny-wan", 1, "32x32", 2, 3.0, seed, 5]


def test_every_tab_has_a_named_endpoint(app):
    _, client = app
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/text_to_video", "/image_to_video", "/video_to_video"} <= names


def test_text_to_video_returns_an_mp4_and_the_seed(app):
    services, client = app
    preview, video, status, seed, files, quota = client.predict(*common(), api_name="/text_to_video")
    info = probe(video["video"] if isinstance(video, dict) else video)
    assert (info.frames, info.width, info.height) == (9, 128, 128)
    assert seed == 4 and "seed `4`" in status
    assert sorted(Path(str(f)).suffix for f in files) == [".gif", ".json"] and "left today" in quota


def test_image_to_video_endpoint(app, sample_image):
    _, client = app
    args = [handle_file(str(sample_image))] + common(prompt="")
    _, video, _, seed, _, _ = client.predict(*args, api_name="/image_to_video")
    assert probe(video["video"] if isinstance(video, dict) else video).frames == 9


def test_video_to_video_endpoint(app, sample_video):
    _, client = app
    args = [handle_file(str(sample_video))] + common(prompt="a blue square") + [0.6]
    _, video, _, _, _, _ = client.predict(*args, api_name="/video_to_video")
    assert probe(video["video"] if isinstance(video, dict) else video).frames == 9


def test_api_callers_get_the_same_refusals(app):
    _, client = app
    with pytest.raises(Exception, match="enter a prompt"):
        client.predict(*common(prompt=""), api_name="/text_to_video")
    with pytest.raises(Exception, match="Blocked"):
        client.predict(*common(prompt="explicit porn, naked woman"), api_name="/text_to_video")


def test_api_callers_are_charged_and_refused_past_the_budget(app):
    from vidgen.quota import User

    services, client = app
    callers = [row for row in services.ledger.usage_today() if row.source == "anonymous"]
    assert len(callers) == 1 and callers[0].used_s > 0  # earlier calls here were charged to this caller
    caller = User(callers[0].user_id, "anonymous", callers[0].display_name, "anonymous")
    remaining = services.ledger.balance(caller).remaining_s
    services.ledger.reserve(caller, "spend-the-rest", remaining - 0.5)
    services.ledger.settle("spend-the-rest", remaining - 0.5)
    with pytest.raises(Exception, match="Try again in"):
        client.predict(*common(), api_name="/text_to_video")
