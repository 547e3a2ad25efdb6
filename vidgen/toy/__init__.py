"""vidgen's built-in demo model: a synthetic world, a small Wan pipeline trained on it, and a judge."""

from pathlib import Path

TOY_MODEL_DIR = Path(__file__).resolve().parents[2] / "assets" / "vidgen-toy"
