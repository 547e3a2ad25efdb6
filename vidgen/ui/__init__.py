"""The Gradio layer: the only place that imports gradio. `create_demo(services)` builds the Blocks app."""

from vidgen.ui.demo import create_demo

__all__ = ["create_demo"]
