"""History through the running app: two signed-in users, a real HTTP client, and reuse-settings round trips."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client, handle_file

from tests.conftest import make_services
from vidgen.quota import IdentityResolver, Roster
from vidgen.ui import create_demo

PASSWORD = {"alice": "alice-secret", "bob": "bob-secret"}


@pytest.fixture(scope="module")
def app(tmp_path_factory, catalog_path, safety_filter):
    services = make_services(tmp_path_factory.mktemp("studio"), catalog_path, safety_filter)
    roster = Roster(entries={}).with_user("alice", PASSWORD["alice"]).with_user("bob", PASSWORD["bob"])
    services.identity = IdentityResolver(roster=roster, salt="test", trusted_proxy=False)
    demo = create_demo(services)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", auth=roster.verify)
    yield services, demo.local_url
    demo.close()


def client_for(url: str, name: str, tmp_path) -> Client:
    return Client(url, auth=(name, PASSWORD[name]), verbose=False, download_files=str(tmp_path / name))


def generate(client: Client, prompt: str = "a red circle moves left", seed: int = 12):
    return client.predict(prompt, "", "tiny-wan", 1, "64x32", 3, 2.5, seed, 0, api_name="/text_to_video")


def test_a_second_user_cannot_see_or_download_the_first_users_outputs(app, tmp_path):
    services, url = app
    alice, bob = client_for(url, "alice", tmp_path), client_for(url, "bob", tmp_path)
    generate(alice)
    [entry] = services.history.list("roster:alice")
    gallery = alice.predict(api_name="/history")
    assert len(gallery) == 1
    bob_gallery = bob.predict(api_name="/history")
    assert bob_gallery == []
    with pytest.raises(Exception, match="No such job"):
        bob.predict(entry.job_id, api_name="/history_item")
    with pytest.raises(Exception, match="No such job"):
        bob.predict(entry.job_id, api_name="/history_delete")
    assert services.history.get("roster:alice", entry.job_id) is not None

    # Guessing URLs with a real HTTP client, logged in as bob: the output folder is never served directly.
    with httpx.Client(base_url=url, follow_redirects=True) as http:
        assert http.post("/login", data={"username": "bob", "password": PASSWORD["bob"]}).status_code == 200
        output_dir = services.settings.output_dir
        for guess in (entry.video_path, f"{output_dir}", f"{output_dir}/", entry.recipe_path):
            response = http.get(f"/gradio_api/file={guess}")
            assert response.status_code in (403, 404), (guess, response.status_code)
        assert http.get("/gradio_api/file=" + str(services.settings.data_dir / "history.db")).status_code in (403, 404)


def test_reuse_settings_round_trip_for_every_mode(app, tmp_path, sample_image, sample_video):
    """Reuse settings fills a tab with every parameter; sending them back regenerates the same clip."""
    from tests.test_studio import decoded_frames

    services, url = app
    alice = client_for(url, "alice", tmp_path)
    api = alice.view_api(print_info=False, return_format="dict")["named_endpoints"]
    modes = ["text_to_video", "image_to_video", "video_to_video"]
    widths = {mode: len(api[f"/{mode}"]["parameters"]) for mode in modes}
    offsets = {mode: sum(widths[m] for m in modes[: modes.index(mode)]) for mode in modes}
    originals = {
        "text_to_video": ["a blue square", "blurry", "tiny-wan", 2, "32x32", 4, 5.0, 77, 3],
        "image_to_video": [handle_file(str(sample_image)), "a cat", "", "tiny-wan", 1, "64x32", 2, 3.5, 78, 0],
        "video_to_video": [handle_file(str(sample_video)), "a dog", "", "tiny-wan", 1, "32x32", 3, 4.5, 79, 0],
    }
    for mode, head in originals.items():
        fixed = {p["parameter_name"]: p.get("parameter_default") for p in api[f"/{mode}"]["parameters"]}
        args = head + list(fixed.values())[len(head):]  # tools added later keep their defaults
        alice.predict(*args, api_name=f"/{mode}")
    entries = {e.mode: e for e in services.history.list("roster:alice") if e.status == "done"}
    for mode in modes:
        result = alice.predict(entries[mode].job_id, api_name="/reuse_settings")
        block = list(result[offsets[mode]: offsets[mode] + widths[mode]])
        names = [p["parameter_name"] for p in api[f"/{mode}"]["parameters"]]
        values = dict(zip(names, block, strict=True))
        assert values["prompt"] == entries[mode].request["prompt"]
        assert int(values["seed"]) == entries[mode].request["seed"]
        if mode != "text_to_video":
            first = names[0]
            values[first] = handle_file(values[first])  # the kept input file comes back as a download
        _, video, *_ = alice.predict(*values.values(), api_name=f"/{mode}")
        assert (decoded_frames(video) == decoded_frames(entries[mode].video_path)).all(), mode
