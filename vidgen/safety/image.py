"""Image layer: uploaded images and sampled output frames go through a pluggable image classifier.

The only offline classifier found whose weights ship inside a PyPI wheel is NudeNet 3.4 (YOLOv8n ONNX,
12 MB, in `nudenet`). Its wheel metadata says MIT but the LICENSE file in the same wheel is AGPL-3.0 (and
the model derives from Ultralytics YOLOv8, itself AGPL-3.0), so vidgen (Apache-2.0) does not depend on it:
a deployment opts in with `pip install nudenet` and gets it through backend "auto" or "nudenet". Any other
detector can be plugged in by implementing `ImageClassifier` and passing it to `SafetyFilter`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

# NudeNet detector classes that count as sexual content (covered parts and faces do not).
NUDENET_EXPLICIT = frozenset({
    "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED",
    "BUTTOCKS_EXPOSED",
})


@dataclass(frozen=True)
class ImageVerdict:
    """Per-category scores in [0, 1] and the detector labels behind them."""

    scores: dict[str, float]
    labels: tuple[str, ...] = ()


class ImageClassifier(Protocol):
    name: str

    def classify(self, image: Image.Image) -> ImageVerdict: ...


class NudeNetClassifier:
    """Adapter for `nudenet.NudeDetector` (optional dependency, see module docstring for the licence)."""

    name = "nudenet"

    def __init__(self) -> None:
        from nudenet import NudeDetector

        self._detector = NudeDetector()

    def classify(self, image: Image.Image) -> ImageVerdict:
        rgb = np.asarray(image.convert("RGB"))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # NudeDetector takes OpenCV-style BGR arrays
        detections = self._detector.detect(bgr)
        explicit = [d for d in detections if d.get("class") in NUDENET_EXPLICIT]
        score = max((float(d["score"]) for d in explicit), default=0.0)
        labels = tuple(sorted({d["class"] for d in explicit}))
        return ImageVerdict(scores={"sexual": score}, labels=labels)


def nudenet_available() -> bool:
    return importlib.util.find_spec("nudenet") is not None and importlib.util.find_spec("onnxruntime") is not None


def make_image_classifier(backend: str) -> ImageClassifier | None:
    """'auto' picks NudeNet when it is installed; 'none' disables the layer."""
    if backend == "none":
        return None
    if backend == "nudenet" or (backend == "auto" and nudenet_available()):
        return NudeNetClassifier()
    if backend == "auto":
        return None
    raise ValueError(f"unknown image backend {backend!r} (expected auto, nudenet or none)")


def as_pil(image) -> Image.Image:
    """Accept a PIL image, an HxWx3 uint8 array or a path."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    return Image.open(image)
