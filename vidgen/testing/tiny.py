"""Tiny random-weight pipelines built from the real diffusers classes, for CPU tests without downloads.

Each builder returns a pipeline whose configs mirror its family's real checkpoints at a toy size; save it
with `save_pretrained` and load it back through the same `from_pretrained` code that real models use.
Outputs are noise: these check plumbing (shapes, frame counts, loading, caching), not quality.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

TINY_VOCAB = ["<pad>", "</s>", "<unk>"] + (
    "a an the of and on in with to is red green blue yellow white black orange purple circle square "
    "triangle ball cat dog moves left right up down camera pans tilts zooms slowly fast background"
).split()


def word_tokenizer(vocab: list[str] = TINY_VOCAB) -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer that appends </s>, like T5's, built without any download."""
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(vocab)}, unk_token="<unk>"))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    eos = vocab.index("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", do_lower_case=True
    )
    fast.model_max_length = 64
    return fast


def tiny_umt5(vocab_size: int, d_model: int = 32) -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )
    return UMT5EncoderModel(config)


def tiny_wan(seed: int = 0, ti2v: bool = True):
    """A Wan pipeline at toy size. ti2v=True mirrors Wan 2.2 TI2V (one model for text and image to video)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    text_encoder = tiny_umt5(len(tokenizer))
    if ti2v:
        vae = AutoencoderKLWan(
            base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
            latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
        )
        channels = 48
    else:
        vae = AutoencoderKLWan(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        )
        channels = 16
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=channels,
        out_channels=channels, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer,
        expand_timesteps=ti2v,
    )


def tiny_t5(vocab_size: int, d_model: int = 32):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )
    return T5EncoderModel(config)


def tiny_ltx(seed: int = 0):
    """An LTX-Video pipeline at toy size; the VAE compresses 32x spatially and 8x in time like the real one."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(seed)
    tokenizer = word_tokenizer()
    text_encoder = tiny_t5(len(tokenizer))
    vae = AutoencoderKLLTXVideo(
        latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False), decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4, upsample_factor=(1,) * 4,
        timestep_conditioning=True, patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, num_layers=1, caption_channels=32,
    )
    # As diffusers' conversion script builds it for LTX-Video 0.9.5 (no dynamic shifting).
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False)
    return LTXPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
    )


def tiny_svd(seed: int = 0):
    """A Stable Video Diffusion pipeline at toy size (image to video only; no text encoder)."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=2, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
    )
    # The pipeline resizes the conditioning image to 224x224 for CLIP, so the tiny encoder keeps that size
    # with large patches (7x7 tokens).
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
            intermediate_size=37, patch_size=32,
        )
    )
    feature_extractor = CLIPImageProcessor(crop_size=224, size=224)
    # EDM-style Euler as in diffusers' own SVD tests: v-prediction, Karras sigmas, continuous timesteps.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    return StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler, feature_extractor=feature_extractor
    )


BUILDERS = {"wan": tiny_wan, "ltx": tiny_ltx, "svd": tiny_svd}

# Catalog entries (without `source`) that serve each tiny pipeline the way the real entries serve theirs:
# same pipeline classes per mode, frame rules matching the tiny VAEs, toy sizes and two steps.
TINY_ENTRIES: dict[str, dict] = {
    "wan": {
        "label": "Tiny Wan (random weights, test)", "family": "wan",
        "pipelines": {
            "text_to_video": "WanPipeline", "image_to_video": "WanImageToVideoPipeline",
            "video_to_video": "WanVideoToVideoPipeline",
        },
        "resolutions": [{"label": "32x32", "width": 32, "height": 32}],
        "fps": 8, "frames": {"step": 4, "offset": 1, "max": 17}, "durations": [1, 2],
        "steps": {"default": 2, "min": 1, "max": 10}, "guidance": {"default": 3.0, "min": 1.0, "max": 10.0},
        "dtype": "float32", "motion": {"parameter": "guidance_scale", "low": 2.0, "high": 6.0},
    },
    "ltx": {
        "label": "Tiny LTX-Video (random weights, test)", "family": "ltx",
        "pipelines": {
            "text_to_video": "LTXPipeline", "image_to_video": "LTXImageToVideoPipeline",
            "video_to_video": "LTXConditionPipeline",
        },
        "resolutions": [{"label": "64x64", "width": 64, "height": 64}],
        "fps": 8, "frames": {"step": 8, "offset": 1, "max": 17}, "durations": [1, 2],
        "steps": {"default": 2, "min": 1, "max": 10}, "guidance": {"default": 3.0, "min": 1.0, "max": 5.0},
        "call_kwargs": {"decode_timestep": 0.05, "decode_noise_scale": 0.025},
        "dtype": "float32", "keyframes": True,
        "motion": {"parameter": "guidance_scale", "low": 2.5, "high": 4.0},
    },
    "svd": {
        "label": "Tiny Stable Video Diffusion (random weights, test)", "family": "svd",
        "pipelines": {"image_to_video": "StableVideoDiffusionPipeline"},
        "resolutions": [{"label": "32x32", "width": 32, "height": 32}],
        "fps": 7, "frames": {"step": 1, "offset": 0, "max": 8}, "durations": [0.5, 1],
        "steps": {"default": 2, "min": 1, "max": 10}, "guidance": {"default": 2.5, "min": 1.0, "max": 5.0},
        "call_kwargs": {"noise_aug_strength": 0.02, "decode_chunk_size": 4},
        "dtype": "float32", "motion": {"parameter": "motion_bucket_id", "low": 31, "high": 223},
    },
}


def save_tiny(family: str, folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline of `family` and save it as a standard diffusers folder."""
    folder = Path(folder)
    BUILDERS[family](seed=seed).save_pretrained(folder)
    return folder
