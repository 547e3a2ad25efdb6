"""Shared set-up for the creative-tool benchmarks: services on the bundled model (or, for a smoke run only, a
tiny random-weight Wan pipeline), with quota off so long runs are not cut by a daily budget."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import yaml  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TOY = "vidgen-toy"


def bench_services(model_id: str = TOY, allow_tiny: bool = False, threads: int = 1, camera: str | None = None,
                   source: str | None = None):
    """(services, model id) with torch on `threads` threads; quota disabled (ledger=None). `source` points the
    model's catalog entry at another folder (e.g. an export of the toy model other than assets/)."""
    torch.set_num_threads(threads)
    from vidgen.catalog import Catalog
    from vidgen.services import build_services
    from vidgen.settings import PROJECT_ROOT, Settings

    tmp = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    shipped = PROJECT_ROOT / "vidgen" / "catalog.yaml"
    raw = yaml.safe_load(shipped.read_text())  # every shipped model stays listed: the presets name them
    catalog = Catalog.load(shipped)
    if model_id in catalog.models and source:
        raw["models"][model_id]["source"] = str(Path(source).resolve())
    elif model_id in catalog.models and Path(catalog.get(model_id).resolved_source()).is_dir():
        raw["models"][model_id]["source"] = catalog.get(model_id).resolved_source()
    elif allow_tiny:
        from tests.conftest import TINY_WAN_ENTRY
        from vidgen.testing.tiny import save_tiny

        model_id = "tiny-wan"
        raw["models"][model_id] = {**TINY_WAN_ENTRY, "source": str(save_tiny("wan", tmp / "tiny-wan")),
                                   "camera": "warp"}
    else:
        raise SystemExit(f"{model_id} is not in assets/ yet; pass --allow-tiny for a smoke run on a tiny model.")
    if camera:
        raw["models"][model_id]["camera"] = camera
    catalog_path = tmp / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(raw))
    settings = Settings.load(catalog_path=str(catalog_path), data_dir=str(tmp / "data"),
                             output_dir=str(tmp / "outputs"), local_user="bench", default_model=model_id,
                             write_gif=False)
    services = build_services(settings)
    services.ledger = None  # benchmarks measure rendering, not the daily budget
    return services, model_id


def machine() -> str:
    load = os.getloadavg()[0]  # says whether other work shared the cores when the bench started
    return f"{platform.machine()}, {os.cpu_count()} cores, load {load:.2f} at start, Python {platform.python_version()}"


def add_common_arguments(parser) -> None:
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=TOY)
    parser.add_argument("--source", default=None, help="load the model from this folder instead")
    parser.add_argument("--allow-tiny", action="store_true", help="smoke run on a tiny random model")


def model_revision(services, model_id: str) -> str:
    from vidgen.jobs import _local_revision

    return services.catalog.get(model_id).revision or _local_revision(services.catalog.get(model_id))
