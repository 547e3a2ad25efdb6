"""The model catalog: a data file saying which model serves which mode, with its defaults and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidgen.settings import PROJECT_ROOT

TEXT_TO_VIDEO = "text_to_video"
IMAGE_TO_VIDEO = "image_to_video"
VIDEO_TO_VIDEO = "video_to_video"
MODES = (TEXT_TO_VIDEO, IMAGE_TO_VIDEO, VIDEO_TO_VIDEO)
MODE_LABELS = {
    TEXT_TO_VIDEO: "Text to Video",
    IMAGE_TO_VIDEO: "Image to Video",
    VIDEO_TO_VIDEO: "Video to Video",
}


class CatalogError(ValueError):
    """The catalog file is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Resolution:
    label: str
    width: int
    height: int


@dataclass(frozen=True)
class Range:
    default: float
    min: float
    max: float

    def contains(self, value: float) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class MotionMapping:
    """How the 1-10 'General Motion' slider maps onto one pipeline argument of this model."""

    parameter: str
    low: float
    high: float
    note: str = ""

    def value(self, motion: int) -> float:
        return self.low + (self.high - self.low) * (motion - 1) / 9


@dataclass(frozen=True)
class FrameRule:
    """Valid frame counts are `offset + k * step` up to `max` (Wan: 4k+1, LTX: 8k+1)."""

    step: int = 1
    offset: int = 0
    max: int = 1000


@dataclass(frozen=True)
class ModelEntry:
    id: str
    label: str
    source: str
    family: str
    pipelines: dict[str, str]
    resolutions: tuple[Resolution, ...]
    fps: int
    durations: tuple[float, ...]
    steps: Range
    guidance: Range
    frames: FrameRule = FrameRule()
    description: str = ""
    revision: str | None = None
    default_duration: float = 0.0
    cost_factor: float = 1.0
    vram_gb: float = 0.0
    dtype: str = "bfloat16"
    display_scale: int = 1
    negative_prompt: str = ""
    motion: MotionMapping | None = None
    camera: str = "none"
    keyframes: bool = False
    strength: Range = Range(0.7, 0.1, 1.0)
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    model_card: str = ""
    builtin: bool = False
    variant: str | None = None
    scheduler: dict[str, Any] = field(default_factory=dict)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(mode for mode in MODES if mode in self.pipelines)

    @property
    def default_resolution(self) -> Resolution:
        return self.resolutions[0]

    def resolution(self, label: str | None) -> Resolution:
        for resolution in self.resolutions:
            if label in (None, "", resolution.label):
                return resolution
        choices = ", ".join(r.label for r in self.resolutions)
        raise KeyError(f"{self.label} has no resolution '{label}'. Choose one of: {choices}.")

    def resolved_source(self) -> str:
        """A local folder (made absolute against the project root) or a Hub repo id, as written."""
        if self.source.startswith((".", "/")) or (PROJECT_ROOT / self.source).exists():
            path = Path(self.source)
            return str(path if path.is_absolute() else PROJECT_ROOT / path)
        return self.source


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelEntry]
    default_model: str

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        raw = yaml.safe_load(Path(path).read_text())
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
            raise CatalogError(f"{path}: expected a mapping with a 'models' section")
        models = {model_id: _entry(model_id, spec) for model_id, spec in raw["models"].items()}
        default = raw.get("default_model") or next(iter(models))
        if default not in models:
            raise CatalogError(f"{path}: default_model '{default}' is not in the catalog")
        return cls(models=models, default_model=default)

    def get(self, model_id: str | None) -> ModelEntry:
        model_id = model_id or self.default_model
        if model_id not in self.models:
            raise KeyError(f"Unknown model '{model_id}'. Available: {', '.join(self.models)}.")
        return self.models[model_id]

    def for_mode(self, mode: str) -> list[ModelEntry]:
        return [entry for entry in self.models.values() if mode in entry.pipelines]

    def with_default(self, model_id: str) -> Catalog:
        if model_id and model_id not in self.models:
            raise CatalogError(f"Configured default model '{model_id}' is not in the catalog")
        return Catalog(models=self.models, default_model=model_id or self.default_model)


def _range(spec: Any, name: str, model_id: str) -> Range:
    try:
        return Range(float(spec["default"]), float(spec["min"]), float(spec["max"]))
    except (KeyError, TypeError) as error:
        raise CatalogError(f"model '{model_id}': '{name}' needs default, min and max") from error


def _entry(model_id: str, spec: dict[str, Any]) -> ModelEntry:
    try:
        unknown_modes = set(spec["pipelines"]) - set(MODES)
        if unknown_modes:
            raise CatalogError(f"model '{model_id}': unknown modes {sorted(unknown_modes)}")
        durations = tuple(float(d) for d in spec["durations"])
        motion = spec.get("motion")
        return ModelEntry(
            id=model_id,
            label=spec.get("label", model_id),
            description=spec.get("description", ""),
            source=str(spec["source"]),
            revision=spec.get("revision"),
            family=spec["family"],
            pipelines=dict(spec["pipelines"]),
            resolutions=tuple(Resolution(**r) for r in spec["resolutions"]),
            fps=int(spec["fps"]),
            durations=durations,
            default_duration=float(spec.get("default_duration", durations[0])),
            frames=FrameRule(**spec.get("frames", {})),
            steps=_range(spec["steps"], "steps", model_id),
            guidance=_range(spec["guidance"], "guidance", model_id),
            strength=_range(spec.get("strength", {"default": 0.7, "min": 0.1, "max": 1.0}), "strength", model_id),
            cost_factor=float(spec.get("cost_factor", 1.0)),
            vram_gb=float(spec.get("vram_gb", 0.0)),
            dtype=spec.get("dtype", "bfloat16"),
            display_scale=int(spec.get("display_scale", 1)),
            negative_prompt=spec.get("negative_prompt", ""),
            motion=MotionMapping(**motion) if motion else None,
            camera=spec.get("camera", "none"),
            keyframes=bool(spec.get("keyframes", False)),
            call_kwargs=dict(spec.get("call_kwargs", {})),
            model_card=spec.get("model_card", ""),
            builtin=bool(spec.get("builtin", False)),
            variant=spec.get("variant"),
            scheduler=dict(spec.get("scheduler", {})),
        )
    except CatalogError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CatalogError(f"model '{model_id}': {error!r}") from error
