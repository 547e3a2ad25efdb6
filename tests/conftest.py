"""Shared fixtures: tiny random-weight pipelines saved as real diffusers folders, a test catalog, and a full
set of services (real safety filter, real SQLite ledger, real history) in a temporary folder."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from vidgen.catalog import Catalog  # noqa: E402
from vidgen.history import History  # noqa: E402
from vidgen.jobs import Services  # noqa: E402
from vidgen.pipelines import PipelineCache  # noqa: E402
from vidgen.settings import Settings  # noqa: E402
from vidgen.testing.tiny import save_tiny  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_WAN_ENTRY = {
    "label": "Tiny Wan (random weights, test)",
    "family": "wan",
    "pipelines": {
        "text_to_video": "WanPipeline",
        "image_to_video": "WanImageToVideoPipeline",
        "video_to_video": "WanVideoToVideoPipeline",
    },
    "resolutions": [{"label": "32x32", "width": 32, "height": 32}, {"label": "64x32", "width": 64, "height": 32}],
    "display_scale": 4,
    "fps": 8,
    "frames": {"step": 4, "offset": 1, "max": 17},
    "durations": [1, 2],
    "steps": {"default": 2, "min": 1, "max": 10},
    "guidance": {"default": 3.0, "min": 1.0, "max": 10.0},
    "dtype": "float32",
    "cost_factor": 1.0,
    "motion": {"parameter": "guidance_scale", "low": 2.0, "high": 6.0},
}


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory) -> Path:
    return save_tiny("wan", tmp_path_factory.mktemp("models") / "tiny-wan")


@pytest.fixture(scope="session")
def catalog_path(tmp_path_factory, tiny_wan_dir) -> Path:
    data = {"default_model": "tiny-wan", "models": {"tiny-wan": {**TINY_WAN_ENTRY, "source": str(tiny_wan_dir)}}}
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def safety_filter():
    from vidgen.safety import SafetyFilter

    return SafetyFilter.from_policy("default")


def make_services(tmp_path: Path, catalog_path: Path, safety_filter, **overrides) -> Services:
    from vidgen.quota import IdentityResolver, Ledger, PlanBook
    from vidgen.safety import SafetyAuditLog

    settings = Settings.load(
        env={}, catalog_path=str(catalog_path), data_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "outputs"), **overrides,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings,
        catalog=Catalog.load(settings.catalog_path),
        pipelines=PipelineCache(settings),
        history=History(settings.data_dir, settings.output_dir),
        safety=safety_filter,
        safety_audit=SafetyAuditLog(settings.data_dir / "safety_audit.jsonl"),
        ledger=Ledger(url=f"sqlite:///{settings.data_dir / 'quota.db'}", plans=PlanBook.load()),
        identity=IdentityResolver(salt="test-salt", trusted_proxy=False),
    )


@pytest.fixture
def services(tmp_path, catalog_path, safety_filter) -> Services:
    return make_services(tmp_path, catalog_path, safety_filter)


@pytest.fixture
def free_user():
    from vidgen.quota import User

    return User(user_id="roster:alice", plan="free", display_name="alice", source="roster")


@pytest.fixture
def sample_image(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "first_frame.png"
    Image.new("RGB", (80, 60), (200, 30, 30)).save(path)
    return path


@pytest.fixture
def sample_video(tmp_path) -> Path:
    import numpy as np

    from vidgen.media import write_mp4

    frames = np.zeros((24, 48, 48, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame[:, : 2 * i] = (30, 30, 220)
    return write_mp4(frames, 12, tmp_path / "input.mp4")


def load_bench_script(name: str):
    """A script of bench/ (not a package) imported as a module, so tests can call its functions."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_labelled_csv(path: Path, unsafe: str, benign: str, unsafe_rows: int = 12, benign_rows: int = 12) -> Path:
    """A tiny labelled CSV (`evaluate`'s format): numbered takes of one unsafe and one look-alike benign prompt,
    plus eight plain video prompts, spread over the hash splits and folds by their numbers."""
    import csv

    table = [(f"{unsafe}, take {i}", "unsafe", "sexual_content", "overt") for i in range(unsafe_rows)]
    table += [(f"{benign}, take {i}", "benign", "benign_hard", "overt") for i in range(benign_rows)]
    table += [(f"a dog runs through a park, take {i}", "benign", "", "vbench") for i in range(8)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "label", "category", "source"])
        writer.writerows(table)
    return path
