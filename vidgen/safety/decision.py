"""The explained outcome of a safety check, and its audit record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from vidgen.safety.categories import LABELS, REPHRASE_HINTS


@dataclass(frozen=True)
class SafetyDecision:
    allowed: bool
    category: str | None = None
    layer: str | None = None  # "rules" | "classifier" | "image"
    reason: str = ""
    triggers: tuple[str, ...] = ()
    score: float | None = None
    policy: str = ""
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    checked: str = ""  # the input this decision is about ("prompt", "negative prompt", "image"; "" for a request)

    @classmethod
    def allow(cls, policy: str, score: float | None = None, scores: dict[str, float] | None = None,
              reason: str = "no policy category matched") -> SafetyDecision:
        return cls(allowed=True, reason=reason, score=score, policy=policy, scores=scores or {})

    def category_label(self) -> str:
        return LABELS.get(self.category or "", self.category or "")

    def user_message(self) -> str:
        """One line for the UI: 'Blocked: <category>: <reason>. <how to rephrase>' (empty when allowed)."""
        if self.allowed:
            return ""
        hint = REPHRASE_HINTS.get(self.category or "", "Rephrase the prompt and try again.")
        if self.checked == "negative prompt":  # say where it was; naming what to avoid ("nsfw", "gore") is fine
            hint = ("Remove those words from the negative prompt; naming what to avoid there, such as \"nsfw\" or "
                    "\"gore\", is fine.")
        return f"Blocked: {self.category_label()}: {self.reason}. {hint}"

    def to_dict(self) -> dict:
        return {
            "allowed": self.allowed, "category": self.category, "layer": self.layer, "reason": self.reason,
            "triggers": list(self.triggers), "score": None if self.score is None else round(self.score, 4),
            "policy": self.policy, "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "checked": self.checked,
        }

    def audit_record(self, text: str, store_raw: bool = False, negative_prompt: str = "") -> dict:
        """The decision plus a sha256 of the checked prompt (and of the negative prompt, when there is one, since
        either can decide: see `checked`); the raw texts only when the deployment opts in."""
        record = {k: v for k, v in self.to_dict().items() if k != "scores"}
        texts = {"prompt": text, "negative_prompt": negative_prompt} if negative_prompt else {"prompt": text}
        for name, value in texts.items():
            record[f"{name}_sha256"] = hashlib.sha256(value.encode("utf-8")).hexdigest()
            if store_raw:
                record[name] = value
        return record
