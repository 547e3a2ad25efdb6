"""The learned layer: MiniLM with the shipped adapters merged in, a linear head per category, and word-level
explanations (each word's share of the category logit; exact for a linear head on a mean pool).

A weights folder whose classifier.json lists `members` (subfolders, each a trained model) is an ensemble: every
member scores the prompt and their logits, and each word's shares, are averaged, so explanations stay exact.

A prompt longer than one MiniLM window (MAX_TOKENS) is scored window by window, overlapping, and each category
takes its highest window: words past the first window count, so unsafe text cannot hide behind a long preamble.
"""

from __future__ import annotations

import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidgen.safety.adapters import ADAPTED_LAYERS, POOL_SCALE, AdapterConfig, merge_adapters
from vidgen.safety.embedder import MAX_TOKENS, OnnxEncoder, load_minilm
from vidgen.safety.normalize import without_quality_tags
from vidgen.torch_thread import TorchThread

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_STOPWORDS = frozenset(
    "a an the of and or in on at to for with by from as is are be its it this that their his her my your "
    "our into onto over under up down out off while who whom which what when where how than then there "
    "being been was were has have had very some".split()
)
_WORDISH = re.compile(r"[a-z0-9]")
WINDOW_STRIDE = 64  # tokens between window starts; windows overlap so no phrase is only ever seen cut in two


@dataclass(frozen=True)
class ClassifierOutput:
    scores: dict[str, float]
    words: tuple[str, ...]
    word_contrib: np.ndarray  # (n_words, n_categories) share of each category logit

    def triggers(self, category: str, limit: int = 3) -> tuple[str, ...]:
        column = list(self.scores).index(category)
        order = np.argsort(-self.word_contrib[:, column])
        picked: list[str] = []
        for i in order:
            word = self.words[i]
            if self.word_contrib[i, column] <= 0 or len(picked) == limit:
                break
            if word not in _STOPWORDS and _WORDISH.search(word) and word not in picked:
                picked.append(word)
        return tuple(picked)


class PromptClassifier:
    """Loads once (about 7 s, most of it transformers' first import; 5 s more the first time given weights are
    quantised, see `embedder.quantized_cache_dir`); `score` takes 5-15 ms per prompt and member on one CPU core.

    Loading runs torch on a thread of its own with one intra-op thread (see `vidgen.torch_thread`); scoring
    runs no torch at all (onnxruntime, one thread per member, members side by side on up to as many cores), one
    prompt at a time.
    """

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR, quantize: bool = True):
        weights_dir = Path(weights_dir)
        self._lock = threading.Lock()  # the fast tokenizer is not safe to share between threads
        TorchThread("vidgen-safety-load", intra_op_threads=1).run(self._load, weights_dir, quantize)

    def _load(self, weights_dir: Path, quantize: bool) -> None:
        meta = json.loads((weights_dir / "classifier.json").read_text(encoding="utf-8"))
        self.categories: tuple[str, ...] = tuple(meta["categories"])
        member_dirs = [weights_dir / name for name in meta.get("members", [])] or [weights_dir]
        self._tokenizer, minilm = load_minilm()
        self._members = [_load_member(d, self.categories, minilm, quantize) for d in member_dirs]
        # Members score a window side by side (onnxruntime releases the GIL): a three-member check takes the time
        # of two passes on two cores, not three. Each member still runs on one thread, and results are identical.
        workers = min(len(self._members), os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="vidgen-safety") if workers > 1 else None

    def score(self, text: str) -> ClassifierOutput:
        """Scores of normalised `text`, without its image-quality tags (see `normalize.without_quality_tags`)."""
        text = without_quality_tags(text)
        if not text.strip():  # nothing but quality tags: nothing to rate
            return ClassifierOutput({c: 0.0 for c in self.categories}, (), np.zeros((0, len(self.categories))))
        with self._lock:
            return self._score(text)

    def _score(self, text: str) -> ClassifierOutput:
        # verbose=False: no "longer than 512 tokens" warning; long prompts are cut into windows below
        ids = self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        windows = token_windows(ids, MAX_TOKENS - 2, WINDOW_STRIDE)  # 2: [CLS] and [SEP]
        cls, sep = self._tokenizer.cls_token_id, self._tokenizer.sep_token_id
        outputs = [self._score_window([cls, *window, sep]) for window in windows]
        return outputs[0] if len(outputs) == 1 else highest_per_category(outputs)

    def _score_window(self, input_ids: list[int]) -> ClassifierOutput:
        if self._pool is None:
            shares = [member.logit_shares(input_ids) for member in self._members]
        else:
            shares = list(self._pool.map(lambda member: member.logit_shares(input_ids), self._members))
        per_token = np.mean([tokens for tokens, _ in shares], axis=0)  # sums to logit - bias
        logits = np.mean([tokens.sum(axis=0) + bias for tokens, bias in shares], axis=0)
        probs = 1.0 / (1.0 + np.exp(-logits))
        words, contrib = _merge_word_pieces(self._tokenizer.convert_ids_to_tokens(input_ids), per_token)
        return ClassifierOutput(scores={c: float(p) for c, p in zip(self.categories, probs, strict=True)},
                                words=words, word_contrib=contrib)


