"""Prompt and image safety filter: normalisation, context-aware rules, a learned MiniLM classifier and a
pluggable image classifier, under per-deployment policies (default, classroom, research).

    from vidgen.safety import SafetyFilter
    f = SafetyFilter.from_policy("default")
    d = f.check_request(texts={"prompt": prompt}, negative_prompt=negative_prompt, images=[upload])
    if not d.allowed: show(d.user_message())
"""

from vidgen.safety.audit import SafetyAuditLog
from vidgen.safety.decision import SafetyDecision
from vidgen.safety.filter import SafetyFilter
from vidgen.safety.image import ImageClassifier, ImageVerdict
from vidgen.safety.policy import Policy, PolicyError

__all__ = ["ImageClassifier", "ImageVerdict", "Policy", "PolicyError", "SafetyAuditLog", "SafetyDecision",
           "SafetyFilter"]
