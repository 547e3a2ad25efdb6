"""Builders for the toy model's parts: a word-level tokenizer, a tiny T5 encoder, a patchifying Wan VAE
and a small Wan transformer, assembled into a standard diffusers ``WanPipeline`` folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

from vidgen.toy.world import all_caption_words

SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]
# Prompts are padded to this many tokens (the pipelines' `max_sequence_length`; their default is 512), and
# training sees the same padding. With 512, the ~500 zero positions drew 75-95 % of the cross-attention and the
# model never learned to use the motion words; captions are at most 20 tokens.
MAX_SEQUENCE_LENGTH = 32


@dataclass(frozen=True)
class ToyArchitecture:
    text_dim: int = 64
    text_layers: int = 2
    text_heads: int = 4
    vae_base_dim: int = 16
    vae_decoder_base_dim: int | None = None  # None: as wide as the encoder
    vae_dim_mult: tuple[int, ...] = (1, 1)  # one entry per level; each level after the first downsamples 2x
    vae_temporal_compression: int = 1  # 1, or 2 ** downsampling stages (each stage then also halves time)
    vae_patch_size: int | None = 2  # pixels folded 2x2 into channels before the first convolution
    vae_residual: bool = True  # Wan 2.2's residual downsampling blocks
    z_dim: int = 8
    heads: int = 2
    head_dim: int = 48
    layers: int = 5
    ffn_dim: int = 288
    flow_shift: float = 3.0
    latents_mean: list[float] = field(default_factory=list)
    latents_std: list[float] = field(default_factory=list)


# An experiment (session 5, not shipped; docs/toy-model.md): two 3-D downsampling stages, 4x in space and 4x
# in time (17 frames -> 5 latent frames, the first one frame 0 alone, as in Wan's VAE), 16 latent channels,
# 6 transformer layers. Camera moves rose, colour fell below its target.
TEMPORAL_ARCHITECTURE = ToyArchitecture(
    vae_dim_mult=(1, 2, 2), vae_temporal_compression=4, vae_patch_size=None, vae_residual=False, z_dim=16,
    layers=6, ffn_dim=384,
)
ARCHITECTURES = {"default": ToyArchitecture(), "temporal": TEMPORAL_ARCHITECTURE}


def architecture_from_dict(values: dict) -> ToyArchitecture:
    """The architecture a checkpoint recorded (fields it predates keep their defaults)."""
    values = dict(values)
    if "vae_dim_mult" in values:
        values["vae_dim_mult"] = tuple(values["vae_dim_mult"])
    return ToyArchitecture(**values)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer over every caption word; its post-processor appends ``</s>`` like T5."""
    words = sorted(all_caption_words())
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def build_text_encoder(arch: ToyArchitecture, vocab_size: int) -> T5EncoderModel:
    config = T5Config(
        vocab_size=vocab_size,
        d_model=arch.text_dim,
        d_kv=arch.text_dim // arch.text_heads,
        d_ff=arch.text_dim * 2,
        num_layers=arch.text_layers,
        num_heads=arch.text_heads,
        relative_attention_num_buckets=16,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config)


def build_vae(arch: ToyArchitecture) -> AutoencoderKLWan:
    """Default: 2x2 patchify + one residual downsample (4x spatial), no temporal compression."""
    mean = arch.latents_mean or [0.0] * arch.z_dim
    std = arch.latents_std or [1.0] * arch.z_dim
    stages = len(arch.vae_dim_mult) - 1
    if arch.vae_temporal_compression not in (1, 2**stages):
        raise ValueError(f"temporal compression must be 1 or {2**stages} with {stages} downsampling stages")
    temporal = arch.vae_temporal_compression > 1
    patch = arch.vae_patch_size or 1
    return AutoencoderKLWan(
        base_dim=arch.vae_base_dim,
        decoder_base_dim=arch.vae_decoder_base_dim,
        z_dim=arch.z_dim,
        dim_mult=list(arch.vae_dim_mult),
        num_res_blocks=1,
        attn_scales=[],
        # The encoder reads the first `stages` entries, the decoder the last `stages` in reverse: all alike.
        temperal_downsample=[temporal] * len(arch.vae_dim_mult),
        latents_mean=mean,
        latents_std=std,
        in_channels=3 * patch * patch,
        out_channels=3 * patch * patch,
        patch_size=arch.vae_patch_size,
        is_residual=arch.vae_residual,
        scale_factor_temporal=arch.vae_temporal_compression,
        scale_factor_spatial=patch * 2**stages,
    )


def build_transformer(arch: ToyArchitecture) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=arch.heads,
        attention_head_dim=arch.head_dim,
        in_channels=arch.z_dim,
        out_channels=arch.z_dim,
        text_dim=arch.text_dim,
        freq_dim=64,
        ffn_dim=arch.ffn_dim,
        num_layers=arch.layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        rope_max_seq_len=256,
    )


def build_scheduler(arch: ToyArchitecture) -> UniPCMultistepScheduler:
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=arch.flow_shift, num_train_timesteps=1000
    )


def build_pipeline(
    arch: ToyArchitecture,
    tokenizer: PreTrainedTokenizerFast,
    text_encoder: T5EncoderModel,
    vae: AutoencoderKLWan,
    transformer: WanTransformer3DModel,
) -> WanPipeline:
    """A Wan 2.2 TI2V-style pipeline: ``expand_timesteps`` lets the I2V pipeline keep frame 0 clean."""
    return WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=build_scheduler(arch),
        transformer=transformer,
        expand_timesteps=True,
    )


def set_latent_stats(vae: AutoencoderKLWan, mean: torch.Tensor, std: torch.Tensor) -> None:
    vae.register_to_config(latents_mean=[float(x) for x in mean], latents_std=[float(x) for x in std])


def architecture_dict(arch: ToyArchitecture) -> dict:
    return asdict(arch)


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
