"""Presets: YAML files under presets/ (prompt, negative prompt, mode, model, parameters, camera).

They are validated at start-up against the catalog, so a bad file fails loudly with its name and the reason,
instead of misbehaving when a user picks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidgen.catalog import TEXT_TO_VIDEO, Catalog
from vidgen.requests import GenerationRequest, InvalidRequest, plan_render, request_from_dict
from vidgen.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
PRESETS_DIR = PROJECT_ROOT / "presets"
ALLOWED_KEYS = {"name", "description", "mode", "model", "prompt", "negative_prompt", "parameters", "camera", "tags"}
INPUT_KEYS = ("image_path", "last_image_path", "video_path")


class PresetError(ValueError):
    """A preset file is malformed or asks for something its model cannot do."""


@dataclass(frozen=True)
class Preset:
    key: str  # file stem, e.g. "red-ball-left"
    name: str
    description: str
    mode: str
    model: str
    prompt: str
    negative_prompt: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    camera: dict[str, float] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def request_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "mode": self.mode, "model_id": self.model, "prompt": self.prompt,
            "negative_prompt": self.negative_prompt, **self.parameters,
        }
        if self.camera:
            fields["camera"] = dict(self.camera)
        for key in INPUT_KEYS:  # input files are stored relative to the project root
            if fields.get(key) and not Path(fields[key]).is_absolute():
                fields[key] = str(PROJECT_ROOT / fields[key])
        return fields

    def request(self) -> GenerationRequest:
        return request_from_dict(self.request_fields())


def read_preset(path: Path) -> Preset:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PresetError(f"{path.name}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise PresetError(f"{path.name}: expected a mapping of preset fields")
    unknown = set(raw) - ALLOWED_KEYS
    if unknown:
        raise PresetError(f"{path.name}: unknown keys {sorted(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
    for required in ("name", "model", "prompt"):
        if not raw.get(required):
            raise PresetError(f"{path.name}: '{required}' is required")
    return Preset(
        key=path.stem, name=str(raw["name"]), description=str(raw.get("description", "")),
        mode=str(raw.get("mode", TEXT_TO_VIDEO)), model=str(raw["model"]), prompt=str(raw["prompt"]),
        negative_prompt=str(raw.get("negative_prompt", "")), parameters=dict(raw.get("parameters") or {}),
        camera={k: float(v) for k, v in (raw.get("camera") or {}).items()}, tags=tuple(raw.get("tags") or ()),
    )


def validate(preset: Preset, catalog: Catalog, settings: Settings) -> None:
    """Check the preset against its model's catalog entry (no model is loaded)."""
    try:
        plan_render(preset.request(), catalog, settings)
    except (InvalidRequest, TypeError) as error:
        raise PresetError(f"{preset.key}.yaml: {error}") from error


def load_presets(catalog: Catalog, settings: Settings, folder: Path = PRESETS_DIR) -> dict[str, Preset]:
    """Every preset in `folder`, validated; raises PresetError naming the first bad file."""
    presets = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        preset = read_preset(path)
        if preset.model not in catalog.models:  # a deployment may ship a trimmed catalog
            log.info("Preset %s skipped: model '%s' is not in this catalog", path.name, preset.model)
            continue
        validate(preset, catalog, settings)
        presets[preset.key] = preset
    return presets


def load_preset(name_or_path: str) -> Preset:
    """One preset by name (presets/NAME.yaml) or by path, for the CLI."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
        raise PresetError(f"No preset '{name_or_path}'. Available: {names}")
    return read_preset(path)
