"""The committed toy model loads through the ordinary diffusers code path and makes clips of the right shape."""

import json
import os
import random

import numpy as np
import pytest
import torch

from vidgen.toy import TOY_MODEL_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def description() -> dict:
    return json.loads((TOY_MODEL_DIR / "vidgen_toy.json").read_text())


@pytest.fixture(scope="module")
def pipe():
    from diffusers import WanPipeline

    torch.set_num_threads(1)
    pipeline = WanPipeline.from_pretrained(str(TOY_MODEL_DIR))
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def _call(pipe, description, prompt, seed, **extra):
    return pipe(
        prompt=prompt,
        num_frames=description["num_frames_argument"],
        height=description["height"],
        width=description["width"],
        num_inference_steps=description["recommended_steps"],
        guidance_scale=description["recommended_guidance"],
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
        max_sequence_length=description["max_sequence_length"],
        **extra,
    ).frames


def test_weights_are_safetensors_and_small():
    files = [p for p in TOY_MODEL_DIR.rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix in {".safetensors", ".bin", ".pt", ".pth"}]
    assert weights and all(p.suffix == ".safetensors" for p in weights)
    assert sum(p.stat().st_size for p in files) <= 30 * 1024 * 1024


def test_description_lists_what_the_model_draws(description):
    assert len(description["colors"]) >= 6 and {"circle", "square", "triangle"} <= set(description["shapes"])
    assert {"pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out"} == set(description["camera_moves"])
    assert description["num_frames"] == description["num_frames_argument"] + 1
    assert description["example_prompts"]


def test_the_app_pads_prompts_as_the_model_was_trained(description):
    from vidgen.catalog import Catalog
    from vidgen.settings import Settings

    entry = Catalog.load(Settings().catalog_path).get("vidgen-toy")
    assert entry.call_kwargs["max_sequence_length"] == description["max_sequence_length"]


def test_tokenizer_loads_offline_with_autotokenizer(description):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(TOY_MODEL_DIR / "tokenizer"))
    for prompt in description["example_prompts"]:
        ids = tokenizer(prompt).input_ids
        assert tokenizer.unk_token_id not in ids and ids[-1] == tokenizer.eos_token_id


def test_text_to_video_has_the_native_shape_and_is_deterministic(pipe, description):
    prompt = description["example_prompts"][0]
    first = _call(pipe, description, prompt, seed=3)
    again = _call(pipe, description, prompt, seed=3)
    other = _call(pipe, description, prompt, seed=4)
    size = (description["height"], description["width"])
    assert first.shape == (1, description["num_frames"], *size, 3)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert 0.0 <= first.min() and first.max() <= 1.0


def test_image_to_video_keeps_the_given_first_frame(pipe, description):
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    from vidgen.toy.world import WorldConfig, render_clip, spec_for

    world = WorldConfig()
    first = render_clip(spec_for("blue", "square", "right", random.Random(0), "white"), world, [0])[0]
    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    frames = _call(
        i2v, description, "a blue square moves to the right on a white background", 0, image=Image.fromarray(first)
    )[0]
    assert frames.shape[0] == description["num_frames"]
    assert np.abs(frames[0] * 255.0 - first).mean() < 20.0


def test_the_model_follows_the_background_colour_in_the_prompt(pipe, description):
    """A coarse quality check that cannot pass by chance: white vs black backgrounds, four seeds each."""
    brightness = {}
    for background in ("white", "black"):
        prompt = f"a red circle moves to the right on a {background} background"
        clips = [_call(pipe, description, prompt, seed) for seed in range(4)]
        brightness[background] = [float(np.median(clip)) for clip in clips]
    assert min(brightness["white"]) > max(brightness["black"]) + 0.3, brightness


def test_the_model_draws_the_object_colour_in_the_prompt(pipe, description):
    """Six colours, two seeds each, scored by the judge: chance is one in six, the shipped model gets ~9 in 10."""
    from vidgen.toy.judge import judge_clip

    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    found = [
        judge_clip(_call(pipe, description, f"a {colour} circle stays still on a white background", seed)[0]).color
        for colour in colours
        for seed in (0, 1)
    ]
    wanted = [colour for colour in colours for _ in (0, 1)]
    right = sum(f == w for f, w in zip(found, wanted, strict=True))
    assert right >= 9, list(zip(wanted, found, strict=True))



def test_the_model_moves_the_object_the_way_the_prompt_says(pipe, description):
    """Six motions, two seeds each, scored by the judge: chance is about one in seven; the shipped model moves
    the object as asked in nearly every clip (held-out motion 100 % in bench/results/toy_model.json)."""
    from vidgen.toy.judge import judge_clip

    phrases = {"left": "moves to the left", "right": "moves to the right", "up": "moves up", "down": "moves down",
               "grow": "grows", "shrink": "shrinks"}
    wanted, found = [], []
    for motion, phrase in phrases.items():
        for seed in (0, 1):
            clip = _call(pipe, description, f"a blue square {phrase} on a white background", seed)[0]
            wanted.append(motion)
            found.append(judge_clip(clip).motion)
    right = sum(f == w for f, w in zip(found, wanted, strict=True))
    assert right >= 10, list(zip(wanted, found, strict=True))

def test_the_diagnostics_leave_the_model_unchanged_and_report_shares(pipe):
    from vidgen.toy.diagnose import temporal_locality, words_or_position

    prompt = "a red circle moves to the right on a white background"
    before = _frames(pipe, prompt)
    locality = temporal_locality(pipe, clips=2)
    assert len(locality) == len(pipe.transformer.blocks)
    assert all(len(heads) == pipe.transformer.config.num_attention_heads for heads in locality)
    # A share of attention within one of 17 frames: at least 2/17 if attention ignored time, at most 1.
    assert all(0.1 < share <= 1.0 for heads in locality for share in heads)
    assert np.array_equal(before, _frames(pipe, prompt))  # the recording processors were removed again
    probe = words_or_position(pipe, repeats=1, steps=2)
    assert probe["clips"] == 6
    assert all(0 <= probe[k] <= 1 for k in probe if k != "clips")


def _frames(pipe, prompt):
    return pipe(prompt=prompt, num_frames=16, height=32, width=32, num_inference_steps=2, guidance_scale=4.0,
                max_sequence_length=32, generator=torch.Generator().manual_seed(0), output_type="np").frames[0]
