"""One typed settings object, read from `VIDGEN_*` environment variables and an optional YAML file.

Precedence (highest first): environment variable, the file named by `VIDGEN_CONFIG`, the defaults below.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "VIDGEN_"


def _meta(help_text: str) -> dict[str, str]:
    return {"help": help_text}


@dataclass(frozen=True)
class Settings:
    catalog_path: Path = field(
        default=PROJECT_ROOT / "vidgen" / "catalog.yaml",
        metadata=_meta("Model catalog data file: which model serves which mode, with defaults."),
    )
    default_model: str = field(default="", metadata=_meta("Catalog id of the default model ('' = catalog's)."))
    device: str = field(default="auto", metadata=_meta("'auto', 'cpu', 'cuda' or 'cuda:N'."))
    dtype: str = field(default="auto", metadata=_meta("'auto' (catalog's on CUDA, float32 on CPU) or a dtype."))
    memory_profile: str = field(
        default="auto",
        metadata=_meta("CUDA memory: 'gpu' (all on GPU), 'model_offload', 'sequential_offload', 'auto'."),
    )
    vae_tiling: bool = field(default=False, metadata=_meta("Decode in tiles to save VRAM on large videos."))
    memory_budget_gb: float = field(default=0.0, metadata=_meta("Pipeline cache budget; 0 = one model."))
    data_dir: Path = field(default=PROJECT_ROOT / "data", metadata=_meta("Databases, audit logs, history."))
    output_dir: Path = field(default=PROJECT_ROOT / "outputs", metadata=_meta("Generated videos (per user)."))
    queue_max_size: int = field(default=16, metadata=_meta("Jobs waiting in the Gradio queue at most."))
    gpu_slots: int = field(default=1, metadata=_meta("Generations running at once across all tabs."))
    max_upload_mb: float = field(default=50.0, metadata=_meta("Largest accepted upload."))
    max_input_video_s: float = field(default=10.0, metadata=_meta("Longest accepted input video."))
    write_gif: bool = field(default=True, metadata=_meta("Also write a GIF next to every MP4."))
    safety_policy: str = field(default="default", metadata=_meta("Safety policy name or YAML path."))
    store_raw_prompts: bool = field(default=False, metadata=_meta("Keep raw prompt text in the audit log."))
    quota_db_url: str = field(default="", metadata=_meta("SQLAlchemy URL; '' = SQLite file in data_dir."))
    quota_timezone: str = field(default="UTC", metadata=_meta("Time zone of the daily quota reset."))
    plans_path: str = field(default="", metadata=_meta("Plans data file; '' = the bundled one."))
    roster_path: str = field(default="", metadata=_meta("Classroom roster (users, password hashes, plans)."))
    identity_salt: str = field(default="", metadata=_meta("Salt for anonymous ids; '' = random per data_dir."))
    trusted_proxy: str = field(default="auto", metadata=_meta("'auto' (trust on Spaces), 'yes' or 'no'."))
    local_user: str = field(default="", metadata=_meta("CLI user name; '' = 'local'."))
    host: str = field(default="", metadata=_meta("Address to listen on; '' = Gradio default (GRADIO_SERVER_NAME)."))
    port: int = field(default=0, metadata=_meta("Port; 0 = Gradio default (GRADIO_SERVER_PORT or 7860)."))

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        config_file = env.get(ENV_PREFIX + "CONFIG")
        if config_file:
            values.update(yaml.safe_load(Path(config_file).read_text()) or {})
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key in env:
                values[f.name] = env[key]
        values.update(overrides)
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"Unknown settings: {', '.join(sorted(unknown))}")
        return cls(**{name: _coerce(cls, name, value) for name, value in values.items()})

    def with_overrides(self, **overrides: Any) -> Settings:
        return dataclasses.replace(self, **{k: _coerce(Settings, k, v) for k, v in overrides.items()})

    @staticmethod
    def describe() -> str:
        """Help text for every setting (used by `python -m vidgen settings`)."""
        lines = []
        for f in fields(Settings):
            lines.append(f"{ENV_PREFIX}{f.name.upper():<22} {f.metadata.get('help', '')} [default: {f.default}]")
        return "\n".join(lines)


def _coerce(cls: type, name: str, value: Any) -> Any:
    target = get_type_hints(cls)[name]
    if target is bool and isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if target is Path:
        path = Path(value)
        return path if path.is_absolute() else PROJECT_ROOT / path
    if target in (int, float, str):
        return target(value)
    return value
