"""Train the toy text-to-video model: ``python -m vidgen.toy.train``.

Three phases, all seeded and resumable from ``<run_dir>/checkpoint.pt``:
1. the VAE learns to reconstruct short windows of rendered clips (cheap, fast to converge);
1b. the whole VAE is refined on full clips, encoded and decoded chunk by chunk with the causal cache exactly as
   the pipelines do; without it, every frame after the first gets latents the VAE never trained on, and
   the transformer has to model (and the decoder to undo) their artefacts;
2. the transformer and the text encoder learn flow matching on VAE latents of freshly rendered clips.
   A share of batches is conditioned on the clean first frame (Wan 2.2 TI2V style) so the same weights
   serve image-to-video.
Batch ``k`` is drawn from a generator seeded with ``(seed, phase, k)``, so an interrupted and resumed run
sees exactly the same data as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from vidgen.toy.model import (
    ARCHITECTURES,
    MAX_SEQUENCE_LENGTH,
    ToyArchitecture,
    architecture_from_dict,
    build_pipeline,
    build_text_encoder,
    build_tokenizer,
    build_transformer,
    build_vae,
    set_latent_stats,
)
from vidgen.toy.world import (
    WorldConfig,
    caption,
    heldout_triples,
    motion_twin,
    render_clip,
    sample_spec,
    shape_twin,
    twin_captions,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXPORT = PROJECT_ROOT / "assets" / "vidgen-toy"


@dataclass
class TrainConfig:
    """Options of a training run; FIELD_HELP below says what each one does."""

    run_dir: str = str(PROJECT_ROOT / "runs" / "toy")
    export_dir: str = str(DEFAULT_EXPORT)
    seed: int = 0
    vae_steps: int = 1200
    vae_batch: int = 8
    vae_lr: float = 2e-3
    steps: int = 3000
    batch: int = 32
    lr: float = 6e-4
    warmup: int = 100
    vae_window: int = 3
    clip_vae_steps: int = 600
    clip_vae_batch: int = 2
    clip_vae_lr: float = 5e-4
    object_weight: float = 4.0
    pool_size: int = 6144
    pool_prefill: int = 768
    pool_fresh: int = 8
    i2v_share: float = 0.3
    motion_weight: float = 0.0
    shape_weight: float = 0.0
    twin_share: float = 0.0
    twin_weight: float = 1.0
    twin_kind: str = "shape"
    caption_dropout: float = 0.1
    ema_decay: float = 0.998
    checkpoint_every: int = 50
    export_every_minutes: float = 25.0
    time_budget_minutes: float = 0.0
    stop_at_step: int = 0
    threads: int = 1
    log_every: int = 10
    num_frames: int = WorldConfig.num_frames
    fps: int = WorldConfig.fps
    init_from: str = ""
    architecture: str = "default"

    def world(self) -> WorldConfig:
        return WorldConfig(num_frames=self.num_frames, fps=self.fps)


# Help text of every TrainConfig field, shown by ``python -m vidgen.toy.train --help``.
FIELD_HELP = {
    "run_dir": "folder for checkpoint.pt (resumed from if present) and logs",
    "export_dir": "where the diffusers pipeline folder is written",
    "seed": "seed of every batch, clip and initial weight (a run is reproducible from it)",
    "vae_steps": "phase 1: VAE steps on short windows",
    "vae_batch": "phase 1: clips per VAE step",
    "vae_lr": "phase 1: VAE learning rate",
    "steps": "phase 2: transformer and text-encoder steps (the cosine schedule's length)",
    "batch": "phase 2: clips per transformer step",
    "lr": "phase 2: peak learning rate",
    "warmup": "phase 2: linear warm-up steps",
    "vae_window": "frames per phase-1 VAE clip (1 + 4k with the temporal architecture)",
    "clip_vae_steps": "phase 1b: whole-clip VAE steps through the causal cache, as the pipelines encode",
    "clip_vae_batch": "phase 1b: clips per step",
    "clip_vae_lr": "phase 1b: learning rate",
    "object_weight": "phase 1b: saturated object pixels weigh this much more in the VAE loss",
    "pool_size": "phase 2: encoded clips kept for reuse",
    "pool_prefill": "phase 2: clips encoded before the first step",
    "pool_fresh": "phase 2: new clips rendered and encoded per step",
    "i2v_share": "phase 2: share of clips trained with a clean first frame (image-to-video)",
    "motion_weight": "phase 2: latent positions that change over the clip weigh up to 1 + this in the flow loss",
    "shape_weight": "phase 2: latent positions that differ from their frame's background weigh up to 1 + this",
    "twin_share": "phase 2: chance that a clip that has a twin (see --twin-kind) is drawn together with it",
    "twin_weight": "phase 2: weight of the loss on the difference between a clip's and its twin's predictions",
    "twin_kind": "phase 2: shape (circle <-> square), motion (the clip played backwards: the opposite move) or "
                 "both (alternating by clip)",
    "caption_dropout": "phase 2: share of captions replaced by the empty prompt (for guidance)",
    "ema_decay": "phase 2: decay of the exported moving average of the weights",
    "checkpoint_every": "steps between checkpoints",
    "export_every_minutes": "minutes between pipeline exports during phase 2 (0: only at the end)",
    "time_budget_minutes": "stop (resumable) when this much time is spent; 0: no limit",
    "stop_at_step": "stop phase 2 at this step (resumable); 0: run to --steps",
    "threads": "torch CPU threads",
    "log_every": "steps between loss lines",
    "num_frames": "clip length the model learns (its native length)",
    "fps": "frames per second of the clips",
    "init_from": "exported folder, run folder or checkpoint to warm-start phase 2 from (its VAE is kept)",
    "architecture": "a vidgen.toy.model.ARCHITECTURES key: default or temporal",
}


# --twin-kind: which twin a clip gets, in order of preference ("both" swaps the order on odd clips).
TWIN_MAKERS = {"shape": [shape_twin], "motion": [motion_twin], "both": [motion_twin, shape_twin]}


@dataclass
class Parts:
    tokenizer: object
    text_encoder: torch.nn.Module
    vae: torch.nn.Module
    transformer: torch.nn.Module
    ema_text_encoder: torch.nn.Module
    ema_transformer: torch.nn.Module
    cross_attention: PaddedCrossAttention | None = None


def batch_rng(seed: int, phase: str, step: int) -> random.Random:
    return random.Random(f"{seed}-{phase}-{step}")


def clips_to_tensor(clips: list[np.ndarray]) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 -> (B, 3, T, H, W) float in [-1, 1]."""
    array = np.stack(clips).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 4, 1, 2, 3).contiguous()


