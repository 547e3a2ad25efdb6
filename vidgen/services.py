"""Builds the long-lived objects of one process from settings: catalog, pipeline cache, history, safety,
quota ledger and identity. The UI, the CLI and the benchmarks all start here."""

from __future__ import annotations

from vidgen.catalog import Catalog
from vidgen.history import History
from vidgen.jobs import Services
from vidgen.pipelines import PipelineCache
from vidgen.presets import load_presets
from vidgen.settings import Settings


def build_services(settings: Settings | None = None) -> Services:
    from vidgen.quota import IdentityResolver, Ledger, PlanBook, Roster, load_or_create_salt
    from vidgen.safety import SafetyAuditLog, SafetyFilter

    settings = settings or Settings.load()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.load(settings.catalog_path).with_default(settings.default_model)
    plans = PlanBook.load(settings.plans_path) if settings.plans_path else PlanBook.load()
    ledger = Ledger(
        url=settings.quota_db_url or f"sqlite:///{settings.data_dir / 'quota.db'}",
        plans=plans,
        timezone=settings.quota_timezone,
    )
    roster = Roster.load(settings.roster_path) if settings.roster_path else None
    trusted = {"auto": None, "yes": True, "no": False}.get(settings.trusted_proxy, None)
    identity = IdentityResolver(
        roster=roster,
        salt=settings.identity_salt or load_or_create_salt(settings.data_dir / "identity.salt"),
        trusted_proxy=trusted,
        local_user=settings.local_user or None,
    )
    presets = load_presets(catalog, settings)
    return Services(
        settings=settings,
        catalog=catalog,
        pipelines=PipelineCache(settings),
        history=History(settings.data_dir, settings.output_dir),
        safety=SafetyFilter.from_policy(settings.safety_policy),
        safety_audit=SafetyAuditLog(settings.data_dir / "safety_audit.jsonl"),
        ledger=ledger,
        identity=identity,
        presets=presets,
    )
