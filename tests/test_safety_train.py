"""The safety classifier's training script: a few real adapter steps on MiniLM, exported and loaded back."""

from __future__ import annotations

import numpy as np
import pytest

from vidgen.safety.categories import CLASSIFIER_CATEGORIES
from vidgen.safety.classifier import PromptClassifier
from vidgen.safety.train import TrainConfig, export, fit, frozen_states, predict

UNSAFE = "explicit nude photo of a naked woman, porn"
BENIGN = "a red kite flying over a green hill on a sunny day"


@pytest.mark.parametrize("layers", [(4, 5), (3, 5), (0, 1, 2, 3, 4, 5)])  # shipped, a gap, every layer
def test_a_few_adapter_steps_learn_and_the_export_loads_with_the_same_scores(tmp_path, layers):
    config = TrainConfig(epochs=6, batch_size=4, lr=3e-3, portraits=0, layers=layers)
    texts = [UNSAFE, BENIGN] * 4
    states = frozen_states(texts, quantized=False, first_adapted=min(config.layers))
    y = np.zeros((len(texts), len(CLASSIFIER_CATEGORIES)), np.float32)
    sexual = CLASSIFIER_CATEGORIES.index("sexual")
    y[0::2, sexual] = 1.0
    top = fit(states, y, np.ones(len(texts), np.float32), config, log=lambda _: None)
    scores = predict(top, states[:2])
    assert scores[0, sexual] > 0.5 > scores[1, sexual]

    export(top, config, tmp_path, {"fit_rows": len(texts)})
    loaded = PromptClassifier(tmp_path, quantize=False)
    assert loaded.categories == tuple(CLASSIFIER_CATEGORIES)
    for text, expected in zip((UNSAFE, BENIGN), scores, strict=True):
        got = loaded.score(text).scores
        # The export stores float16 adapters; the classifier merges them into MiniLM.
        assert np.allclose([got[c] for c in CLASSIFIER_CATEGORIES], expected, atol=0.02)
