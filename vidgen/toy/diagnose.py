"""Two probes of what the toy transformer uses: ``python -m vidgen.toy.diagnose [--model DIR]``.

* **Words or position?** Image-to-video from a first frame with the object near the right (or left) edge,
  prompted "moves to the left" and "moves to the right". A model that reads the words moves the object the way
  the prompt says; one that learned "objects at the right edge go left" (as the first shipped weights did, when
  every left-mover started at the right edge) moves it the same way for both prompts.
* **Temporal locality of self-attention.** For each head, the share of a token's attention that goes to tokens
  at most one frame away (17 latent frames: 0.17 on average if attention ignored time). With 24-dim heads,
  RoPE gives the time axis 8 dims whose frequencies (1, 0.1, 0.01, 0.001 rad per frame) cannot single out the
  neighbouring frames, and the shipped heads were close to uniform over time.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from vidgen.toy import TOY_MODEL_DIR
from vidgen.toy.judge import judge_clip
from vidgen.toy.model import MAX_SEQUENCE_LENGTH
from vidgen.toy.train import clips_to_tensor, normalise_latents
from vidgen.toy.world import (
    COLORS,
    ClipSpec,
    ObjectSpec,
    WorldConfig,
    canonical_prompt,
    caption,
    render_clip,
    sample_spec,
)


def words_or_position(pipe, world: WorldConfig = WorldConfig(), repeats: int = 6, steps: int = 16) -> dict:
    """Shares of image-to-video clips whose judged direction follows the prompt, from the centre and from an edge."""
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    i2v = WanImageToVideoPipeline.from_pipe(pipe)
    i2v.set_progress_bar_config(disable=True)
    rng = random.Random(0)
    counts = {"centre": [0, 0, 0], "edge": [0, 0, 0]}  # clips, moved as prompted, moved away from the edge
    for k in range(repeats):
        color = list(COLORS)[k % len(COLORS)]
        # From the right edge an object can only go left (and vice versa); from the centre, either way.
        for x, away in ((0.74, "left"), (0.26, "right"), (0.5, None)):
            spec = ClipSpec([ObjectSpec(color, "circle", "still", (x, rng.uniform(0.4, 0.6)), 0.14)], "white")
            first = Image.fromarray(render_clip(spec, world, [0])[0])
            for said in ("left", "right"):
                frames = i2v(image=first, prompt=canonical_prompt(color, "circle", said),
                             num_frames=world.num_frames - 1, height=world.size, width=world.size,
                             num_inference_steps=steps, guidance_scale=4.0, max_sequence_length=MAX_SEQUENCE_LENGTH,
                             generator=torch.Generator().manual_seed(k), output_type="np").frames[0]
                motion = judge_clip((np.asarray(frames) * 255).round().astype(np.uint8)).motion
                tally = counts["edge" if away else "centre"]
                tally[0] += 1
                tally[1] += motion == said
                tally[2] += motion == away
    centre, edge = counts["centre"], counts["edge"]
    return {"clips": centre[0] + edge[0],
            "from_centre_follows_prompt": round(centre[1] / centre[0], 3),
            "from_edge_follows_prompt": round(edge[1] / edge[0], 3),
            "from_edge_moves_away_from_edge": round(edge[2] / edge[0], 3)}


class _AttentionRecorder(WanAttnProcessor):
    """Self-attention that also keeps the head-wise attention probabilities of its last call."""

    def __init__(self) -> None:
        super().__init__()
        self.probabilities: torch.Tensor | None = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        if encoder_hidden_states is None and rotary_emb is not None:
            query = attn.norm_q(attn.to_q(hidden_states)).unflatten(2, (attn.heads, -1))
            key = attn.norm_k(attn.to_k(hidden_states)).unflatten(2, (attn.heads, -1))
            query, key = _rotate(query, *rotary_emb), _rotate(key, *rotary_emb)
            logits = torch.einsum("bqhd,bkhd->bhqk", query, key) / query.shape[-1] ** 0.5
            self.probabilities = logits.softmax(-1).mean(0)
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE exactly as WanAttnProcessor applies it."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos[..., 0::2] - x2 * sin[..., 1::2]
    out[..., 1::2] = x1 * sin[..., 1::2] + x2 * cos[..., 0::2]
    return out


def temporal_locality(pipe, world: WorldConfig = WorldConfig(), sigma: float = 0.5, clips: int = 8) -> list[list]:
    """Per layer and head: mean attention share on tokens within one frame of the query (clean-ish clips)."""
    rng = random.Random(1)
    specs = [sample_spec(rng) for _ in range(clips)]
    video = clips_to_tensor([render_clip(s, world) for s in specs])
    transformer, recorders = pipe.transformer, []
    originals = [block.attn1.processor for block in transformer.blocks]
    for block in transformer.blocks:
        recorders.append(_AttentionRecorder())
        block.attn1.set_processor(recorders[-1])
    try:
        with torch.no_grad():
            z = normalise_latents(pipe.vae, pipe.vae.encode(video).latent_dist.mode())
            text, _ = pipe.encode_prompt([caption(s, rng) for s in specs], do_classifier_free_guidance=False,
                                         max_sequence_length=MAX_SEQUENCE_LENGTH)
            noisy = (1 - sigma) * z + sigma * torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
            tokens = z.shape[2] * (z.shape[3] // 2) * (z.shape[4] // 2)
            transformer(hidden_states=noisy, timestep=torch.full((clips, tokens), sigma * 1000.0),
                        encoder_hidden_states=text, return_dict=False)
    finally:
        for block, processor in zip(transformer.blocks, originals, strict=True):
            block.attn1.set_processor(processor)
    frame = torch.arange(z.shape[2]).repeat_interleave(tokens // z.shape[2])
    near = ((frame[None, :] - frame[:, None]).abs() <= 1).float()
    return [[round(float((p * near).sum(-1).mean()), 3) for p in r.probabilities] for r in recorders]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(TOY_MODEL_DIR))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from diffusers import WanPipeline

    pipe = WanPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    report = {"model": str(Path(args.model)), "words_or_position": words_or_position(pipe),
              "attention_within_one_frame_per_layer_and_head": temporal_locality(pipe)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
