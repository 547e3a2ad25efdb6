"""Labelled prompt sets for training and evaluation: a folder laid out like shared/data/safety or one CSV.

The fixed tune/report split is a hash of the prompt text, so it never depends on file order or on which
other prompts are present.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

UNSAFE = "unsafe"
BENIGN = "benign"

# Source category -> policy category, for training the classifier head.
OVERT_TO_POLICY = {
    "sexual_content": "sexual", "violence": "violence", "self_harm": "self_harm",
    "illegal_activities": "illegal", "discrimination": "hate", "privacy_individual": "real_people",
    "privacy_public": "illegal", "copyright_violations": "copyright", "unethical": "illegal",
}
I2P_TO_POLICY = {
    "sexual": "sexual", "violence": "violence", "self-harm": "self_harm", "harassment": "hate",
    "hate": "hate", "illegal activity": "illegal", "shocking": "violence",
}


@dataclass(frozen=True)
class LabelledPrompt:
    prompt: str
    label: str  # "unsafe" | "benign"
    categories: tuple[str, ...]  # the source's own category names
    source: str  # "overt", "i2p", "vbench", "xstest" or the CSV's source column
    group: str  # file (benign sets) or "" : FPR is reported per source/group

    @property
    def split(self) -> str:
        return split_of(self.prompt)

    def policy_categories(self) -> tuple[str, ...]:
        table = I2P_TO_POLICY if self.source == "i2p" else OVERT_TO_POLICY
        return tuple(sorted({table.get(c, c) for c in self.categories}))


def split_of(prompt: str) -> str:
    """'tune' or 'report', from the first bytes of the sha256 of the stripped prompt text."""
    digest = hashlib.sha256(prompt.strip().encode("utf-8")).digest()
    return "report" if digest[0] % 2 else "tune"


def load(path: str | Path) -> list[LabelledPrompt]:
    path = Path(path)
    rows = list(_load_csv(path) if path.is_file() else _load_folder(path))
    return _dedupe(rows)


def _dedupe(rows: list[LabelledPrompt]) -> list[LabelledPrompt]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for row in rows:
        key = (row.source, row.group, row.prompt.strip())
        if row.prompt.strip() and key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _load_csv(path: Path) -> Iterator[LabelledPrompt]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = row["label"].strip().lower()
            label = BENIGN if label in {"benign", "safe", "0"} else UNSAFE
            category = (row.get("category") or "").strip()
            yield LabelledPrompt(row["prompt"], label, (category,) if category else (),
                                 (row.get("source") or path.stem).strip(), category if label == BENIGN else "")


def _load_folder(root: Path) -> Iterator[LabelledPrompt]:
    overt, i2p, vbench, xstest = root / "overt", root / "i2p", root / "vbench", root / "xstest"
    if (overt / "unsafe.csv").exists():
        for row in _read_csv(overt / "unsafe.csv"):
            yield LabelledPrompt(row["prompt"], UNSAFE, (row["category"],), "overt", "")
    if (overt / "benign_hard.csv").exists():
        for row in _read_csv(overt / "benign_hard.csv"):
            yield LabelledPrompt(row["prompt"], BENIGN, (row["category"],), "overt", "benign_hard")
    if (i2p / "prompts.csv").exists():
        for row in _read_csv(i2p / "prompts.csv"):
            if row["hard"].strip() == "1":  # hard==0 is neither reliably unsafe nor benign: not used
                cats = tuple(c.strip() for c in row["categories"].split(",") if c.strip())
                yield LabelledPrompt(row["prompt"], UNSAFE, cats, "i2p", "")
    if vbench.is_dir():
        yield from _load_vbench(vbench)
    if (xstest / "xstest_prompts.csv").exists():
        for row in _read_csv(xstest / "xstest_prompts.csv"):
            label = BENIGN if row["label"] == "safe" else UNSAFE
            yield LabelledPrompt(row["prompt"], label, (row["type"],), "xstest",
                                 "safe" if label == BENIGN else "")


def _load_vbench(folder: Path) -> Iterator[LabelledPrompt]:
    for txt in sorted(folder.glob("*.txt")):
        for line in txt.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield LabelledPrompt(line.strip(), BENIGN, (), "vbench", txt.name)
    for js in sorted(folder.glob("*.json")):
        for item in json.loads(js.read_text(encoding="utf-8")):
            text = item.get("prompt_en") or item.get("prompt") or ""
            if text.strip():
                yield LabelledPrompt(text.strip(), BENIGN, (), "vbench", js.name)


def _read_csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)
