"""`create_demo(services)`: the Blocks app. The model, quota and safety live in `services`, not here."""

from __future__ import annotations

import os

import gradio as gr

from vidgen.jobs import Services
from vidgen.ui.admin import build_admin_tab
from vidgen.ui.creative import build_extend_tab, build_free_previews_tab
from vidgen.ui.history_tab import build_history_tab
from vidgen.ui.session import current_user, quota_summary
from vidgen.ui.tabs import build_image_to_video_tab, build_text_to_video_tab, build_video_to_video_tab

TITLE = "vidgen · video playground"


def model_banner(services: Services) -> str:
    """Says plainly which model runs by default, and for the built-in one what it can draw."""
    entry = services.catalog.get(None)
    if not entry.builtin:
        return f"Default model: **{entry.label}** (`{entry.source}`)."
    return (
        f"Running the **built-in demo model** ({entry.label}). {entry.description} "
        "Try prompts like *a red circle moves to the left on a white background*. "
        "To use a real model (Wan, LTX-Video, SVD) on a GPU, pick it in the Model menu or start the app with "
        "`VIDGEN_DEFAULT_MODEL=wan2.1-t2v-1.3b` (see the README)."
    )


def create_demo(services: Services) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        if os.environ.get("SPACE_ID") and os.environ.get("OAUTH_CLIENT_ID"):
            gr.LoginButton()
        gr.Markdown(model_banner(services), elem_id="model-banner")
        quota_meter = gr.Markdown(elem_id="quota-meter")
        with gr.Tabs() as tabs:
            mode_tabs = [
                build_text_to_video_tab(services, quota_meter),
                build_image_to_video_tab(services, quota_meter),
                build_video_to_video_tab(services, quota_meter),
            ]
            build_free_previews_tab(services, quota_meter)
            build_extend_tab(services, quota_meter)
            build_history_tab(services, tabs, mode_tabs)
            admin_tab = build_admin_tab(services)

        def on_load(request: gr.Request):
            user = current_user(services, request)
            return quota_summary(services, user), gr.update(visible=services.ledger.is_admin(user))

        demo.load(on_load, None, [quota_meter, admin_tab], api_visibility="private")
        for mode_tab in mode_tabs:
            mode_tab.wire_page_load(demo)
    demo.queue(max_size=services.settings.queue_max_size, default_concurrency_limit=services.settings.gpu_slots)
    return demo
