"""Render example clips of the toy model as GIFs for the docs: ``python -m vidgen.toy.gallery``."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from vidgen.toy import TOY_MODEL_DIR
from vidgen.toy.describe import example_prompts
from vidgen.toy.evaluate import PROJECT_ROOT, generate, load_pipeline, model_sampling, model_world
from vidgen.toy.judge import judge_clip

UPSCALE = 4


def slug(prompt: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:60]


def write_gif(frames: np.ndarray, path: Path, fps: int) -> None:
    """frames in [0, 1], (T, H, W, 3); nearest-neighbour upscale so pixels stay crisp."""
    big = np.kron((frames * 255).round().astype(np.uint8), np.ones((UPSCALE, UPSCALE, 1), np.uint8))
    imageio.mimsave(path, list(big), duration=1000 / fps, loop=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(TOY_MODEL_DIR))
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "img"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    world, (steps, guidance) = model_world(Path(args.model)), model_sampling(Path(args.model))
    pipe = load_pipeline(Path(args.model))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for prompt in example_prompts():
        frames = generate(pipe, [prompt], [args.seed], world, steps, guidance)[0]
        path = out / f"toy-{slug(prompt)}.gif"
        write_gif(frames, path, world.fps)
        verdict = judge_clip(frames)
        index.append(
            {
                "prompt": prompt,
                "gif": path.name,
                "judge": [verdict.color, verdict.shape, verdict.motion, verdict.camera],
            }
        )
    print(json.dumps(index, indent=2))


if __name__ == "__main__":
    main()
