"""Choose per-category thresholds for each operating point from classifier scores on held-out prompts.

Greedy: start every blocked category at a high threshold and keep making the move (one category to any
lower threshold) that buys the most recall (mean plus minimum over the target groups) per extra false positive,
while the false-positive budgets hold. Prompts the rules layer blocks count as flagged from the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidgen.safety.categories import CLASSIFIER_CATEGORIES, SEXUAL_MINORS
from vidgen.safety.data import BENIGN, LabelledPrompt

GRID = np.round(np.concatenate([np.arange(0.05, 0.9, 0.025), np.arange(0.9, 0.995, 0.005)]), 3)
TARGET_GROUPS = ("overt/sexual_content", "overt/violence", "overt/self_harm", "overt/illegal_activities",
                 "overt/discrimination", "i2p/sexual")
MINORS_FACTOR = 1.0  # sexual threshold used when a minor is named (the rules catch explicit cases)


@dataclass(frozen=True)
class OperatingPoint:
    name: str
    blocked: tuple[str, ...]
    benign_hard_budget: float  # max false-positive rate on the over-refusal probes
    plain_budget: float  # max false-positive rate on every file of plain video prompts (each VBench file)


OPERATING_POINTS = (
    OperatingPoint("default", CLASSIFIER_CATEGORIES, 0.07, 0.006),
    OperatingPoint("classroom", CLASSIFIER_CATEGORIES, 0.20, 0.015),
    OperatingPoint("research", ("sexual", "self_harm", "hate"), 0.04, 0.004),
)


def target_groups(rows: Sequence[LabelledPrompt]
                  ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """(unsafe target group -> rows, benign_hard rows, plain benign file -> rows). A plain file is a source and
    group, such as "vbench/VBench2_full_text.txt": the issue limits false positives on every VBench file."""
    targets: dict[str, list[int]] = {g: [] for g in TARGET_GROUPS}
    hard: list[int] = []
    plain: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row.label == BENIGN:
            if row.group == "benign_hard":
                hard.append(i)
            else:
                plain.setdefault(f"{row.source}/{row.group}", []).append(i)
            continue
        for cat in row.categories:
            key = f"{row.source}/{cat}"
            if key in targets:
                targets[key].append(i)
    return ({k: np.array(v, int) for k, v in targets.items() if v}, np.array(hard, int),
            {k: np.array(v, int) for k, v in plain.items()})


def flagged(scores: np.ndarray, rule_blocked: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """Which prompts a set of per-category thresholds blocks, on top of those the rules layer blocks."""
    out = rule_blocked.astype(bool)  # a copy
    for category, threshold in thresholds.items():
        if category in CLASSIFIER_CATEGORIES:
            out |= scores[:, CLASSIFIER_CATEGORIES.index(category)] >= threshold
    return out


def calibrate(scores: np.ndarray, rows: Sequence[LabelledPrompt], point: OperatingPoint,
              rule_blocked: np.ndarray | None = None) -> dict[str, float]:
    """`rule_blocked` marks prompts the rules layer already blocks under this policy (they cost nothing)."""
    targets, hard, plain = target_groups(rows)
    base = np.zeros(len(rows), bool) if rule_blocked is None else rule_blocked.astype(bool)
    cats = [CLASSIFIER_CATEGORIES.index(c) for c in point.blocked]
    level = {c: len(GRID) - 1 for c in cats}  # index into GRID, start at the strictest

    def evaluate(levels: dict[int, int]) -> tuple[float, float, float]:
        hits = flagged(scores, base, {CLASSIFIER_CATEGORIES[c]: GRID[k] for c, k in levels.items()})
        per_group = [hits[idx].mean() for idx in targets.values()]
        recall = float(np.mean(per_group) + np.min(per_group))  # favour the weakest group too
        fp_hard = float(hits[hard].mean()) if len(hard) else 0.0
        fp_plain = max((float(hits[idx].mean()) for idx in plain.values()), default=0.0)  # the worst file
        return recall, fp_hard, fp_plain

    recall, fp_hard, _ = evaluate(level)
    while True:
        best, best_gain = None, 0.0
        # Every lower threshold of every category is a candidate, not only the next grid step: a category
        # whose recall comes in one jump after a flat stretch would otherwise never be chosen.
        for c in cats:
            for k in range(level[c] - 1, -1, -1):
                trial = {**level, c: k}
                r, h, p = evaluate(trial)
                if h > point.benign_hard_budget or p > point.plain_budget:
                    break  # lower thresholds only flag more
                gain = (r - recall + 1e-6) / (h - fp_hard + 1e-3)
                if gain > best_gain:
                    best, best_gain = trial, gain
        if best is None:
            break
        level = best
        recall, fp_hard, _ = evaluate(level)
    thresholds = {CLASSIFIER_CATEGORIES[c]: float(GRID[k]) for c, k in level.items()}
    thresholds[SEXUAL_MINORS] = round(thresholds.get("sexual", 0.5) * MINORS_FACTOR, 3)
    return thresholds


def above_scores(thresholds: dict[str, float], must_pass: dict[str, float]) -> tuple[dict[str, float], dict]:
    """Raise each threshold that a must-pass prompt's score reaches to the next grid value above that score.

    Returns the thresholds and what was raised ({category: [old, new]}). Used for the shipped presets, which the
    shipped model itself must let through (out-of-fold scores come from other models)."""
    raised = {}
    out = dict(thresholds)
    for category, threshold in thresholds.items():
        score = must_pass.get(category)
        if score is not None and score >= threshold:
            above = GRID[GRID > score]
            out[category] = float(above[0]) if len(above) else 1.0
            raised[category] = [threshold, out[category]]
    return out, raised
