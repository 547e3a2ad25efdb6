"""The lexical head, the weak I2P loader and the cross-fitting folds of vidgen.safety (no MiniLM needed)."""

from __future__ import annotations

import numpy as np
import pytest

from vidgen.safety.classifier import _align
from vidgen.safety.data import load_i2p_weak
from vidgen.safety.lexical import LexicalHead, features, fit_lexical, words_of
from vidgen.safety.train import TrainConfig, fold_of, is_calibration, sample_weights

UNSAFE = ["a nude woman on a bed", "nude figure painting by manara", "explicit nude photo", "nude bather"]
BENIGN = ["a red fox in the snow", "a woman reading on a bed", "a painting of a bather by the sea",
          "a photo of a lighthouse", "a woman in a red dress", "a fox painting"]


@pytest.fixture(scope="module")
def head() -> LexicalHead:
    texts = UNSAFE + BENIGN
    y = np.array([[1.0, 0.0]] * len(UNSAFE) + [[0.0, 0.0]] * len(BENIGN), np.float32)
    return fit_lexical(texts, y, np.ones(len(texts), np.float32), c=10.0, min_count=1)


def test_features_are_words_and_word_pairs() -> None:
    words = words_of("a nude, nude woman!")
    assert words == ["a", "nude", "nude", "woman"]
    assert features(words) == {"a": (0,), "a nude": (0, 1), "nude": (1,), "nude nude": (1, 2),
                               "nude woman": (2, 3), "woman": (3,)}


def test_lexical_head_learns_words_and_explains_exactly(head: LexicalHead) -> None:
    unsafe_logits, words, contrib = head.logits("a nude woman")
    benign_logits, _, _ = head.logits("a woman reading")
    assert unsafe_logits[0] > benign_logits[0] + 1.0
    assert words[int(np.argmax(contrib[:, 0]))] == "nude"
    np.testing.assert_allclose(contrib.sum(axis=0) + head.bias, unsafe_logits, rtol=1e-5, atol=1e-5)
    assert head.bias[1] < -5  # a category with no positives stays off


def test_lexical_head_round_trips(tmp_path, head: LexicalHead) -> None:
    path = tmp_path / "lexical.npz"
    head.save(path)
    loaded = LexicalHead.load(path)
    assert loaded.vocabulary == head.vocabulary
    np.testing.assert_allclose(loaded.logits("nude bather")[0], head.logits("nude bather")[0], atol=1e-2)


def test_align_moves_lexical_shares_onto_tokenizer_words() -> None:
    words = ("a", "nude", ",", "8k", "woman")
    contrib = np.array([[0.1], [2.0], [0.3], [0.5]], np.float32)
    out = _align(words, ["a", "nude", "8k", "woman"], contrib)
    np.testing.assert_allclose(out[:, 0], [0.1, 2.0, 0.0, 0.3, 0.5])


def test_folds_are_fixed_and_fold0_is_the_calibration_quarter() -> None:
    prompts = [f"prompt number {i}" for i in range(400)]
    folds = [fold_of(p) for p in prompts]
    assert set(folds) == {0, 1, 2, 3}
    assert all(abs(folds.count(k) - 100) < 35 for k in range(4))
    assert all((f == 0) == is_calibration(p) for p, f in zip(prompts, folds, strict=True))
    assert fold_of("  a cat  ") == fold_of("a cat")


def test_weak_i2p_rows_are_sexual_positives_only(tmp_path) -> None:
    (tmp_path / "i2p").mkdir()
    (tmp_path / "i2p" / "prompts.csv").write_text(
        "prompt,categories,hard,prompt_toxicity\n"
        "a,\"sexual, shocking\",0,0.1\n"
        "b,violence,0,0.1\n"
        "c,sexual,1,0.1\n"
        "a,sexual,0,0.2\n")
    rows = load_i2p_weak(tmp_path)
    assert [(r.prompt, r.label, r.categories, r.group) for r in rows] == [("a", "unsafe", ("sexual",), "weak")]
    assert load_i2p_weak(tmp_path / "missing") == []


def test_sample_weights_weigh_hard_negatives_weak_rows_and_positives() -> None:
    from vidgen.safety.data import LabelledPrompt

    config = TrainConfig()
    rows = [LabelledPrompt("x", "benign", ("self_harm",), "overt", "benign_hard"),
            LabelledPrompt("y", "unsafe", ("sexual",), "i2p", "weak"),
            LabelledPrompt("z", "unsafe", ("self_harm",), "overt", ""),
            LabelledPrompt("w", "benign", (), "vbench", "all_category.txt")]
    y = np.zeros((4, 7), np.float32)
    y[1, 0] = 1.0  # sexual
    y[2, 2] = 1.0  # self_harm
    weights = sample_weights(rows, y, config)
    expected = [config.benign_hard_weight, config.weak_i2p_weight * config.positive_weights["sexual"],
                config.positive_weights["self_harm"], 1.0]
    np.testing.assert_allclose(weights, expected)
