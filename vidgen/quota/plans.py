"""Plans: how many generation-seconds a user may spend per day and how often they may preview."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PLANS_PATH = Path(__file__).with_name("plans.yaml")


@dataclass(frozen=True)
class Plan:
    name: str
    label: str
    daily_seconds: float | None  # None = unlimited
    previews_per_minute: int | None  # None = unlimited
    previews_per_day: int | None
    admin: bool = False

    @property
    def unlimited(self) -> bool:
        return self.daily_seconds is None


def _optional_number(raw: Mapping[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    number = kind(value)
    if number < 0:
        raise ValueError(f"{key} must be >= 0, got {value!r}")
    return number


def _plan_from_mapping(name: str, raw: Mapping[str, Any]) -> Plan:
    if "daily_seconds" not in raw:
        raise ValueError(f"plan {name!r} needs daily_seconds (null for unlimited)")
    return Plan(
        name=name,
        label=str(raw.get("label", name.title())),
        daily_seconds=_optional_number(raw, "daily_seconds", float),
        previews_per_minute=_optional_number(raw, "previews_per_minute", int),
        previews_per_day=_optional_number(raw, "previews_per_day", int),
        admin=bool(raw.get("admin", False)),
    )


@dataclass(frozen=True)
class PlanBook:
    """The set of plans, loaded from a YAML data file."""

    plans: Mapping[str, Plan]

    REQUIRED = ("anonymous", "free", "pro", "admin")

    @classmethod
    def load(cls, path: str | Path | None = None) -> PlanBook:
        data = yaml.safe_load(Path(path or DEFAULT_PLANS_PATH).read_text(encoding="utf-8"))
        return cls.from_mapping(data.get("plans", {}))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Mapping[str, Any]]) -> PlanBook:
        plans = {name: _plan_from_mapping(name, spec) for name, spec in raw.items()}
        missing = [name for name in cls.REQUIRED if name not in plans]
        if missing:
            raise ValueError(f"plans file lacks required plans: {', '.join(missing)}")
        return cls(plans=plans)

    def get(self, name: str) -> Plan:
        try:
            return self.plans[name]
        except KeyError:
            raise ValueError(f"unknown plan {name!r}; known: {', '.join(self.names)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.plans

    @property
    def names(self) -> list[str]:
        return list(self.plans)
