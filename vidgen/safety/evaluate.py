"""Score a labelled prompt set with a SafetyFilter: recall per source/category, false-positive rate per
source/file (and per benign_hard category), and p95 wall-clock latency of check_text per prompt."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from vidgen.safety.data import BENIGN, LabelledPrompt
from vidgen.safety.filter import SafetyFilter


def select_split(rows: Sequence[LabelledPrompt], split: str) -> list[LabelledPrompt]:
    return list(rows) if split == "all" else [r for r in rows if r.split == split]


def evaluate(safety: SafetyFilter, rows: Sequence[LabelledPrompt], progress=None) -> dict:
    safety.warm_up()
    recall: dict[str, list[bool]] = defaultdict(list)
    fpr: dict[str, list[bool]] = defaultdict(list)
    latencies = []
    for n, row in enumerate(rows):
        started = time.perf_counter()
        decision = safety.check_text(row.prompt)
        latencies.append((time.perf_counter() - started) * 1000.0)
        blocked = not decision.allowed
        if row.label == BENIGN:
            fpr[f"{row.source}/{row.group}" if row.group else row.source].append(blocked)
            if row.group == "benign_hard" and row.categories:
                fpr[f"{row.source}/benign_hard/{row.categories[0]}"].append(blocked)
        else:
            for category in row.categories or ("all",):
                recall[f"{row.source}/{category}"].append(blocked)
        if progress and (n + 1) % 500 == 0:
            progress(f"{n + 1}/{len(rows)} prompts")
    return {
        "recall": {k: round(float(np.mean(v)), 4) for k, v in sorted(recall.items())},
        "fpr": {k: round(float(np.mean(v)), 4) for k, v in sorted(fpr.items())},
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
    }


def counts(rows: Sequence[LabelledPrompt]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.label == BENIGN:
            out[f"{row.source}/{row.group}" if row.group else row.source] += 1
        else:
            for category in row.categories or ("all",):
                out[f"{row.source}/{category}"] += 1
    return dict(sorted(out.items()))
