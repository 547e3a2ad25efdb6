"""vidgen: build the playground from settings (VIDGEN_* environment variables) and launch it."""

from vidgen.settings import Settings
from vidgen.ui.server import launch

if __name__ == "__main__":
    launch(Settings.load())
