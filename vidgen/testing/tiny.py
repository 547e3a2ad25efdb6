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


BUILDERS = {"wan": tiny_wan}


def save_tiny(family: str, folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny pipeline of `family` and save it as a standard diffusers folder."""
    folder = Path(folder)
    BUILDERS[family](seed=seed).save_pretrained(folder)
    return folder
