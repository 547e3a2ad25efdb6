"""Does the toy judge see the shapes a person sees in *generated* clips?

The judge is validated on rendered clips (`judge_accuracy_on_rendered`), which are clean; generated clips have
ragged edges and rounded corners. This checks the judge's shape call against a person's, blind:

1. `sheet` generates the held-out-combination clips of `python -m vidgen.toy.evaluate` (same prompts and seeds,
   the model's recommended steps and guidance, one thread) and writes contact sheets that show only each clip's
   number (frames 0, 8 and 16), plus the clips and the judge's verdicts, kept out of sight in WORK.
   `--shuffle-seed N` shows them in a shuffled order, for a labeller who has seen another model's sheets, whose
   numbers follow the prompts.
2. A person writes one label per clip, looking only at the sheets: `12s` (square), `13c` (circle), `14t`
   (triangle) or `15?` (cannot tell), separated by spaces or new lines.
3. `score` compares the labels with the judge and with the prompt, per asked shape, and writes the results JSON.

    .venv/bin/python bench/toy_judge_check.py sheet --model assets/vidgen-toy --work runs/judge-check
    .venv/bin/python bench/toy_judge_check.py score --work runs/judge-check \
        --labels bench/results/toy_judge_labels_shipped.txt --out bench/results/toy_judge_check.json
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vidgen.toy.evaluate import generate_cases, heldout_combo_cases, load_pipeline, model_sampling, model_world
from vidgen.toy.judge import judge_clip

LABELS = {"c": "circle", "s": "square", "t": "triangle", "?": None}
SHOWN_FRAMES = (0, 8, 16)
TILE_SCALE = 4
PER_SHEET = 32


def make_sheets(model: Path, work: Path, count: int, shuffle_seed: int | None = None) -> None:
    torch.set_num_threads(1)  # the clips depend on the thread count; one thread is reproducible anywhere
    cases = heldout_combo_cases(count)
    clips = generate_cases(load_pipeline(model), cases, model_world(model), *model_sampling(model))
    hidden = [{"case": i, "prompt": c.prompt, "asked": c.expected()["shape"], "judge": judge_clip(clip).shape}
              for i, (c, clip) in enumerate(zip(cases, clips, strict=True))]
    order = shown_order(count, shuffle_seed)
    clips, hidden = [clips[i] for i in order], [hidden[i] for i in order]
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "clips.npy", np.stack(clips).astype(np.float32))
    (work / "hidden.json").write_text(json.dumps({"model": str(model), "clips": hidden}, indent=1))
    for first in range(0, count, PER_SHEET):
        sheet = contact_sheet(clips[first : first + PER_SHEET], first)
        sheet.save(work / f"sheet_{first:03d}.png")
    print(f"wrote {work}/sheet_*.png; label them without opening hidden.json")


def shown_order(count: int, shuffle_seed: int | None) -> list[int]:
    """Case order on the sheets: shuffled for a labeller who has seen another model's sheets in case order."""
    order = list(range(count))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    return order


def contact_sheet(clips: list[np.ndarray], first: int, columns: int = 4) -> Image.Image:
    tiles = [clip_tile(clip, first + k) for k, clip in enumerate(clips)]
    width, height = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (width + 8), rows * (height + 4)), "grey")
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * (width + 8), (k // columns) * (height + 4)))
    return sheet


def clip_tile(clip: np.ndarray, number: int) -> Image.Image:
    gap = np.ones((clip.shape[1], 2, 3), np.float32)
    strip = np.concatenate([part for t in SHOWN_FRAMES for part in (clip[t], gap)][:-1], axis=1)
    image = Image.fromarray((strip * 255).round().astype(np.uint8))
    image = image.resize((image.width * TILE_SCALE, image.height * TILE_SCALE), Image.NEAREST)
    tile = Image.new("RGB", (image.width, image.height + 18), "white")
    tile.paste(image, (0, 18))
    ImageDraw.Draw(tile).text((2, 2), f"#{number}", fill="black")
    return tile


def read_labels(path: Path) -> dict[int, str | None]:
    labels = {}
    for token in path.read_text().split():
        if not (token[:-1].isdigit() and token[-1] in LABELS):
            raise SystemExit(f"{path}: bad label {token!r}; write the clip number and one of c, s, t or ?")
        labels[int(token[:-1])] = LABELS[token[-1]]
    return labels


def score(work: Path, labels_path: Path) -> dict:
    if not (work / "hidden.json").exists():
        raise SystemExit(f"{work} has no hidden.json: run `sheet --work {work}` first")
    hidden = json.loads((work / "hidden.json").read_text())
    clips, labels = hidden["clips"], read_labels(labels_path)
    if sorted(labels) != list(range(len(clips))):
        raise SystemExit(f"{labels_path} must label clips 0..{len(clips) - 1}, each once")
    clear = [i for i in labels if labels[i] is not None]
    by_asked = {}
    for shape in ("circle", "square", "triangle"):
        ids = [i for i, c in enumerate(clips) if c["asked"] == shape]
        by_asked[shape] = {
            "clips": len(ids),
            "judge_says_asked": sum(clips[i]["judge"] == shape for i in ids),
            "person_says_asked": sum(labels[i] == shape for i in ids),
            "person_cannot_tell": sum(labels[i] is None for i in ids),
        }
    agreeing = sum(clips[i]["judge"] == labels[i] for i in clear)
    disagreements = Counter(f"person {labels[i]}, judge {clips[i]['judge']}" for i in clear
                            if clips[i]["judge"] != labels[i])
    return {
        "model": hidden["model"],
        "clips": len(clips),
        "shape_accuracy_by_judge": round(sum(c["judge"] == c["asked"] for c in clips) / len(clips), 4),
        "shape_accuracy_by_person": round(sum(labels[i] == c["asked"] for i, c in enumerate(clips)) / len(clips), 4),
        "person_cannot_tell": len(clips) - len(clear),
        "judge_agrees_with_person_where_clear": round(agreeing / len(clear), 4),
        "disagreements_where_clear": dict(disagreements.most_common()),
        "by_asked_shape": by_asked,
        "labels": str(labels_path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sheet = commands.add_parser("sheet", help="generate clips and write blind contact sheets")
    sheet.add_argument("--model", type=Path, default=Path("assets/vidgen-toy"))
    sheet.add_argument("--work", type=Path, required=True)
    sheet.add_argument("--count", type=int, default=96)
    sheet.add_argument("--shuffle-seed", type=int, help="show the clips in a shuffled order (numbers are positions)")
    scored = commands.add_parser("score", help="compare a person's labels with the judge")
    scored.add_argument("--work", type=Path, required=True)
    scored.add_argument("--labels", type=Path, required=True)
    scored.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.command == "sheet":
        make_sheets(args.model, args.work, args.count, args.shuffle_seed)
        return
    results = score(args.work, args.labels)
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