def render_batch(rng: random.Random, size: int, world: WorldConfig, exclude) -> tuple[torch.Tensor, list[str]]:
    specs = [sample_spec(rng, exclude) for _ in range(size)]
    captions = [caption(s, rng) for s in specs]
    return clips_to_tensor([render_clip(s, world) for s in specs]), captions


def render_windows(rng: random.Random, size: int, world: WorldConfig, exclude, length: int) -> torch.Tensor:
    clips = []
    for _ in range(size):
        start = rng.randrange(world.num_frames - length + 1)
        clips.append(render_clip(sample_spec(rng, exclude), world, list(range(start, start + length))))
    return clips_to_tensor(clips)


class LatentPool:
    """Encoded clips reused across steps: clip ``i`` is fully determined by ``(seed, i)``, so the pool can
    be rebuilt exactly on resume instead of being stored."""

    def __init__(self, cfg: TrainConfig, vae, world: WorldConfig, exclude) -> None:
        self.cfg, self.vae, self.world, self.exclude = cfg, vae, world, exclude
        self.specs: dict[int, object] = {}
        self.latents: dict[int, torch.Tensor] = {}
        self.twins: dict[int, tuple[object, torch.Tensor]] = {}  # only when twin_share > 0

    def total_after(self, step: int) -> int:
        return self.cfg.pool_prefill + self.cfg.pool_fresh * (step + 1)

    def fill_until(self, total: int) -> None:
        low = max(0, total - self.cfg.pool_size)
        for index in [i for i in self.specs if i < low]:
            del self.specs[index], self.latents[index]
            self.twins.pop(index, None)
        missing = [i for i in range(low, total) if i not in self.specs]
        # Encode in groups fixed by index: batched convolutions round differently for other batch mixes.
        groups: dict[int, list[int]] = {}
        for index in missing:
            groups.setdefault(index // self.cfg.pool_fresh, []).append(index)
        for group in groups.values():
            self._encode(group)

    def _encode(self, indices: list[int]) -> None:
        specs = [sample_spec(batch_rng(self.cfg.seed, "clip", i), self.exclude) for i in indices]
        for i, spec, latent in zip(indices, specs, self._latents_of(specs), strict=True):
            self.specs[i], self.latents[i] = spec, latent
        if self.cfg.twin_share > 0:
            self._encode_twins(indices)

    def _encode_twins(self, indices: list[int]) -> None:
        twins = {i: self._twin_of(i) for i in indices}
        twins = {i: twin for i, twin in twins.items() if twin is not None}
        if twins:
            for (i, twin), latent in zip(twins.items(), self._latents_of(list(twins.values())), strict=True):
                self.twins[i] = (twin, latent)

    def _twin_of(self, index: int):
        """The clip's twin of --twin-kind; with "both", even clips prefer the motion twin, odd ones the shape twin."""
        makers = TWIN_MAKERS[self.cfg.twin_kind]
        for make_twin in makers[::-1] if index % 2 else makers:
            twin = make_twin(self.specs[index], self.exclude)
            if twin is not None:
                return twin
        return None

    def _latents_of(self, specs: list) -> torch.Tensor:
        """Render and encode clips; normalised latents stored as float16."""
        video = clips_to_tensor([render_clip(s, self.world) for s in specs])
        with torch.no_grad():
            z = normalise_latents(self.vae, self.vae.encode(video).latent_dist.mode())
        return z.to(torch.float16)

    def draw(self, rng: random.Random, step: int, size: int) -> tuple[torch.Tensor, list[str], list[tuple[int, int]]]:
        """``size`` latents and captions; with twin_share, some clips are followed by their shape twin and
        ``pairs`` lists the (clip row, twin row) indices."""
        total = self.total_after(step)
        self.fill_until(total)
        low = max(0, total - self.cfg.pool_size)
        latents, prompts, pairs = [], [], []
        while len(latents) < size:
            i = rng.randrange(low, total)
            with_twin = i in self.twins and len(latents) + 2 <= size and rng.random() < self.cfg.twin_share
            if not with_twin:
                latents.append(self.latents[i])
                prompts.append(caption(self.specs[i], rng))
                continue
            twin, twin_latent = self.twins[i]
            text, twin_text = twin_captions(self.specs[i], twin, rng)
            pairs.append((len(latents), len(latents) + 1))
            latents += [self.latents[i], twin_latent]
            prompts += [text, twin_text]
        return torch.stack(latents).float(), prompts, pairs


def make_parts(arch: ToyArchitecture) -> Parts:
    tokenizer = build_tokenizer()
    text_encoder = build_text_encoder(arch, len(tokenizer))
    transformer = build_transformer(arch)
    parts = Parts(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=build_vae(arch),
        transformer=transformer,
        ema_text_encoder=copy.deepcopy(text_encoder).requires_grad_(False),
        ema_transformer=copy.deepcopy(transformer).requires_grad_(False),
    )
    parts.cross_attention = install_padded_cross_attention(transformer)
    return parts


# ---------------------------------------------------------------- phase 1: VAE


def vae_loss(vae, video: torch.Tensor) -> torch.Tensor:
    """A plain autoencoder loss on the posterior mean; the small latent penalty keeps latents bounded.

    The transformer is trained on (and the pipelines condition with) the posterior mode, so sampling
    noise in this phase would only slow reconstruction down.
    """
    z = vae.encode(video).latent_dist.mean
    error = vae.decode(z).sample - video
    return error.abs().mean() + error.pow(2).mean() + 1e-4 * z.pow(2).mean()


def vae_lr_at(step: int, cfg: TrainConfig) -> float:
    """Short warm-up, then a drop to a fifth for the last fifth of the phase."""
    warm = min(1.0, 0.2 + step / 30)
    return cfg.vae_lr * warm * (0.2 if step > 0.8 * cfg.vae_steps else 1.0)


def latent_stats(vae, world: WorldConfig, seed: int, exclude) -> tuple[torch.Tensor, torch.Tensor]:
    video, _ = render_batch(batch_rng(seed, "stats", 0), 64, world, exclude)
    with torch.no_grad():
        z = vae.encode(video).latent_dist.mode()
    return z.mean(dim=(0, 2, 3, 4)), z.std(dim=(0, 2, 3, 4))


# ---------------------------------------------------------------- phase 2: transformer


def encode_text(tokenizer, text_encoder, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """What WanPipeline computes, without materialising the padding.

    The pipeline zero-pads every prompt to MAX_SEQUENCE_LENGTH positions. Padded positions are identical keys
    and values in cross-attention, so one zero position per prompt with an additive logit of log(count) gives
    the same attention; see PaddedCrossAttention. Returns the embeddings and that additive bias.
    """
    tokens = tokenizer(prompts, padding="longest", add_special_tokens=True, return_tensors="pt")
    mask = torch.nn.functional.pad(tokens.attention_mask, (0, 1))  # at least one padded position
    ids = torch.nn.functional.pad(tokens.input_ids, (0, 1), value=tokenizer.pad_token_id)
    hidden = text_encoder(ids, mask).last_hidden_state * mask.unsqueeze(-1).to(torch.float32)
    lengths = mask.sum(dim=1, keepdim=True)
    pads = mask.shape[1] - lengths
    pad_logit = torch.log((MAX_SEQUENCE_LENGTH - lengths).float() / pads.float())
    bias = torch.where(mask.bool(), torch.zeros(()), pad_logit)
    return hidden, bias[:, None, None, :]


class PaddedCrossAttention(WanAttnProcessor):
    """Training-only cross-attention that adds the padding bias set in ``bias`` before each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.bias: torch.Tensor | None = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        if encoder_hidden_states is not None and self.bias is not None:
            attention_mask = self.bias.to(hidden_states.dtype)
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)


def install_padded_cross_attention(transformer) -> PaddedCrossAttention:
    processor = PaddedCrossAttention()
    for block in transformer.blocks:
        block.attn2.set_processor(processor)
    return processor


def normalise_latents(vae, z: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    return (z - mean) / std


def sample_sigmas(generator: torch.Generator, size: int, shift: float) -> torch.Tensor:
    """Uniform times pushed towards high noise by the same shift the sampler uses."""
    u = torch.rand(size, generator=generator)
    return shift * u / (1.0 + (shift - 1.0) * u)


def motion_weights(z: torch.Tensor, strength: float) -> torch.Tensor:
    """(B, 1, T, H, W): 1 where the latent stays the same over the clip, up to 1 + strength where it changes.

    A moving object covers a few latent positions and the still background all the others, so an unweighted
    loss is nearly blind to whether the object went the way the words said.
    """
    change = (z - z.mean(dim=2, keepdim=True)).abs().mean(dim=1, keepdim=True)
    return 1.0 + strength * change.clamp(max=1.0)


def shape_weights(z: torch.Tensor, strength: float) -> torch.Tensor:
    """(B, 1, T, H, W): 1 where the latent matches its frame's background, up to 1 + strength on the object.

    On a plain background the object covers a few latent positions of each frame; an unweighted loss learns the
    background well and leaves the object a blur whose corners decide its shape. The background is estimated
    as the frame's median latent; over a textured background (camera clips) the texture stands out too, so the
    weight there is spread over the whole frame.
    """
    background = z.flatten(3).median(dim=3).values[..., None, None]
    distance = (z - background).abs().mean(dim=1, keepdim=True)
    return 1.0 + strength * distance.clamp(max=1.0)


def flow_loss(
    parts: Parts, arch: ToyArchitecture, z: torch.Tensor, prompts: list[str], generator, i2v_share,
    motion_weight: float = 0.0, shape_weight: float = 0.0, pairs: list[tuple[int, int]] = (), twin_weight: float = 0.0,
):
    batch, _, frames, height, width = z.shape
    sigma = sample_sigmas(generator, batch, arch.flow_shift)
    noise = torch.randn(z.shape, generator=generator)
    conditioned = torch.rand(batch, generator=generator) < i2v_share
    clip_rows, twin_rows = [a for a, _ in pairs], [b for _, b in pairs]
    # A clip and its twin share noise and time, and no first frame gives either away.
    sigma[twin_rows], noise[twin_rows] = sigma[clip_rows], noise[clip_rows]
    conditioned[clip_rows + twin_rows] = False
    sig = sigma.view(-1, 1, 1, 1, 1)
    noisy = (1.0 - sig) * z + sig * noise
    target = noise - z
    # ...and the same input, noised from halfway between the two: only the words can tell them apart. With
    # each its own input, the model learnt to amplify the small input difference and kept ignoring the words.
    noisy[clip_rows] = noisy[twin_rows] = (noisy[clip_rows] + noisy[twin_rows]) / 2
    frame_mask = torch.ones(batch, 1, frames, 1, 1)
    frame_mask[conditioned, :, 0] = 0.0  # frame 0 given clean, as WanImageToVideoPipeline does
    noisy = frame_mask * noisy + (1.0 - frame_mask) * z
    token_mask = frame_mask[:, 0, :, 0, 0].repeat_interleave((height // 2) * (width // 2), dim=1)
    timestep = token_mask * (sigma * 1000.0).view(-1, 1)
    text, bias = encode_text(parts.tokenizer, parts.text_encoder, prompts)
    parts.cross_attention.bias = bias
    pred = parts.transformer(hidden_states=noisy, timestep=timestep, encoder_hidden_states=text, return_dict=False)[0]
    weight = (frame_mask * motion_weights(z, motion_weight) * shape_weights(z, shape_weight)).expand_as(z)
    loss = ((pred - target).pow(2) * weight).sum() / weight.sum()
    if pairs and twin_weight:
        loss = loss + twin_weight * twin_loss(pred, target, frame_mask, clip_rows, twin_rows)
    return loss


def twin_loss(pred, target, frame_mask, clip_rows: list[int], twin_rows: list[int]) -> torch.Tensor:
    """Error on the difference between a clip's and its shape twin's predictions (from the same input, so from
    their words alone), relative to the true difference: the plain loss barely sees a few corner latents, this
    one is about nothing else."""
    mask = frame_mask[clip_rows]
    wanted = (target[clip_rows] - target[twin_rows]) * mask
    got = (pred[clip_rows] - pred[twin_rows]) * mask
    dims = tuple(range(1, wanted.dim()))
    return ((got - wanted).pow(2).sum(dims) / wanted.pow(2).sum(dims).clamp(min=1e-6)).mean()


def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


# ---------------------------------------------------------------- checkpoints and export


@dataclass
class RunState:
    phase: str = "vae"
    step: int = 0
    elapsed_s: float = 0.0
    last_export_s: float = 0.0


def save_checkpoint(path: Path, parts: Parts, optimizer, state: RunState, arch: ToyArchitecture) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "state": asdict(state),
            "arch": asdict(arch),
            "text_encoder": parts.text_encoder.state_dict(),
            "vae": parts.vae.state_dict(),
            "vae_config": dict(parts.vae.config),
            "transformer": parts.transformer.state_dict(),
            "ema_text_encoder": parts.ema_text_encoder.state_dict(),
            "ema_transformer": parts.ema_transformer.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
        },
        tmp,
    )
    os.replace(tmp, path)


def checkpoint_architecture(path: Path) -> ToyArchitecture:
    return architecture_from_dict(torch.load(path, weights_only=False)["arch"])


def load_checkpoint(path: Path, parts: Parts) -> tuple[dict, RunState]:
    data = torch.load(path, weights_only=False)
    parts.text_encoder.load_state_dict(data["text_encoder"])
    parts.vae.load_state_dict(data["vae"])
    cfg = data["vae_config"]
    set_latent_stats(parts.vae, cfg["latents_mean"], cfg["latents_std"])
    parts.transformer.load_state_dict(data["transformer"])
    parts.ema_text_encoder.load_state_dict(data["ema_text_encoder"])
    parts.ema_transformer.load_state_dict(data["ema_transformer"])
    return data, RunState(**data["state"])


def load_pipeline_weights(folder: Path, parts: Parts) -> None:
    """Warm start from an exported diffusers folder (e.g. the shipped assets/vidgen-toy), whose weights are the
    EMA ones: they seed both the trained and the EMA copies."""
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import T5EncoderModel

    vae = AutoencoderKLWan.from_pretrained(folder / "vae")
    parts.vae.load_state_dict(vae.state_dict())
    set_latent_stats(parts.vae, vae.config.latents_mean, vae.config.latents_std)
    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer").state_dict()
    text_encoder = T5EncoderModel.from_pretrained(folder / "text_encoder").state_dict()
    for target in (parts.transformer, parts.ema_transformer):
        target.load_state_dict(transformer)
    for target in (parts.text_encoder, parts.ema_text_encoder):
        target.load_state_dict(text_encoder)


def export_pipeline(parts: Parts, arch: ToyArchitecture, world: WorldConfig, export_dir: Path, info: dict) -> None:
    """Save the EMA weights as a diffusers folder (safetensors) plus vidgen_toy.json, atomically."""
    from vidgen.toy.describe import describe_model

    pipe = build_pipeline(arch, parts.tokenizer, parts.ema_text_encoder, parts.vae, parts.ema_transformer)
    tmp = export_dir.with_name(export_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp, safe_serialization=True)
    description = describe_model(world)
    description["training"] = info
    (tmp / "vidgen_toy.json").write_text(json.dumps(description, indent=2) + "\n")
    old = export_dir.with_name(export_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if export_dir.exists():
        os.replace(export_dir, old)
    os.replace(tmp, export_dir)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- driver


def warm_start_source(init_from: str) -> Path:
    """What --init-from names: an exported pipeline folder, a checkpoint file, or a run folder (its checkpoint)."""
    source = Path(init_from)
    if source.is_dir() and (source / "model_index.json").exists():
        return source
    if source.is_dir() and (source / "checkpoint.pt").exists():
        return source / "checkpoint.pt"
    if source.is_file():
        return source
    raise ValueError(f"--init-from {init_from}: not an exported pipeline folder (model_index.json), a run folder "
                     f"(checkpoint.pt) or a checkpoint file")


def train(cfg: TrainConfig, arch: ToyArchitecture = ToyArchitecture(), world: WorldConfig = WorldConfig()) -> Parts:
    if (cfg.vae_window - 1) % arch.vae_temporal_compression:
        raise ValueError(f"--vae-window must be 1 + a multiple of the VAE's temporal compression "
                         f"({arch.vae_temporal_compression})")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint.pt"
    parts = make_parts(arch)
    state, saved = RunState(), None
    if ckpt.exists():
        saved, state = load_checkpoint(ckpt, parts)
        print(f"resumed at phase={state.phase} step={state.step}", flush=True)
    elif cfg.init_from:
        source = warm_start_source(cfg.init_from)
        if source.is_dir():
            load_pipeline_weights(source, parts)
        else:
            load_checkpoint(source, parts)
        state = RunState(phase="transformer")  # new data, new schedule: only the weights carry over
        print(f"warm-started from {cfg.init_from}", flush=True)
    exclude = heldout_triples()
    started = time.monotonic() - state.elapsed_s
    budget_end = time.monotonic() + cfg.time_budget_minutes * 60 if cfg.time_budget_minutes else math.inf
    if state.phase == "vae":
        done = _train_vae(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end)
        if not done:
            return parts
        saved = None
    if state.phase == "vae_clips":
        done = _train_vae_clips(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end)
        if not done:
            return parts
        saved = None
    _train_transformer(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end)
    return parts


@dataclass
class VaeStage:
    """One VAE training stage: how many steps, its batches, loss and learning rate, all indexed by step."""

    label: str
    steps: int
    next_batch: Callable[[int], torch.Tensor]
    loss: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]
    lr_at: Callable[[int], float]


def _fit_vae(stage: VaeStage, cfg, parts, arch, state, saved, ckpt, started, budget_end) -> bool:
    """Run `stage` from `state.step`; False if the time budget ran out first (checkpointed, resumable)."""
    optimizer = torch.optim.AdamW(parts.vae.parameters(), lr=stage.lr_at(0), weight_decay=0.0)
    if saved and saved["optimizer"]:
        optimizer.load_state_dict(saved["optimizer"])
    parts.vae.train().requires_grad_(True)
    while state.step < stage.steps:
        if time.monotonic() > budget_end:
            _checkpoint(ckpt, parts, optimizer, state, arch, started)
            return False
        video = stage.next_batch(state.step)
        for group in optimizer.param_groups:
            group["lr"] = stage.lr_at(state.step)
        loss = stage.loss(parts.vae, video)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parts.vae.parameters(), 1.0)
        optimizer.step()
        state.step += 1
        if state.step % cfg.log_every == 0:
            elapsed = time.monotonic() - started
            print(f"{stage.label} step {state.step} loss {loss.item():.4f} t={elapsed:.0f}s", flush=True)
        if state.step % cfg.checkpoint_every == 0:
            _checkpoint(ckpt, parts, optimizer, state, arch, started)
    return True


def _train_vae(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end) -> bool:
    stage = VaeStage(
        label="vae",
        steps=cfg.vae_steps,
        next_batch=lambda step: render_windows(
            batch_rng(cfg.seed, "vae", step), cfg.vae_batch, world, exclude, cfg.vae_window
        ),
        loss=vae_loss,
        lr_at=lambda step: vae_lr_at(step, cfg),
    )
    if not _fit_vae(stage, cfg, parts, arch, state, saved, ckpt, started, budget_end):
        return False
    state.phase, state.step = "vae_clips", 0
    _checkpoint(ckpt, parts, None, state, arch, started)
    return True


def object_weights(video: torch.Tensor, weight: float) -> torch.Tensor:
    """1 for background pixels, 1 + weight where the target is a saturated palette colour (the shapes)."""
    chroma = video.max(dim=1, keepdim=True).values - video.min(dim=1, keepdim=True).values
    return 1.0 + weight * (chroma > 0.6).float()


def weighted_reconstruction_error(decoded: torch.Tensor, video: torch.Tensor, object_weight: float) -> torch.Tensor:
    """L1 + L2 per pixel, object pixels weighted up so colours and corners come out crisp."""
    error = decoded - video
    w = object_weights(video, object_weight)
    return ((error.abs() + error.pow(2)) * w).sum() / (w.sum() * video.shape[1])


def clip_vae_loss(vae, video: torch.Tensor, object_weight: float) -> torch.Tensor:
    z = vae.encode(video).latent_dist.mean
    return weighted_reconstruction_error(vae.decode(z).sample, video, object_weight) + 1e-4 * z.pow(2).mean()


def clip_vae_lr_at(step: int, cfg: TrainConfig) -> float:
    late = step > 0.8 * cfg.clip_vae_steps
    return cfg.clip_vae_lr * min(1.0, (step + 1) / 20) * (0.3 if late else 1.0)


def _train_vae_clips(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end) -> bool:
    stage = VaeStage(
        label="clip vae",
        steps=cfg.clip_vae_steps,
        next_batch=lambda step: render_batch(
            batch_rng(cfg.seed, "vae_clips", step), cfg.clip_vae_batch, world, exclude
        )[0],
        loss=lambda vae, video: clip_vae_loss(vae, video, cfg.object_weight),
        lr_at=lambda step: clip_vae_lr_at(step, cfg),
    )
    if not _fit_vae(stage, cfg, parts, arch, state, saved, ckpt, started, budget_end):
        return False
    parts.vae.eval().requires_grad_(False)
    mean, std = latent_stats(parts.vae, world, cfg.seed, exclude)
    set_latent_stats(parts.vae, mean, std)
    print(f"latent mean {mean.tolist()} std {std.tolist()}", flush=True)
    state.phase, state.step = "transformer", 0
    _checkpoint(ckpt, parts, None, state, arch, started)
    return True


def _train_transformer(cfg, parts, arch, world, exclude, state, saved, ckpt, started, budget_end) -> None:
    parts.vae.eval().requires_grad_(False)
    params = list(parts.transformer.parameters()) + list(parts.text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.99))
    if saved and saved["optimizer"]:
        optimizer.load_state_dict(saved["optimizer"])
    parts.transformer.train()
    parts.text_encoder.train()
    pool = LatentPool(cfg, parts.vae, world, exclude)
    last = min(cfg.steps, cfg.stop_at_step) if cfg.stop_at_step else cfg.steps
    while state.step < last and time.monotonic() <= budget_end:
        rng = batch_rng(cfg.seed, "flow", state.step)
        generator = torch.Generator().manual_seed(rng.randrange(2**62))
        z, prompts, pairs = pool.draw(rng, state.step, cfg.batch)
        paired = {row for pair in pairs for row in pair}  # twins keep their captions: the words are the point
        dropped = [rng.random() < cfg.caption_dropout and row not in paired for row in range(len(prompts))]
        prompts = ["" if drop else p for drop, p in zip(dropped, prompts, strict=True)]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state.step, cfg)
        loss = flow_loss(
            parts, arch, z, prompts, generator, cfg.i2v_share, cfg.motion_weight, cfg.shape_weight,
            pairs, cfg.twin_weight,
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(cfg.ema_decay, (1 + state.step) / (10 + state.step))
        update_ema(parts.ema_transformer, parts.transformer, decay)
        update_ema(parts.ema_text_encoder, parts.text_encoder, decay)
        state.step += 1
        elapsed = time.monotonic() - started
        if state.step % cfg.log_every == 0:
            print(f"flow step {state.step} loss {loss.item():.4f} t={elapsed:.0f}s", flush=True)
        if state.step % cfg.checkpoint_every == 0:
            _checkpoint(ckpt, parts, optimizer, state, arch, started)
        if cfg.export_every_minutes and elapsed - state.last_export_s > cfg.export_every_minutes * 60:
            state.last_export_s = elapsed
            _export(cfg, parts, arch, world, state)
    _checkpoint(ckpt, parts, optimizer, state, arch, started)
    _export(cfg, parts, arch, world, state)


def _checkpoint(ckpt, parts, optimizer, state, arch, started) -> None:
    state.elapsed_s = time.monotonic() - started
    save_checkpoint(ckpt, parts, optimizer, state, arch)


def _export(cfg, parts, arch, world, state) -> None:
    info = {"seed": cfg.seed, "transformer_steps": state.step, "batch": cfg.batch, "vae_steps": cfg.vae_steps,
            "clip_vae_steps": cfg.clip_vae_steps}
    export_pipeline(parts, arch, world, Path(cfg.export_dir), info)
    print(f"exported to {cfg.export_dir} at flow step {state.step}", flush=True)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(TrainConfig):
        choices = {"architecture": list(ARCHITECTURES), "twin_kind": list(TWIN_MAKERS)}.get(f.name)
        parser.add_argument(
            "--" + f.name.replace("_", "-"), type=type(f.default), default=f.default, choices=choices,
            help=f"{FIELD_HELP[f.name]} (default: %(default)s)",
        )
    cfg = TrainConfig(**vars(parser.parse_args(argv)))
    if cfg.init_from:
        try:
            warm_start_source(cfg.init_from)
        except ValueError as error:
            parser.error(str(error))  # exits with a usage line before any training starts
    return cfg


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    train(cfg, ARCHITECTURES[cfg.architecture], world=cfg.world())


if __name__ == "__main__":
    main()
