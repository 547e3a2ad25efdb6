"""Phase 3: sharpen the VAE decoder on whole clips, with the encoder (the latent space) frozen.

The transformer only ever sees encoder outputs, so the decoder can be improved independently, even while
the transformer trains: ``python -m vidgen.toy.decoder``. Whole 17-frame clips are decoded exactly as the
pipelines do (frame by frame with the causal cache), and saturated object pixels weigh more so colours and
corners come out crisp. ``--decoder-base-dim N`` trains a fresh, wider decoder (diffusers'
``decoder_base_dim``) on the same frozen encoder: the encoder-width decoder rounds the corners of squares.
The result is saved to ``<run_dir>/decoder.pt`` and picked up by the export.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from vidgen.toy.model import ToyArchitecture, build_vae, set_latent_stats
from vidgen.toy.train import (
    PROJECT_ROOT,
    batch_rng,
    checkpoint_architecture,
    render_batch,
    weighted_reconstruction_error,
)
from vidgen.toy.world import WorldConfig, heldout_triples


@dataclass
class DecoderConfig:
    run_dir: str = str(PROJECT_ROOT / "runs" / "toy")
    seed: int = 0
    steps: int = 1500
    batch: int = 4
    lr: float = 5e-4
    object_weight: float = 4.0
    checkpoint_every: int = 50
    time_budget_minutes: float = 0.0
    threads: int = 1
    decoder_base_dim: int = 0  # 0: fine-tune the checkpoint's decoder; N: a fresh decoder N channels wide


def load_vae(run_dir: Path, arch: ToyArchitecture = ToyArchitecture(), decoder_base_dim: int = 0):
    """The checkpoint's VAE; with ``decoder_base_dim`` its encoder under a fresh decoder of that width."""
    data = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    if not decoder_base_dim:
        vae = build_vae(arch)
        vae.load_state_dict(data["vae"])
    else:
        vae = build_vae(replace(arch, vae_decoder_base_dim=decoder_base_dim))
        encoder_side = {k: v for k, v in data["vae"].items() if k.startswith(("encoder.", "quant_conv."))}
        missing = vae.load_state_dict(encoder_side, strict=False).missing_keys
        if any(not k.startswith(("decoder.", "post_quant_conv.")) for k in missing):
            raise ValueError(f"the checkpoint's encoder does not fit this architecture (missing {missing[:3]})")
    set_latent_stats(vae, data["vae_config"]["latents_mean"], data["vae_config"]["latents_std"])
    return vae


def load_tuned_vae(path: Path, arch: ToyArchitecture = ToyArchitecture()):
    """The VAE saved by ``finetune_decoder`` (its decoder width and latent statistics are stored with it)."""
    saved = torch.load(path, weights_only=False)
    vae = build_vae(replace(arch, vae_decoder_base_dim=saved.get("decoder_base_dim") or None))
    vae.load_state_dict(saved["vae"])
    set_latent_stats(vae, saved["latents_mean"], saved["latents_std"])
    return vae, saved["step"]


def decoder_parameters(vae) -> list[torch.nn.Parameter]:
    return list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())


def decoder_loss(vae, video: torch.Tensor, weight: float) -> torch.Tensor:
    with torch.no_grad():
        z = vae.encode(video).latent_dist.mode()
    return weighted_reconstruction_error(vae.decode(z).sample, video, weight)


def finetune_decoder(
    cfg: DecoderConfig, arch: ToyArchitecture = ToyArchitecture(), world: WorldConfig = WorldConfig()
) -> Path:
    torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.run_dir)
    vae = load_vae(run_dir, arch, cfg.decoder_base_dim)
    vae.requires_grad_(False)
    params = decoder_parameters(vae)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    out = run_dir / "decoder.pt"
    step = 0
    if out.exists():
        saved = torch.load(out, weights_only=False)
        if (saved.get("decoder_base_dim") or 0) != cfg.decoder_base_dim:
            raise SystemExit(f"{out} holds a decoder of another width; move it away to start a new one")
        vae.load_state_dict(saved["vae"])
        optimizer.load_state_dict(saved["optimizer"])
        step = saved["step"]
    exclude = heldout_triples()
    deadline = time.monotonic() + cfg.time_budget_minutes * 60 if cfg.time_budget_minutes else float("inf")
    while step < cfg.steps and time.monotonic() < deadline:
        video, _ = render_batch(batch_rng(cfg.seed, "decoder", step), cfg.batch, world, exclude)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / 20) * (0.3 if step > 0.8 * cfg.steps else 1.0)
        loss = decoder_loss(vae, video, cfg.object_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        if step % 10 == 0:
            print(f"decoder step {step} loss {loss.item():.4f}", flush=True)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _save(out, vae, optimizer, step, cfg.decoder_base_dim)
    _save(out, vae, optimizer, step, cfg.decoder_base_dim)
    return out


def _save(path: Path, vae, optimizer, step: int, decoder_base_dim: int) -> None:
    tmp = path.with_suffix(".tmp")
    state = {"vae": vae.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "decoder_base_dim": decoder_base_dim, "latents_mean": list(vae.config.latents_mean),
             "latents_std": list(vae.config.latents_std)}
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(DecoderConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    cfg = DecoderConfig(**vars(parser.parse_args(argv)))
    finetune_decoder(cfg, checkpoint_architecture(Path(cfg.run_dir) / "checkpoint.pt"))


if __name__ == "__main__":
    main()
