"""History, recipes, presets, retention and the CLI (issue: the studio around the generator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from tests.conftest import TINY_WAN_ENTRY, make_services
from vidgen.catalog import Catalog
from vidgen.history import History
from vidgen.jobs import Done, run_job
from vidgen.presets import PRESETS_DIR, PresetError, load_presets, read_preset
from vidgen.requests import ImageToVideoRequest, TextToVideoRequest, VideoToVideoRequest, request_from_dict
from vidgen.settings import PROJECT_ROOT, Settings

BUNDLED = PROJECT_ROOT / "assets" / "vidgen-toy" / "model_index.json"


def decoded_frames(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def done(services, request, user):
    last = list(run_job(services, request, user))[-1]
    assert isinstance(last, Done), last
    return last.result


def test_history_survives_a_restart(tmp_path, catalog_path, safety_filter, free_user):
    first = make_services(tmp_path, catalog_path, safety_filter)
    result = done(first, TextToVideoRequest(prompt="a red circle", seed=9), free_user)
    restarted = History(first.settings.data_dir, first.settings.output_dir)
    [entry] = restarted.list(free_user.user_id)
    assert (entry.job_id, entry.status, entry.seconds_charged) == (result.job_id, "done", result.seconds_charged)
    assert Path(entry.video_path).exists() and Path(entry.thumbnail_path).exists()
    assert entry.request["seed"] == 9 and entry.request["prompt"] == "a red circle"
    assert restarted.user_dir(free_user.user_id) == first.history.user_dir(free_user.user_id)


def test_output_paths_are_per_user_and_unguessable(services, free_user):
    from vidgen.quota import User

    bob = User("roster:bob", "free", "bob", "roster")
    alice_dir, bob_dir = services.history.user_dir(free_user.user_id), services.history.user_dir(bob.user_id)
    assert alice_dir != bob_dir and len(alice_dir.name) == 32
    assert free_user.user_id not in str(alice_dir) and "alice" not in str(alice_dir)
    result = done(services, TextToVideoRequest(prompt="a cat", seed=1), free_user)
    assert services.history.owns_path(free_user.user_id, result.video_path)
    assert not services.history.owns_path(bob.user_id, result.video_path)
    assert services.history.get(bob.user_id, result.job_id) is None
    assert not services.history.delete(bob.user_id, result.job_id)
    assert result.video_path.exists()


@pytest.mark.parametrize("mode", ["text_to_video", "image_to_video", "video_to_video"])
def test_recipe_reproduces_the_clip_bit_exact_on_a_tiny_pipeline(services, free_user, sample_image, sample_video,
                                                                  mode):
    request = {
        "text_to_video": TextToVideoRequest(prompt="a blue square moves up", seed=-1),
        "image_to_video": ImageToVideoRequest(image_path=str(sample_image), seed=-1),
        "video_to_video": VideoToVideoRequest(video_path=str(sample_video), prompt="a cat", strength=0.6, seed=-1),
    }[mode]
    first = done(services, request, free_user)
    recipe = json.loads(first.recipe_path.read_text())
    again = done(services, request_from_dict(recipe["request"]), free_user)
    assert again.seed == first.seed
    assert np.array_equal(decoded_frames(first.video_path), decoded_frames(again.video_path))
    assert json.loads(again.recipe_path.read_text())["resolved"] == recipe["resolved"]


@pytest.mark.skipif(not BUNDLED.exists(), reason="bundled model not exported yet")
def test_recipe_reproduces_the_clip_bit_exact_on_the_bundled_model(tmp_path, safety_filter, free_user):
    services = make_services(tmp_path, PROJECT_ROOT / "vidgen" / "catalog.yaml", safety_filter)
    first = done(services, TextToVideoRequest(prompt="a red circle moves to the right on a white background",
                                              steps=6, seed=-1), free_user)
    recipe = json.loads(first.recipe_path.read_text())
    assert recipe["model"]["id"] == "vidgen-toy" and recipe["model"]["revision"].startswith("local-")
    again = done(services, request_from_dict(recipe["request"]), free_user)
    assert np.array_equal(decoded_frames(first.video_path), decoded_frames(again.video_path))


def test_retention_expires_old_files_but_keeps_rows(services, free_user):
    old = done(services, TextToVideoRequest(prompt="a red circle", seed=1), free_user)
    new = done(services, TextToVideoRequest(prompt="a blue circle", seed=2), free_user)
    with services.history.engine.begin() as conn:
        from vidgen.history import jobs_table

        conn.execute(jobs_table.update().where(jobs_table.c.job_id == old.job_id).values(created_at=0.0))
    assert services.history.apply_retention(max_age_days=30, max_total_mb=100) == 1
    rows = {e.job_id: e for e in services.history.list(free_user.user_id)}
    assert rows[old.job_id].status == "expired" and "Expired" in rows[old.job_id].message
    assert not old.video_path.exists() and new.video_path.exists()
    assert services.history.apply_retention(max_age_days=30, max_total_mb=0) == 1  # size cap: oldest go first
    assert not new.video_path.exists()


def test_every_shipped_preset_is_valid():
    settings = Settings.load(env={})
    presets = load_presets(Catalog.load(settings.catalog_path), settings)
    assert len(presets) >= 6
    assert {"classroom", "real-model"} <= {tag for p in presets.values() for tag in p.tags}
    assert any(p.model == "vidgen-toy" for p in presets.values())


def test_a_bad_preset_fails_with_its_name(tmp_path):
    settings = Settings.load(env={})
    catalog = Catalog.load(settings.catalog_path)
    (tmp_path / "broken.yaml").write_text("name: x\nmodel: vidgen-toy\nprompt: hi\nparameters: {steps: 999}\n")
    with pytest.raises(PresetError, match="broken.yaml: Steps must be"):
        load_presets(catalog, settings, tmp_path)
    (tmp_path / "broken.yaml").write_text("name: x\nmodel: vidgen-toy\nprompt: hi\ncolour: red\n")
    with pytest.raises(PresetError, match="unknown keys"):
        load_presets(catalog, settings, tmp_path)


@pytest.mark.parametrize("preset_path", sorted(PRESETS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_preset_runs_on_the_bundled_or_a_tiny_model(tmp_path, catalog_path, safety_filter, free_user,
                                                                   preset_path):
    preset = read_preset(preset_path)
    fields = preset.request_fields()
    if preset.model == "vidgen-toy" and BUNDLED.exists():
        services = make_services(tmp_path, PROJECT_ROOT / "vidgen" / "catalog.yaml", safety_filter)
        fields["steps"] = 4  # keep the suite fast; quality is measured elsewhere
    else:  # real models cannot be downloaded here: same request on the tiny pipeline of a real family
        services = make_services(tmp_path, catalog_path, safety_filter)
        fields.update(model_id="tiny-wan", resolution="", duration_s=1, steps=2)
    result = done(services, request_from_dict(fields), free_user)
    assert result.recipe["request"]["prompt"] == preset.prompt


def run_cli(args, env_extra, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    return subprocess.run([sys.executable, "-m", "vidgen", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_cli_generate_then_reproduce_from_its_recipe(tmp_path, tiny_wan_dir):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"models": {"tiny-wan": {**TINY_WAN_ENTRY, "source": str(tiny_wan_dir)}}}))
    env = {"VIDGEN_CATALOG_PATH": str(catalog), "VIDGEN_DATA_DIR": str(tmp_path / "data"),
           "VIDGEN_OUTPUT_DIR": str(tmp_path / "out"), "VIDGEN_LOCAL_USER": "teacher"}
    first = run_cli(["generate", "--prompt", "a red circle moves left", "--seed", "5", "--out",
                     str(tmp_path / "a.mp4")], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Step" in first.stderr  # the terminal progress bar
    recipe = next((tmp_path / "out").rglob("recipe.json"))
    second = run_cli(["generate", "--recipe", str(recipe), "--out", str(tmp_path / "b.mp4")], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert np.array_equal(decoded_frames(tmp_path / "a.mp4"), decoded_frames(tmp_path / "b.mp4"))
    blocked = run_cli(["generate", "--prompt", "explicit porn, a naked woman"], env, tmp_path)
    assert blocked.returncode == 1 and "Blocked" in blocked.stderr
    bad = run_cli(["generate", "--prompt", "x", "--steps", "999"], env, tmp_path)
    assert bad.returncode == 1 and "Steps must be" in bad.stderr
