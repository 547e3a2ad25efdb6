"""Load-once pipeline cache: one model per process, shared by every request and every mode.

The mode pipelines of one model are built over its modules (`share_components`), so text, image and video
to video share the same transformer, VAE and text encoder in memory. Models are evicted least-recently-used
under a memory budget.
A diffusers scheduler keeps per-call state, so one generation runs at a time per device (`device_lock`), and
every load and call runs on the cache's one render thread (`run_on_device`; why: `vidgen.torch_thread`).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from vidgen.catalog import ModelEntry
from vidgen.families import FamilyAdapter, adapter_for, configure_scheduler, fit_preview_projection
from vidgen.settings import Settings
from vidgen.torch_thread import TorchThread

log = logging.getLogger(__name__)
T = TypeVar("T")

MEMORY_PROFILES = ("gpu", "model_offload", "sequential_offload")


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def resolve_dtype(setting: str, entry: ModelEntry, device: torch.device) -> torch.dtype:
    if setting != "auto":
        return getattr(torch, setting)
    if device.type == "cpu":
        return torch.float32  # bf16 matmuls are slow or unsupported on many laptop CPUs
    return getattr(torch, entry.dtype)


def choose_memory_profile(setting: str, entry: ModelEntry, device: torch.device) -> str:
    if device.type != "cuda" or setting in MEMORY_PROFILES:
        return setting if device.type == "cuda" else "gpu"
    free_bytes, _total = torch.cuda.mem_get_info(device)
    free_gb = free_bytes / 2**30
    if entry.vram_gb <= free_gb * 0.9:
        return "gpu"
    return "model_offload" if entry.vram_gb <= free_gb * 2 else "sequential_offload"


@dataclass
class LoadedModel:
    entry: ModelEntry
    adapter: FamilyAdapter
    base: Any
    by_mode: dict[str, Any] = field(default_factory=dict)
    preview_projection: torch.Tensor | None = None
    size_gb: float = 0.0


class PipelineCache:
    """Loads each catalog model once and hands out its mode pipelines."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.device_lock = threading.Lock()
        self._render_thread = TorchThread("vidgen-render")
        self.load_counts: Counter[str] = Counter()
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._load_lock = threading.Lock()

    def get(self, entry: ModelEntry, mode: str) -> tuple[Any, LoadedModel]:
        """The pipeline serving `mode` of `entry`, loading the model on first use."""
        if mode not in entry.pipelines:
            raise ValueError(f"{entry.label} does not support {mode.replace('_', ' ')}.")
        with self._load_lock:
            model = self._models.get(entry.id)
            if model is None:
                model = self._load(entry)
            self._models.move_to_end(entry.id)
            if mode not in model.by_mode:
                model.by_mode[mode] = self._derive(model, mode)
            return model.by_mode[mode], model

    def run_on_device(self, work: Callable[[], T]) -> T:
        """Run `work` (model loads and pipeline calls) holding the device, on the cache's one render thread
        (why one thread: `vidgen.torch_thread`). `work` must not call `run_on_device` itself."""

        def locked() -> T:
            with self.device_lock:
                return work()

        return self._render_thread.run(locked)

    def preview_projection(self, model: LoadedModel) -> torch.Tensor:
        """Latent-to-RGB projection of a model, fitted on first use (one tiny VAE encode)."""
        if model.preview_projection is None:
            model.preview_projection = fit_preview_projection(model.adapter, model.base)
        return model.preview_projection

    def is_loaded(self, model_id: str) -> bool:
        return model_id in self._models

    def evict(self, model_id: str) -> None:
        with self._load_lock:
            self._models.pop(model_id, None)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _load(self, entry: ModelEntry) -> LoadedModel:
        import diffusers

        self._make_room_for(entry)
        first_mode = entry.modes[0]
        pipeline_class = getattr(diffusers, entry.pipelines[first_mode])
        dtype = resolve_dtype(self.settings.dtype, entry, self.device)
        log.info("Loading %s from %s (%s)", entry.id, entry.resolved_source(), dtype)
        base = pipeline_class.from_pretrained(
            entry.resolved_source(), revision=entry.revision, variant=entry.variant, dtype=dtype
        )
        self.load_counts[entry.id] += 1
        adapter = adapter_for(entry.family)
        base = adapter.prepare_pipeline(first_mode, configure_scheduler(base, entry.scheduler))
        self._place(base, entry)
        model = LoadedModel(entry=entry, adapter=adapter, base=base, size_gb=_size_gb(base))
        model.by_mode[first_mode] = base
        self._models[entry.id] = model
        return model

    def _derive(self, model: LoadedModel, mode: str) -> Any:
        import diffusers

        pipeline_class = getattr(diffusers, model.entry.pipelines[mode])
        pipe = share_components(pipeline_class, model.base)
        pipe.set_progress_bar_config(disable=True)
        return model.adapter.prepare_pipeline(mode, pipe)

    def _place(self, pipe: Any, entry: ModelEntry) -> None:
        pipe.set_progress_bar_config(disable=True)
        if self.device.type != "cuda":
            pipe.to(self.device)
            return
        profile = choose_memory_profile(self.settings.memory_profile, entry, self.device)
        log.info("Memory profile for %s: %s", entry.id, profile)
        if profile == "gpu":
            pipe.to(self.device)
        elif profile == "model_offload":
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.enable_sequential_cpu_offload(device=self.device)
        if self.settings.vae_tiling and hasattr(pipe.vae, "enable_tiling"):
            pipe.vae.enable_tiling()
        if importlib.util.find_spec("xformers") is not None:
            try:
                pipe.enable_xformers_memory_efficient_attention()
            except Exception as error:  # SDPA stays in use; xformers lacks kernels for some layouts
                log.warning("xformers not used for %s: %s", entry.id, error)

    def _make_room_for(self, entry: ModelEntry) -> None:
        budget = self.settings.memory_budget_gb
        while self._models:
            used = sum(m.size_gb for m in self._models.values())
            if budget > 0 and used + entry.vram_gb <= budget:
                return
            evicted_id, _ = self._models.popitem(last=False)
            log.info("Evicting %s to make room for %s", evicted_id, entry.id)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()


def share_components(pipeline_class: type, base: Any) -> Any:
    """A `pipeline_class` over `base`'s own modules and settings, as `from_pipe` builds it, minus its cast.

    diffusers 0.42's `from_pipe` casts every module it shares to float32 unless given a dtype, so a bf16 model
    silently became float32 in every mode once a second mode was used; and given a dtype, it would still cast
    the layers a model keeps in float32 on purpose (T5's `wo`, Wan's norms). Found by tests/test_cuda.py.
    """
    modules, settings = pipeline_class._get_signature_keys(pipeline_class)
    components = {name: part for name, part in base.components.items() if name in modules}
    config = {key: base.config[key] for key in settings if key in base.config}
    return pipeline_class(**components, **config)


def _size_gb(pipe: Any) -> float:
    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            total += sum(p.numel() * p.element_size() for p in component.parameters())
    return total / 2**30
