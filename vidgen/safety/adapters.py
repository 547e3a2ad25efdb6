"""Low-rank adapters (LoRA) on the top MiniLM layers, and the linear head on the pooled sentence embedding.

Only the adapters and the head are trained and shipped (about 1 MB); at load time the adapters are merged into
the bundled MiniLM weights, so inference costs exactly one plain MiniLM forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ADAPTED_LAYERS = (4, 5)  # default: the last two of MiniLM-L6's six layers
ADAPTED_LINEARS = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")
POOL_SCALE = 10.0  # the head sees 10 x the unit-length embedding, so logits start in a useful range


@dataclass(frozen=True)
class AdapterConfig:
    rank: int = 8
    alpha: float = 16.0
    layers: tuple[int, ...] = ADAPTED_LAYERS

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


class LoRALinear(nn.Module):
    """y = base(x) + scale * x A^T B^T, with the base frozen; B starts at zero so training starts from MiniLM."""

    def __init__(self, base: nn.Linear, config: AdapterConfig):
        super().__init__()
        self.base = base
        self.scale = config.scale
        self.lora_a = nn.Parameter(torch.randn(config.rank, base.in_features) * 0.01)
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, config.rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def delta(self) -> torch.Tensor:
        return (self.lora_b @ self.lora_a) * self.scale


def _get(module: nn.Module, dotted: str) -> nn.Module:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _set(module: nn.Module, dotted: str, value: nn.Module) -> None:
    parent, _, name = dotted.rpartition(".")
    setattr(_get(module, parent) if parent else module, name, value)


def attach_adapters(layers: nn.ModuleList, config: AdapterConfig) -> dict[str, LoRALinear]:
    """Wrap the adapted Linear layers of `layers` (a BertEncoder.layer list) in LoRALinear, in place."""
    adapters = {}
    for index in config.layers:
        for dotted in ADAPTED_LINEARS:
            base = _get(layers[index], dotted)
            for param in base.parameters():
                param.requires_grad = False
            wrapped = LoRALinear(base, config)
            _set(layers[index], dotted, wrapped)
            adapters[f"{index}.{dotted}"] = wrapped
    return adapters


def adapter_tensors(adapters: dict[str, LoRALinear], head: nn.Linear) -> dict[str, torch.Tensor]:
    tensors = {"head.weight": head.weight.detach().clone(), "head.bias": head.bias.detach().clone()}
    for key, module in adapters.items():
        tensors[f"{key}.lora_a"] = module.lora_a.detach().clone()
        tensors[f"{key}.lora_b"] = module.lora_b.detach().clone()
    return tensors


def merge_adapters(layers: nn.ModuleList, tensors: dict[str, torch.Tensor], config: AdapterConfig) -> None:
    """Add each shipped low-rank delta into the matching frozen Linear weight (no extra cost at inference)."""
    with torch.no_grad():
        for index in config.layers:
            for dotted in ADAPTED_LINEARS:
                key = f"{index}.{dotted}"
                delta = tensors[f"{key}.lora_b"].float() @ tensors[f"{key}.lora_a"].float()
                _get(layers[index], dotted).weight += delta * config.scale


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, L2-normalised (what sentence-transformers does for all-MiniLM-L6-v2)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return nn.functional.normalize(mean, dim=-1)


def average_adapters(runs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One adapter set whose merged weights are the mean of the runs' (a "model soup").

    The low-rank factors are stacked, A on top of each other and B side by side over the number of runs, so
    B A = mean(B_i A_i) exactly at rank = runs x rank; the heads are averaged. Only runs that start from the
    same weights and differ in batch order (`--shuffle-seed`) average well.
    """
    soup = {}
    for key in runs[0]:
        if key.startswith("head."):
            soup[key] = torch.stack([r[key].float() for r in runs]).mean(0)
        elif key.endswith(".lora_a"):
            soup[key] = torch.cat([r[key].float() for r in runs], dim=0)
        elif key.endswith(".lora_b"):
            soup[key] = torch.cat([r[key].float() for r in runs], dim=1) / len(runs)
    return soup
