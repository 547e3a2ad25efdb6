"""vidgen: a Runway-style AI video playground built on diffusers and Gradio."""

__version__ = "0.1.0"
