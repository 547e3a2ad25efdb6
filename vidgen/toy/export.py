"""Write the app's model folder from a training run: ``python -m vidgen.toy.export``.

Takes the EMA transformer and text encoder from ``<run_dir>/checkpoint.pt`` and, when present, the
sharpened decoder from ``<run_dir>/decoder.pt`` (see vidgen.toy.decoder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidgen.toy.decoder import load_tuned_vae
from vidgen.toy.model import ToyArchitecture
from vidgen.toy.train import (
    DEFAULT_EXPORT,
    PROJECT_ROOT,
    checkpoint_architecture,
    export_pipeline,
    load_checkpoint,
    make_parts,
)
from vidgen.toy.world import WorldConfig


def export_run(
    run_dir: Path,
    export_dir: Path,
    vae_steps: int,
    arch: ToyArchitecture = ToyArchitecture(),
    world: WorldConfig = WorldConfig(),
    history: str = "",
) -> dict:
    parts = make_parts(arch)
    _, state = load_checkpoint(run_dir / "checkpoint.pt", parts)
    decoder_steps = 0
    decoder_file = run_dir / "decoder.pt"
    if decoder_file.exists():
        parts.vae, decoder_steps = load_tuned_vae(decoder_file, arch)
    info = {
        "seed": 0,
        "vae_steps": vae_steps,
        "transformer_steps": state.step,
        "decoder_finetune_steps": decoder_steps,
        "decoder_base_dim": parts.vae.config.decoder_base_dim,
        "training_minutes": round(state.elapsed_s / 60, 1),
    }
    if history:
        info["history"] = history
    export_pipeline(parts, arch, world, export_dir, info)
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(PROJECT_ROOT / "runs" / "toy"))
    parser.add_argument("--export-dir", default=str(DEFAULT_EXPORT))
    parser.add_argument("--vae-steps", type=int, default=3500, help="recorded in vidgen_toy.json")
    parser.add_argument("--history", default="", help="how the weights were made, recorded in vidgen_toy.json")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    arch = checkpoint_architecture(run_dir / "checkpoint.pt")
    print(export_run(run_dir, Path(args.export_dir), args.vae_steps, arch, history=args.history))


if __name__ == "__main__":
    main()
