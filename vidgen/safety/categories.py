"""Policy categories, in the order the classifier head emits them, with the wording the UI shows."""

from __future__ import annotations

SEXUAL_MINORS = "sexual_minors"

# Categories the learned classifier scores (one sigmoid output each).
CLASSIFIER_CATEGORIES = ("sexual", "violence", "self_harm", "hate", "illegal", "real_people", "copyright")

ALL_CATEGORIES = (SEXUAL_MINORS, *CLASSIFIER_CATEGORIES)

LABELS = {
    SEXUAL_MINORS: "sexual content involving minors",
    "sexual": "sexual content",
    "violence": "graphic violence",
    "self_harm": "self-harm",
    "hate": "hate or harassment",
    "illegal": "illegal activity",
    "real_people": "real, identifiable people",
    "copyright": "copyrighted characters",
}

REPHRASE_HINTS = {
    SEXUAL_MINORS: "Content that sexualises minors is never generated; remove any sexual element.",
    "sexual": "Describe the scene without nudity or sexual acts.",
    "violence": "Imply the action instead of showing injuries, blood or gore.",
    "self_harm": "Focus on the feeling or on recovery rather than on the act or method. If you are struggling, "
                 "please reach out to someone you trust or a local crisis line.",
    "hate": "Remove slurs and anything that demeans a group of people.",
    "illegal": "Show the story or its consequences rather than the crime being committed or instructions for it.",
    "real_people": "Use a fictional or generic person instead of a real, named one.",
    "copyright": "Describe an original character in your own words instead of a protected one.",
}
