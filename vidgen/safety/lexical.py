"""A lexical head: one logistic regression per category over the words and word pairs of the normalised prompt.

MiniLM's mean pool dilutes single strong words (an artist known for nudes, a drug name) in long prompts; a
bag of words keeps them. Its logit is blended with the MiniLM head's logit, and since it is linear in the
word features, each word's share of it is exact (a word pair's weight is split between its two words).
Shipped as a small npz (vocabulary + float16 weights); scoring needs no scikit-learn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+")


def words_of(text: str) -> list[str]:
    return _TOKEN.findall(text)


def features(words: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Each distinct unigram and bigram with the positions of the words it covers (first occurrence)."""
    out: dict[str, tuple[int, ...]] = {}
    for i, word in enumerate(words):
        out.setdefault(word, (i,))
        if i + 1 < len(words):
            out.setdefault(f"{word} {words[i + 1]}", (i, i + 1))
    return out


@dataclass
class LexicalHead:
    vocabulary: dict[str, int]
    weights: np.ndarray  # (n_terms, n_categories)
    bias: np.ndarray  # (n_categories,)

    def logits(self, text: str) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(logits, words, per-word contributions (n_words, n_categories)); contributions sum to logit - bias."""
        words = words_of(text)
        contrib = np.zeros((len(words), len(self.bias)), np.float32)
        for term, positions in features(words).items():
            index = self.vocabulary.get(term)
            if index is not None:
                share = self.weights[index].astype(np.float32) / len(positions)
                for pos in positions:
                    contrib[pos] += share
        return contrib.sum(axis=0) + self.bias, words, contrib

    def save(self, path: Path) -> None:
        terms = sorted(self.vocabulary, key=self.vocabulary.get)
        np.savez_compressed(path, terms=np.array(terms), weights=self.weights.astype(np.float16),
                            bias=self.bias.astype(np.float32))

    @classmethod
    def load(cls, path: Path) -> LexicalHead:
        with np.load(path, allow_pickle=False) as data:
            terms = [str(t) for t in data["terms"]]
            return cls({t: i for i, t in enumerate(terms)}, data["weights"], data["bias"])


def fit_lexical(texts: Sequence[str], y: np.ndarray, sample_weight: np.ndarray, c: float = 1.0,
                min_count: int = 2) -> LexicalHead:
    """Fit one L2 logistic regression per category (scikit-learn, training only) on binary term features."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    docs = [features(words_of(t)) for t in texts]
    for doc in docs:
        for term in doc:
            counts[term] = counts.get(term, 0) + 1
    vocabulary = {t: i for i, t in enumerate(sorted(t for t, n in counts.items() if n >= min_count))}
    rows, cols = [], []
    for r, doc in enumerate(docs):
        for term in doc:
            if term in vocabulary:
                rows.append(r)
                cols.append(vocabulary[term])
    x = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(docs), len(vocabulary)))
    weights = np.zeros((len(vocabulary), y.shape[1]), np.float32)
    bias = np.zeros(y.shape[1], np.float32)
    for j in range(y.shape[1]):
        if y[:, j].min() == y[:, j].max():  # a category without positives: constant, very low logit
            bias[j] = -10.0
            continue
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y[:, j], sample_weight=sample_weight)
        weights[:, j] = model.coef_[0]
        bias[j] = model.intercept_[0]
    return LexicalHead(vocabulary, weights, bias)
