"""Start the web app: services from settings, the Blocks demo, and Gradio's server."""

from __future__ import annotations

from vidgen.services import build_services
from vidgen.settings import Settings
from vidgen.ui.demo import create_demo


def launch(settings: Settings, **launch_kwargs) -> None:
    services = build_services(settings)
    services.safety.warm_up()  # load the prompt classifier now, not on the first visitor's request
    demo = create_demo(services)
    roster = services.identity.roster
    demo.launch(
        server_name=settings.host or None,
        server_port=settings.port or None,
        auth=roster.verify if roster is not None else None,
        **launch_kwargs,
    )
