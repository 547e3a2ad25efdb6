"""A few real training steps of the toy model, an export loadable by diffusers, and exact resumption."""

import json
import random

import numpy as np
import pytest
import torch

from vidgen.toy.model import MAX_SEQUENCE_LENGTH, ToyArchitecture
from vidgen.toy.train import TrainConfig, encode_text, make_parts, parse_args, train, warm_start_source
from vidgen.toy.world import WorldConfig

TINY_WORLD = WorldConfig(size=16, num_frames=5, fps=4, supersample=2)
TINY_ARCH = ToyArchitecture(text_dim=16, vae_base_dim=8, z_dim=4, heads=2, head_dim=12, layers=1, ffn_dim=32)


def tiny_config(tmp_path, run: str, **overrides) -> TrainConfig:
    values = dict(
        run_dir=str(tmp_path / run),
        export_dir=str(tmp_path / f"{run}-export"),
        vae_steps=2,
        vae_batch=2,
        vae_window=5,
        clip_vae_steps=2,
        clip_vae_batch=1,
        steps=3,
        batch=4,
        pool_size=16,
        pool_prefill=8,
        pool_fresh=2,
        warmup=1,
        checkpoint_every=1,
        export_every_minutes=0.0,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_a_few_training_steps_export_a_loadable_pipeline(tmp_path):
    from diffusers import WanPipeline

    train(tiny_config(tmp_path, "a"), TINY_ARCH, TINY_WORLD)
    export = tmp_path / "a-export"
    described = json.loads((export / "vidgen_toy.json").read_text())
    assert described["training"]["transformer_steps"] == 3 and described["width"] == 16
    pipe = WanPipeline.from_pretrained(str(export))
    frames = pipe(
        prompt="a red circle moves left",
        num_frames=4,
        height=16,
        width=16,
        num_inference_steps=2,
        guidance_scale=2.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames
    assert frames.shape == (1, 5, 16, 16, 3) and np.isfinite(frames).all()


def test_training_resumes_exactly_from_its_checkpoint(tmp_path):
    straight = train(tiny_config(tmp_path, "straight"), TINY_ARCH, TINY_WORLD)
    train(tiny_config(tmp_path, "resumed", stop_at_step=1), TINY_ARCH, TINY_WORLD)
    resumed = train(tiny_config(tmp_path, "resumed"), TINY_ARCH, TINY_WORLD)
    for a, b in zip(straight.transformer.parameters(), resumed.transformer.parameters(), strict=True):
        assert torch.equal(a, b)
    changed = make_parts(TINY_ARCH).transformer
    assert any(
        not torch.equal(a, b) for a, b in zip(straight.transformer.parameters(), changed.parameters(), strict=True)
    )


def test_a_warm_start_keeps_the_vae_and_trains_only_the_transformer_phase(tmp_path, capsys):
    first = train(tiny_config(tmp_path, "first"), TINY_ARCH, TINY_WORLD)
    warm = train(tiny_config(tmp_path, "warm", init_from=str(tmp_path / "first" / "checkpoint.pt"), log_every=1),
                 TINY_ARCH, TINY_WORLD)
    log = capsys.readouterr().out.split("warm-started from", 1)[1]
    assert "vae step" not in log and "flow step" in log  # straight to the transformer phase
    for a, b in zip(first.vae.parameters(), warm.vae.parameters(), strict=True):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in
               zip(first.transformer.parameters(), warm.transformer.parameters(), strict=True))


def test_a_warm_start_from_an_exported_folder_loads_its_ema_weights(tmp_path):
    from diffusers import WanTransformer3DModel

    train(tiny_config(tmp_path, "first"), TINY_ARCH, TINY_WORLD)
    folder = tmp_path / "first-export"
    warm = train(tiny_config(tmp_path, "warm", init_from=str(folder), steps=0), TINY_ARCH, TINY_WORLD)
    exported = WanTransformer3DModel.from_pretrained(folder / "transformer").state_dict()
    for name, value in warm.transformer.state_dict().items():
        assert torch.equal(value, exported[name]), name
    for a, b in zip(warm.transformer.parameters(), warm.ema_transformer.parameters(), strict=True):
        assert torch.equal(a, b)
    fresh = make_parts(TINY_ARCH).transformer.state_dict()
    assert any(not torch.equal(fresh[name], exported[name]) for name in exported)


def test_the_clip_length_flags_set_the_world():
    world = parse_args(["--num-frames", "9", "--fps", "4"]).world()
    assert (world.num_frames, world.fps) == (9, 4)


def test_an_unknown_architecture_is_refused_by_the_command_line(capsys):
    assert parse_args(["--architecture", "temporal"]).architecture == "temporal"
    with pytest.raises(SystemExit):
        parse_args(["--architecture", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_evaluation_uses_the_clip_geometry_the_model_folder_records(tmp_path):
    from vidgen.toy.evaluate import model_world

    assert model_world(tmp_path) == WorldConfig()  # no vidgen_toy.json: the default world
    (tmp_path / "vidgen_toy.json").write_text(json.dumps({"width": 48, "num_frames": 9, "fps": 4}))
    assert model_world(tmp_path) == WorldConfig(size=48, num_frames=9, fps=4)


def test_evaluation_calls_a_model_folder_with_its_recommended_sampling(tmp_path):
    from vidgen.toy.describe import RECOMMENDED_GUIDANCE, RECOMMENDED_STEPS
    from vidgen.toy.evaluate import model_sampling

    assert model_sampling(tmp_path) == (RECOMMENDED_STEPS, RECOMMENDED_GUIDANCE)  # no vidgen_toy.json
    (tmp_path / "vidgen_toy.json").write_text(json.dumps({"recommended_steps": 12, "recommended_guidance": 4.0}))
    assert model_sampling(tmp_path) == (12, 4.0)


def test_short_padding_with_bias_matches_the_pipelines_padding():
    parts = make_parts(TINY_ARCH)
    with torch.no_grad():
        for p in parts.transformer.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    prompts = ["a red circle moves left", "", "the camera pans left over a blue square"]
    latents = torch.randn(3, TINY_ARCH.z_dim, 2, 4, 4)
    timestep = torch.full((3, 8), 400.0)
    text, bias = encode_text(parts.tokenizer, parts.text_encoder, prompts)
    parts.cross_attention.bias = bias
    with torch.no_grad():
        short = parts.transformer(hidden_states=latents, timestep=timestep, encoder_hidden_states=text)[0]
    tokens = parts.tokenizer(prompts, padding="max_length", max_length=MAX_SEQUENCE_LENGTH, truncation=True,
                             return_tensors="pt")
    full = parts.text_encoder(tokens.input_ids, tokens.attention_mask).last_hidden_state
    full = full * tokens.attention_mask.unsqueeze(-1)
    parts.cross_attention.bias = None
    with torch.no_grad():
        reference = parts.transformer(hidden_states=latents, timestep=timestep, encoder_hidden_states=full)[0]
    torch.testing.assert_close(short, reference, atol=1e-5, rtol=1e-4)


def test_command_line_flags_map_to_the_config():
    cfg = parse_args(["--steps", "7", "--lr", "0.001", "--run-dir", "x"])
    assert (cfg.steps, cfg.lr, cfg.run_dir) == (7, 0.001, "x")


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_flow_loss_is_finite_for_text_and_image_conditioning(share):
    from vidgen.toy.train import flow_loss

    parts = make_parts(TINY_ARCH)
    latents = torch.randn(2, TINY_ARCH.z_dim, 3, 4, 4)
    loss = flow_loss(parts, TINY_ARCH, latents, ["a red circle", ""], torch.Generator().manual_seed(0), share)
    loss.backward()
    assert torch.isfinite(loss) and parts.transformer.patch_embedding.weight.grad is not None


def test_twin_loss_measures_the_predicted_difference_against_the_true_one():
    from vidgen.toy.train import twin_loss

    target = torch.randn(4, 3, 2, 4, 4)
    mask = torch.ones(4, 1, 2, 1, 1)
    right = target + 0.7  # off by the same amount in both rows: the difference is exact
    assert twin_loss(right, target, mask, [0, 2], [1, 3]).item() < 1e-9
    blind = target.clone()
    blind[1], blind[3] = blind[0], blind[2]  # a model that ignores what differs between the twins
    assert twin_loss(blind, target, mask, [0, 2], [1, 3]).item() == pytest.approx(1.0)


def test_twins_get_one_input_so_only_their_words_differ_and_their_loss_trains_the_text_encoder():
    from vidgen.toy.train import flow_loss

    parts = make_parts(TINY_ARCH)
    seen = {}
    forward = parts.transformer.forward

    def recording(hidden_states, **kwargs):
        seen["input"], seen["timestep"] = hidden_states.detach().clone(), kwargs["timestep"].clone()
        return forward(hidden_states=hidden_states, **kwargs)

    parts.transformer.forward = recording
    latents = torch.randn(3, TINY_ARCH.z_dim, 3, 4, 4)
    prompts = ["a red circle", "a red square", "a blue ball"]
    without = flow_loss(
        parts, TINY_ARCH, latents, prompts, torch.Generator().manual_seed(0), 1.0, pairs=[(0, 1)], twin_weight=0.0
    )
    paired = flow_loss(
        parts, TINY_ARCH, latents, prompts, torch.Generator().manual_seed(0), 1.0, pairs=[(0, 1)], twin_weight=1.0
    )
    assert torch.equal(seen["input"][0], seen["input"][1]) and not torch.equal(seen["input"][0], seen["input"][2])
    assert torch.equal(seen["timestep"][0], seen["timestep"][1])  # same time, and no clean first frame for twins
    assert seen["timestep"][0].min() > 0 and seen["timestep"][2, 0] == 0  # the third clip is image-conditioned
    paired.backward()
    assert paired.item() > without.item() and parts.text_encoder.shared.weight.grad.abs().sum() > 0


def test_a_few_training_steps_with_shape_twins(tmp_path):
    from vidgen.toy.train import LatentPool

    cfg = tiny_config(tmp_path, "twins", twin_share=1.0, batch=6)
    parts = train(cfg, TINY_ARCH, TINY_WORLD)
    pool = LatentPool(cfg, parts.vae, TINY_WORLD, set())
    _, prompts, pairs = pool.draw(random.Random(0), 0, 6)
    assert len(prompts) == 6 and pairs
    for a, b in pairs:
        assert b == a + 1 and prompts[a] != prompts[b]
    assert (tmp_path / "twins-export" / "vidgen_toy.json").exists()


def test_motion_twins_are_drawn_as_the_same_clip_played_backwards(tmp_path):
    from vidgen.toy.train import LatentPool
    from vidgen.toy.world import motion_twin

    cfg = tiny_config(tmp_path, "motion-twins", twin_share=1.0, twin_kind="motion", batch=6)
    parts = train(cfg, TINY_ARCH, TINY_WORLD)
    pool = LatentPool(cfg, parts.vae, TINY_WORLD, set())
    latents, prompts, pairs = pool.draw(random.Random(0), 0, 6)
    assert pairs
    for a, b in pairs:
        assert prompts[a] != prompts[b] and not torch.equal(latents[a], latents[b])
    assert pool.twins and all(twin == motion_twin(pool.specs[i]) for i, (twin, _) in pool.twins.items())


def test_motion_weights_single_out_the_latents_that_change_over_the_clip():
    from vidgen.toy.train import motion_weights

    z = torch.zeros(1, 4, 5, 4, 4)
    z[0, :, :, 1, 2] = torch.arange(5.0).view(1, 5) * 0.5  # one position changes from frame to frame
    weights = motion_weights(z, strength=2.0)
    assert weights.shape == (1, 1, 5, 4, 4)
    assert torch.all(weights[0, 0, :, 0, 0] == 1.0)  # still everywhere else
    assert weights[0, 0, 0, 1, 2] == weights[0, 0, 4, 1, 2] == 3.0  # clamped at 1 + strength
    assert torch.equal(motion_weights(z, strength=0.0), torch.ones_like(weights))


def test_shape_weights_single_out_the_object_against_its_frames_background():
    from vidgen.toy.train import shape_weights

    z = torch.full((1, 4, 3, 4, 4), 0.3)  # a plain background
    z[0, :, :, 1:3, 2] = 1.8  # a two-position object in every frame
    weights = shape_weights(z, strength=3.0)
    assert weights.shape == (1, 1, 3, 4, 4)
    assert torch.all(weights[0, 0, :, 1:3, 2] == 4.0)  # clamped at 1 + strength
    assert torch.all(weights[0, 0, :, 0] == 1.0) and torch.all(weights[0, 0, :, 3] == 1.0)
    assert torch.equal(shape_weights(z, strength=0.0), torch.ones_like(weights))


@pytest.mark.parametrize(("name", "latent_frames"), [("default", 17), ("temporal", 5)])
def test_the_vae_maps_17_frames_to_its_latent_frames_and_back(name, latent_frames):
    from vidgen.toy.model import ARCHITECTURES, build_vae

    arch = ARCHITECTURES[name]
    vae = build_vae(arch).eval()
    video = torch.rand(1, 3, 17, 32, 32) * 2 - 1
    with torch.no_grad():
        z = vae.encode(video).latent_dist.mode()
        decoded = vae.decode(z).sample
    assert z.shape == (1, arch.z_dim, latent_frames, 8, 8)
    assert decoded.shape == video.shape
    assert vae.config.scale_factor_temporal == 16 // (latent_frames - 1) and vae.config.scale_factor_spatial == 4


def test_the_vae_refuses_a_temporal_compression_its_stages_cannot_give():
    from vidgen.toy.model import build_vae

    with pytest.raises(ValueError, match="temporal compression"):
        build_vae(ToyArchitecture(vae_temporal_compression=4))  # one stage gives 2 at most


def test_the_temporal_architecture_trains_exports_and_generates(tmp_path):
    from dataclasses import replace

    from diffusers import WanPipeline

    from vidgen.toy.export import export_run
    from vidgen.toy.model import TEMPORAL_ARCHITECTURE
    from vidgen.toy.train import checkpoint_architecture

    arch = replace(TEMPORAL_ARCHITECTURE, text_dim=16, vae_base_dim=8, z_dim=4, head_dim=12, layers=1, ffn_dim=32)
    with pytest.raises(ValueError, match="vae-window"):
        train(tiny_config(tmp_path, "bad", vae_window=3), arch, TINY_WORLD)
    train(tiny_config(tmp_path, "t", motion_weight=2.0), arch, TINY_WORLD)
    recorded = checkpoint_architecture(tmp_path / "t" / "checkpoint.pt")
    assert recorded == arch  # export and decoder tools rebuild the run's own architecture
    export_run(tmp_path / "t", tmp_path / "t-final", vae_steps=2, arch=recorded, world=TINY_WORLD)
    pipe = WanPipeline.from_pretrained(str(tmp_path / "t-final"))
    assert pipe.vae.config.scale_factor_temporal == 4
    frames = pipe(prompt="a red circle moves left", num_frames=4, height=16, width=16, num_inference_steps=2,
                  max_sequence_length=MAX_SEQUENCE_LENGTH, generator=torch.Generator().manual_seed(0),
                  output_type="np").frames
    assert frames.shape == (1, 5, 16, 16, 3) and np.isfinite(frames).all()


def test_decoder_finetune_keeps_the_encoder_and_export_uses_the_new_decoder(tmp_path):
    from vidgen.toy.decoder import DecoderConfig, finetune_decoder, load_vae
    from vidgen.toy.export import export_run

    train(tiny_config(tmp_path, "d"), TINY_ARCH, TINY_WORLD)
    run_dir = tmp_path / "d"
    finetune_decoder(DecoderConfig(run_dir=str(run_dir), steps=2, batch=1), TINY_ARCH, TINY_WORLD)
    tuned = torch.load(run_dir / "decoder.pt", weights_only=False)["vae"]
    before = load_vae(run_dir, TINY_ARCH).state_dict()
    assert all(torch.equal(before[k], tuned[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], tuned[k]) for k in before if k.startswith("decoder."))
    info = export_run(run_dir, tmp_path / "d-final", vae_steps=2, arch=TINY_ARCH, world=TINY_WORLD)
    assert info["decoder_finetune_steps"] == 2 and info["transformer_steps"] == 3
    from diffusers import AutoencoderKLWan

    exported = AutoencoderKLWan.from_pretrained(str(tmp_path / "d-final" / "vae")).state_dict()
    assert all(torch.equal(exported[k], tuned[k]) for k in tuned)


def test_a_wider_fresh_decoder_keeps_the_encoder_and_exports_loadable(tmp_path):
    from diffusers import AutoencoderKLWan

    from vidgen.toy.decoder import DecoderConfig, finetune_decoder, load_vae
    from vidgen.toy.export import export_run

    train(tiny_config(tmp_path, "w"), TINY_ARCH, TINY_WORLD)
    run_dir = tmp_path / "w"
    finetune_decoder(DecoderConfig(run_dir=str(run_dir), steps=2, batch=1, decoder_base_dim=12), TINY_ARCH, TINY_WORLD)
    original = load_vae(run_dir, TINY_ARCH).state_dict()
    export_run(run_dir, tmp_path / "w-final", vae_steps=2, arch=TINY_ARCH, world=TINY_WORLD)
    exported = AutoencoderKLWan.from_pretrained(str(tmp_path / "w-final" / "vae"))
    assert exported.config.decoder_base_dim == 12
    weights = exported.state_dict()
    assert all(torch.equal(weights[k], original[k]) for k in original if k.startswith("encoder."))
    assert exported.config.latents_std == load_vae(run_dir, TINY_ARCH).config.latents_std
    with pytest.raises(SystemExit, match="another width"):
        finetune_decoder(DecoderConfig(run_dir=str(run_dir), steps=3, batch=1), TINY_ARCH, TINY_WORLD)


def test_every_training_option_has_help_text(capsys):
    from dataclasses import fields

    from vidgen.toy.train import FIELD_HELP, TrainConfig, parse_args

    assert set(FIELD_HELP) == {f.name for f in fields(TrainConfig)}
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "--shape-weight" in capsys.readouterr().out


def test_warm_start_source_accepts_an_export_a_run_folder_or_a_checkpoint(tmp_path):
    export, run, empty = tmp_path / "export", tmp_path / "run", tmp_path / "empty"
    for folder in (export, run, empty):
        folder.mkdir()
    (export / "model_index.json").write_text("{}")
    (run / "checkpoint.pt").write_bytes(b"")
    assert warm_start_source(str(export)) == export
    assert warm_start_source(str(run)) == run / "checkpoint.pt"  # a run folder means its checkpoint
    assert warm_start_source(str(run / "checkpoint.pt")) == run / "checkpoint.pt"
    for bad in (empty, tmp_path / "missing"):
        with pytest.raises(ValueError, match="--init-from"):
            warm_start_source(str(bad))
    with pytest.raises(SystemExit):  # the command line refuses it before training
        parse_args(["--init-from", str(empty)])
