"""SafetyFilter: normalisation -> context-aware rules -> learned classifier for text; a pluggable image
classifier for images. The first layer that blocks decides, and the decision says which and why."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from vidgen.safety.categories import CLASSIFIER_CATEGORIES, LABELS, SEXUAL_MINORS
from vidgen.safety.classifier import ClassifierOutput, PromptClassifier
from vidgen.safety.decision import SafetyDecision
from vidgen.safety.image import ImageClassifier, as_pil, make_image_classifier
from vidgen.safety.normalize import NormalizedText, normalize
from vidgen.safety.policy import Policy
from vidgen.safety.rules import RuleHits, match_rules, steering_words, without_avoidance_tags

_UNSET = object()


class SafetyFilter:
    """Checks prompts and images against one policy. Heavy models load lazily, once per instance; pass a
    `classifier` to share one PromptClassifier between filters of different policies."""

    def __init__(self, policy: Policy, classifier: PromptClassifier | None = None,
                 image_classifier: ImageClassifier | None | object = _UNSET):
        self.policy = policy
        self._classifier = classifier
        self._image_classifier = image_classifier
        self._lock = threading.Lock()

    @classmethod
    def from_policy(cls, name_or_path: str | Path = "default", **kwargs) -> SafetyFilter:
        return cls(Policy.load(name_or_path), **kwargs)

    @property
    def classifier(self) -> PromptClassifier:
        with self._lock:
            if self._classifier is None:
                self._classifier = PromptClassifier()
            return self._classifier

    @property
    def image_classifier(self) -> ImageClassifier | None:
        with self._lock:
            if self._image_classifier is _UNSET:
                self._image_classifier = make_image_classifier(self.policy.image.backend)
            return self._image_classifier  # type: ignore[return-value]

    def warm_up(self) -> None:
        """Load the models now (e.g. at app start) instead of on the first request."""
        self.check_text("a calm lake at sunrise")

    # -- text --------------------------------------------------------------------------------------------
    def check_text(self, text: str, what: str = "prompt") -> SafetyDecision:
        """Check one text; `what` names it in the reason ("the negative prompt contains ...")."""
        if not text or not text.strip():
            return SafetyDecision.allow(self.policy.name, reason=f"empty {what}")
        norm = normalize(text)
        hits = match_rules(norm)
        decision = self._rules_decision(norm, hits, what)
        if decision is None:
            decision = self._classifier_decision(norm, hits, self.classifier.score(norm.text), what)
        return replace(decision, checked=what)

    def check_rules(self, text: str) -> SafetyDecision | None:
        """The rules layer alone: a block decision, or None when no rule fires (used for calibration)."""
        norm = normalize(text)
        return self._rules_decision(norm, match_rules(norm))

    def _rules_decision(self, norm: NormalizedText, hits: RuleHits, what: str = "prompt") -> SafetyDecision | None:
        sexual = hits.explicit.get("sexual", ()) + hits.sexualising
        if hits.minors and sexual:
            reason = f"a minor ({_quote(hits.minors)}) appears together with sexual terms ({_quote(sexual)})"
            return self._block(SEXUAL_MINORS, "rules", reason, hits.minors + sexual, norm)
        for category in CLASSIFIER_CATEGORIES:
            if not self.policy.blocks(category):
                continue
            terms = hits.explicit.get(category, ())
            if not terms and self.policy.rule(category).suggestive_terms:
                terms = hits.suggestive.get(category, ())
            if terms:
                return self._block(category, "rules", f"the {what} contains {_quote(terms)}", terms, norm)
        return None

    def _classifier_decision(self, norm: NormalizedText, hits: RuleHits, out: ClassifierOutput,
                             what: str) -> SafetyDecision:
        scores = out.scores
        if hits.minors and scores["sexual"] >= self.policy.minors_sexual_threshold:
            words = out.triggers("sexual")
            reason = (f"a minor ({_quote(hits.minors)}) appears in a {what} the classifier rates "
                      f"{scores['sexual']:.2f} for sexual content")
            return self._block(SEXUAL_MINORS, "classifier", reason, hits.minors + words, norm,
                               score=scores["sexual"], scores=scores)
        for category in sorted(scores, key=scores.get, reverse=True):
            rule = self.policy.rule(category)
            if rule.block and scores[category] >= rule.threshold:
                words = out.triggers(category)
                reason = (f"the classifier rates the {what} {scores[category]:.2f} for {LABELS[category]} "
                          f"(threshold {rule.threshold:.2f})" + (f", mostly because of {_quote(words)}"
                                                                  if words else ""))
                return self._block(category, "classifier", reason, words, norm,
                                   score=scores[category], scores=scores)
        top = max(scores.values()) if scores else None
        return SafetyDecision.allow(self.policy.name, score=top, scores=scores)

    def _block(self, category: str, layer: str, reason: str, triggers: Iterable[str], norm: NormalizedText,
               score: float | None = None, scores: dict[str, float] | None = None) -> SafetyDecision:
        if norm.tricks:
            reason += f" (after undoing {', '.join(norm.tricks)})"
        return SafetyDecision(allowed=False, category=category, layer=layer, reason=reason,
                              triggers=tuple(dict.fromkeys(triggers)), score=score, policy=self.policy.name,
                              scores=scores or {})

    # -- images ------------------------------------------------------------------------------------------
    def check_image(self, image) -> SafetyDecision:
        """Check an uploaded image or a sampled output frame (PIL image, HxWx3 uint8 array or path)."""
        settings = self.policy.image
        if not settings.enabled:
            return SafetyDecision.allow(self.policy.name, reason="image checks are disabled by the policy")
        classifier = self.image_classifier
        if classifier is None:
            if settings.required:
                return SafetyDecision(False, "sexual", "image", "no image classifier is installed and this "
                                      "policy requires one", policy=self.policy.name)
            return SafetyDecision.allow(self.policy.name, reason="no image classifier installed")
        verdict = classifier.classify(as_pil(image))
        for category, score in sorted(verdict.scores.items(), key=lambda kv: kv[1], reverse=True):
            if self.policy.blocks(category) and score >= settings.threshold:
                reason = (f"the image classifier ({classifier.name}) rates it {score:.2f} for "
                          f"{LABELS.get(category, category)} (threshold {settings.threshold:.2f})")
                return SafetyDecision(False, category, "image", reason, triggers=verdict.labels, score=score,
                                      policy=self.policy.name, scores=dict(verdict.scores))
        top = max(verdict.scores.values(), default=None)
        return SafetyDecision.allow(self.policy.name, score=top, scores=dict(verdict.scores))

    def check_negative_prompt(self, negative: str, prompt: str = "") -> SafetyDecision:
        """A negative prompt steers away from what it names (see `rules.AVOIDANCE_WORDS`): tags such as "nsfw" or
        "gore" are dropped, steering toward nudity (or, with sexual terms in `prompt`, toward a minor) is blocked,
        and the rest is checked like a prompt."""
        what = "negative prompt"
        norm = normalize(negative or "")
        if steering := steering_words(norm, prompt or ""):
            category, words = steering
            if category == SEXUAL_MINORS or self.policy.blocks(category):
                asks_for = "a minor, since the prompt has sexual terms" if category == SEXUAL_MINORS else "nudity"
                reason = f"the {what} steers away from {_quote(words)}, which asks for {asks_for}"
                return replace(self._block(category, "rules", reason, words, norm), checked=what)
        return self.check_text(without_avoidance_tags(norm.text), what)

    def check_request(self, texts: Mapping[str, str | None] | Iterable[str | None] = (),
                      images: Iterable = (), negative_prompt: str | None = None) -> SafetyDecision:
        """Prompt, preset prompt, negative prompt and images of one request: the first block wins. Name the
        texts ({"prompt": ..., "preset prompt": ...}) and a block says which one it was (`checked`)."""
        named = list(texts.items() if isinstance(texts, Mapping) else (("prompt", text) for text in texts))
        for what, text in named:
            if text:
                decision = self.check_text(text, what)
                if not decision.allowed:
                    return decision
        if negative_prompt and negative_prompt.strip():
            decision = self.check_negative_prompt(negative_prompt, " ".join(text for _, text in named if text))
            if not decision.allowed:
                return decision
        for image in images:
            if image is not None:
                decision = self.check_image(image)
                if not decision.allowed:
                    return replace(decision, checked="image")
        return SafetyDecision.allow(self.policy.name)


def _quote(words: Iterable[str]) -> str:
    return ", ".join(f'"{w}"' for w in words)
