"""Deployment policies: which categories are blocked and at what classifier threshold (one YAML per deployment).

A category's `threshold` may be a number or `calibrated`, which takes the value the training script chose
for the policy's `operating_point` (see weights/calibration.json). Sexual content involving minors is blocked
under every policy whatever the file says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vidgen.safety.categories import ALL_CATEGORIES, CLASSIFIER_CATEGORIES, SEXUAL_MINORS

POLICY_DIR = Path(__file__).resolve().parent / "policies"
CALIBRATION_FILE = Path(__file__).resolve().parent / "weights" / "calibration.json"
DEFAULT_THRESHOLD = 0.5


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class CategoryRule:
    block: bool
    threshold: float
    suggestive_terms: bool = False  # also block on the weaker lexicon tier (e.g. "sexy", "bikini")


@dataclass(frozen=True)
class ImagePolicy:
    enabled: bool = True
    backend: str = "auto"  # "auto" | "nudenet" | "none"
    threshold: float = 0.5
    required: bool = False  # block images when no image classifier is installed (fail closed)


@dataclass(frozen=True)
class Policy:
    name: str
    categories: dict[str, CategoryRule]
    minors_sexual_threshold: float
    image: ImagePolicy = field(default_factory=ImagePolicy)
    store_raw_prompts: bool = False
    description: str = ""

    def rule(self, category: str) -> CategoryRule:
        return self.categories[category]

    def blocks(self, category: str) -> bool:
        return category == SEXUAL_MINORS or self.categories[category].block

    @classmethod
    def load(cls, name_or_path: str | Path, calibration: Path = CALIBRATION_FILE) -> Policy:
        path = Path(name_or_path)
        if not path.suffix:
            path = POLICY_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise PolicyError(f"no safety policy {name_or_path!r} (looked for {path})")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls.from_dict(data, default_name=path.stem, calibration=calibration)

    @classmethod
    def from_dict(cls, data: dict, default_name: str = "custom", calibration: Path = CALIBRATION_FILE) -> Policy:
        name = str(data.get("name", default_name))
        calibrated = load_calibration(calibration).get(str(data.get("operating_point", name)), {})
        raw = data.get("categories") or {}
        unknown = set(raw) - set(ALL_CATEGORIES)
        if unknown:
            raise PolicyError(f"policy {name}: unknown categories {sorted(unknown)}")
        categories = {}
        for cat in ALL_CATEGORIES:
            spec = raw.get(cat) or {}
            categories[cat] = CategoryRule(
                block=True if cat == SEXUAL_MINORS else _block(spec.get("action", "block"), name, cat),
                threshold=_threshold(spec.get("threshold", "calibrated"), calibrated.get(cat)),
                suggestive_terms=bool(spec.get("suggestive_terms", False)),
            )
        minors = _threshold(data.get("minors_sexual_threshold", "calibrated"),
                            calibrated.get(SEXUAL_MINORS, categories["sexual"].threshold * 0.6))
        image = ImagePolicy(**(data.get("image") or {}))
        return cls(name=name, categories=categories, minors_sexual_threshold=minors, image=image,
                   store_raw_prompts=bool(data.get("store_raw_prompts", False)),
                   description=str(data.get("description", "")).strip())


def _block(action: str, policy: str, category: str) -> bool:
    if action not in ("block", "allow"):
        raise PolicyError(f"policy {policy}: {category}.action must be block or allow, not {action!r}")
    return action == "block"


def _threshold(value, calibrated: float | None) -> float:
    if value == "calibrated":
        return float(calibrated) if calibrated is not None else DEFAULT_THRESHOLD
    threshold = float(value)
    if not 0.0 < threshold <= 1.0:
        raise PolicyError(f"threshold {threshold} is outside (0, 1]")
    return threshold


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, dict[str, float]]:
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("operating_points", {})


__all__ = ["CLASSIFIER_CATEGORIES", "CategoryRule", "ImagePolicy", "Policy", "PolicyError"]
