"""Threshold calibration: the greedy search must find a category whose recall comes in one jump."""

from __future__ import annotations

import numpy as np

from tests.conftest import load_bench_script
from vidgen.safety.calibrate import OperatingPoint, calibrate
from vidgen.safety.categories import CLASSIFIER_CATEGORIES
from vidgen.safety.data import LabelledPrompt

SEXUAL, ILLEGAL = CLASSIFIER_CATEGORIES.index("sexual"), CLASSIFIER_CATEGORIES.index("illegal")


def _row(label: str, category: str, group: str = "") -> LabelledPrompt:
    return LabelledPrompt("p", label, (category,) if category else (), "overt" if category else "vbench", group)


def test_a_category_behind_a_costly_flat_stretch_still_gets_its_budget():
    rows, scores = [], []

    def add(row: LabelledPrompt, sexual: float = 0.0, illegal: float = 0.0) -> None:
        rows.append(row)
        score = np.zeros(len(CLASSIFIER_CATEGORIES))
        score[SEXUAL], score[ILLEGAL] = sexual, illegal
        scores.append(score)

    for k in range(10):  # sexual recall comes one prompt per false positive on the look-alikes
        add(_row("unsafe", "sexual_content"), sexual=0.9 - 0.05 * k)
        add(_row("benign", "sexual_content", "benign_hard"), sexual=0.875 - 0.05 * k)
    for _ in range(10):  # illegal: nothing above 0.3, then all of it, for five look-alikes at 0.8
        add(_row("unsafe", "illegal_activities"), illegal=0.3)
    for k in range(90):
        add(_row("benign", "illegal_activities", "benign_hard"), illegal=0.8 if k < 5 else 0.0)
    for _ in range(300):
        add(_row("benign", "", "all_category.txt"))

    point = OperatingPoint("test", ("sexual", "illegal"), benign_hard_budget=0.07, plain_budget=0.004)
    thresholds = calibrate(np.array(scores), rows, point)
    # A one-step-at-a-time greedy spends the whole budget on sexual and leaves illegal above 0.8 (recall 0).
    assert thresholds["illegal"] <= 0.3
    assert 0.75 <= thresholds["sexual"] <= 0.9  # what is left of the budget: two look-alikes


def _ceiling_module():
    return load_bench_script("safety_ceiling")


def test_the_nested_ceiling_measures_thresholds_on_folds_they_were_not_chosen_on():
    ceiling = _ceiling_module().ceiling
    rng = np.random.default_rng(0)

    def case(separable: bool) -> dict:
        rows, scores = [], []
        for i in range(400):  # distinct prompts, so the hash folds spread them
            unsafe = i % 2 == 0
            label, group = ("unsafe", "") if unsafe else ("benign", "benign_hard")
            rows.append(LabelledPrompt(f"prompt {i}", label, ("sexual_content",), "overt", group))
            score = np.zeros(len(CLASSIFIER_CATEGORIES))
            score[SEXUAL] = (0.9 if unsafe else 0.1) if separable else rng.uniform()
            scores.append(score)
        rows += [LabelledPrompt(f"plain {i}", "benign", (), "vbench", "all_category.txt") for i in range(100)]
        scores += [np.zeros(len(CLASSIFIER_CATEGORIES))] * 100
        return ceiling(rows, np.array(scores), np.zeros(len(rows), bool), (0.07, 0.004))

    separable = case(True)
    assert separable["nested"]["overt/sexual_content"] == 1.0 and separable["nested"]["benign_hard"] == 0.0
    noise = case(False)  # scores carry no signal: the thresholds only buy recall at the look-alikes' rate
    assert noise["nested"]["overt/sexual_content"] < 0.25
    groups = {g: counts for g, counts in noise["nested_counts"].items() if not g.startswith("plain:")}
    assert sum(total for _, total in groups.values()) == 500  # every prompt held out once
    assert noise["nested_counts"]["plain:vbench/all_category.txt"][1] == 100  # and each plain file on its own


def test_the_plain_budget_holds_on_every_file_not_only_on_all_files_together():
    """The issue limits false positives on every VBench file: a small file that a threshold floods must stop it,
    even when the flood is diluted below the budget by the other files."""
    rows, sexual = [], []
    for i in range(100):
        rows.append(LabelledPrompt(f"unsafe {i}", "unsafe", ("sexual_content",), "overt", ""))
        sexual.append(0.6)
    rows += [LabelledPrompt(f"big {i}", "benign", (), "vbench", "big.txt") for i in range(2000)]
    sexual += [0.0] * 2000
    rows += [LabelledPrompt(f"small {i}", "benign", (), "vbench", "small.txt") for i in range(100)]
    sexual += [0.6] * 5 + [0.0] * 95  # 5 % of this file, 0.24 % of the plain prompts together
    scores = np.zeros((len(rows), len(CLASSIFIER_CATEGORIES)))
    scores[:, SEXUAL] = sexual
    point = OperatingPoint("test", ("sexual",), benign_hard_budget=0.07, plain_budget=0.01)
    assert calibrate(scores, rows, point)["sexual"] > 0.6  # flagging the unsafe rows would flood small.txt


def test_the_unlabelled_set_is_i2p_hard_0_only(tmp_path):
    module = _ceiling_module()
    assert module.unlabelled_prompts(tmp_path) == []  # no I2P file: the comparison is skipped
    (tmp_path / "i2p").mkdir()
    (tmp_path / "i2p" / "prompts.csv").write_text(
        "prompt,categories,hard\na castle at dusk,sexual,0\nexplicit thing,sexual,1\n", encoding="utf-8")
    assert module.unlabelled_prompts(tmp_path) == ["a castle at dusk"]
    np.testing.assert_allclose(module.logit(np.array([0.5, 0.880797])), [0.0, 2.0], atol=1e-5)


def test_thresholds_a_must_pass_prompt_reaches_are_raised_just_above_its_score():
    from vidgen.safety.calibrate import above_scores

    thresholds = {"sexual": 0.3, "violence": 0.5, "copyright": 0.25}
    raised, changed = above_scores(thresholds, {"sexual": 0.36, "violence": 0.1, "copyright": 0.25, "hate": 0.9})
    assert raised == {"sexual": 0.375, "violence": 0.5, "copyright": 0.275}  # a score equal to it counts too
    assert changed == {"sexual": [0.3, 0.375], "copyright": [0.25, 0.275]}
    assert above_scores(thresholds, {"sexual": 0.999})[0]["sexual"] == 1.0  # above the grid: never blocks
    assert above_scores(thresholds, {})[0] == thresholds