@dataclass(frozen=True)
class _Member:
    """One trained model: MiniLM with its adapters merged in, as an int8 graph, and its linear head."""

    encoder: OnnxEncoder
    head_w: np.ndarray  # (n_categories, 384)
    head_b: np.ndarray

    def logit_shares(self, input_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(n_tokens, n_categories) share of each token in each logit, and the bias: logit = shares.sum(0) + bias."""
        hidden = self.encoder.hidden(input_ids)
        norm = max(float(np.linalg.norm(hidden.mean(axis=0))), 1e-9)
        return hidden @ self.head_w.T * (POOL_SCALE / (len(hidden) * norm)), self.head_b


def _load_member(weights_dir: Path, categories: tuple[str, ...], minilm, quantize: bool) -> _Member:
    """`minilm` stays as it is: the adapters are merged into a copy."""
    import copy

    from safetensors.torch import load_file

    meta = json.loads((weights_dir / "classifier.json").read_text(encoding="utf-8"))
    if tuple(meta["categories"]) != categories:
        raise ValueError(f"{weights_dir}: categories {meta['categories']} differ from the ensemble's {categories}")
    tensors = load_file(str(weights_dir / "classifier.safetensors"))
    config = AdapterConfig(rank=int(meta["rank"]), alpha=float(meta["alpha"]),
                           layers=tuple(meta.get("layers", ADAPTED_LAYERS)))
    model = copy.deepcopy(minilm)
    merge_adapters(model.encoder.layer, tensors, config)
    return _Member(OnnxEncoder(model, quantize=quantize), tensors["head.weight"].float().numpy(),
                   tensors["head.bias"].float().numpy())


def token_windows(ids: list[int], size: int, stride: int) -> list[list[int]]:
    """The first `size` ids, then windows every `stride` ids, the last one ending at the last id."""
    if len(ids) <= size:
        return [ids]
    starts = [*range(0, len(ids) - size, stride), len(ids) - size]
    return [ids[start : start + size] for start in starts]


def highest_per_category(outputs: list[ClassifierOutput]) -> ClassifierOutput:
    """Each category's score from its highest window; its explaining words only from that window."""
    categories = list(outputs[0].scores)
    best = [max(range(len(outputs)), key=lambda i: outputs[i].scores[c]) for c in categories]
    contribs = []
    for index, output in enumerate(outputs):
        keep = np.array([b == index for b in best], dtype=np.float32)
        contribs.append(output.word_contrib * keep)
    return ClassifierOutput(scores={c: outputs[b].scores[c] for c, b in zip(categories, best, strict=True)},
                            words=tuple(w for output in outputs for w in output.words),
                            word_contrib=np.concatenate(contribs))


def _merge_word_pieces(tokens: list[str], per_token: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    words: list[str] = []
    rows: list[np.ndarray] = []
    for token, row in zip(tokens, per_token, strict=True):
        if token in ("[CLS]", "[SEP]", "[PAD]"):
            continue
        if token.startswith("##") and words:
            words[-1] += token[2:]
            rows[-1] = rows[-1] + row
        else:  # a window may start inside a word: show the piece without its "##"
            words.append(token.removeprefix("##"))
            rows.append(row.copy())
    if not rows:
        return (), np.zeros((0, per_token.shape[1]), np.float32)
    return tuple(words), np.stack(rows)
