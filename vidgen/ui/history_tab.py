"""History: the signed-in user's own results, newest first; play, download, reuse settings, delete.

Every handler looks rows up by (current user, job id): a job id from someone else finds nothing, and files
reach the browser only as copies Gradio serves from its cache, never by their path in the output folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import gradio as gr

from vidgen.catalog import MODE_LABELS
from vidgen.history import HistoryEntry
from vidgen.jobs import Services
from vidgen.ui.session import current_user
from vidgen.ui.tabs import ModeTab, fill_fields

STATUS_ICONS = {"done": "✅", "failed": "⚠️", "blocked": "⛔", "cancelled": "✖️", "expired": "⌛"}


def _caption(entry: HistoryEntry) -> str:
    prompt = entry.prompt if len(entry.prompt) <= 48 else entry.prompt[:47] + "…"
    return f"{STATUS_ICONS.get(entry.status, '')} {MODE_LABELS.get(entry.mode, entry.mode)} · {prompt or '(no prompt)'}"


def _thumbnail(services: Services, entry: HistoryEntry) -> str:
    if entry.thumbnail_path and Path(entry.thumbnail_path).exists():
        return entry.thumbnail_path
    return str(_placeholder(services.settings.data_dir, entry.status))


def _placeholder(data_dir: Path, status: str) -> Path:
    """A plain tile for jobs without a video (failed, blocked, cancelled, expired)."""
    from PIL import Image, ImageDraw

    path = data_dir / "placeholders" / f"{status}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", (128, 128), (60, 60, 70))
        ImageDraw.Draw(image).text((12, 56), status.upper(), fill=(230, 230, 230))
        image.save(path)
    return path


def _details(entry: HistoryEntry) -> str:
    when = dt.datetime.fromtimestamp(entry.created_at, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"**{entry.status.title()}** · {MODE_LABELS.get(entry.mode, entry.mode)} · `{entry.model_id}` · {when}",
        f"Prompt: {entry.prompt or '(none)'}",
        f"Seed: `{entry.request.get('seed')}` · charged {entry.seconds_charged:g} s",
    ]
    if entry.message:
        lines.append(entry.message)
    return "\n\n".join(lines)


def history_rows(services: Services, user_id: str) -> tuple[list[tuple[str, str]], list[str]]:
    entries = services.history.list(user_id)
    return [(_thumbnail(services, e), _caption(e)) for e in entries], [e.job_id for e in entries]


def build_history_tab(services: Services, tabs: gr.Tabs, mode_tabs: list[ModeTab]) -> gr.Tab:
    with gr.Tab("History", id="history") as tab:
        gr.Markdown("Your results, newest first. Only you can see them.")
        refresh = gr.Button("Refresh", size="sm")
        gallery = gr.Gallery(label="Your videos", columns=6, height=260, allow_preview=False,
                             elem_classes=["history-gallery"])
        job_ids = gr.State([])
        selected = gr.Textbox(label="Job id", interactive=True, elem_classes=["history-job-id"])
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", interactive=False, elem_classes=["history-video"])
            with gr.Column():
                details = gr.Markdown(elem_classes=["history-details"])
                files = gr.File(label="Download (MP4, GIF, recipe)", file_count="multiple", interactive=False)
                with gr.Row():
                    reuse = gr.Button("Reuse settings", variant="primary", elem_classes=["history-reuse"])
                    delete = gr.Button("Delete", variant="stop")

    def refresh_gallery(request: gr.Request):
        rows, ids = history_rows(services, current_user(services, request).user_id)
        return rows, ids

    def pick(ids: list[str], evt: gr.SelectData):
        return ids[evt.index] if 0 <= evt.index < len(ids) else ""

    def history_item(job_id: str, request: gr.Request):
        entry = services.history.get(current_user(services, request).user_id, (job_id or "").strip())
        if entry is None:
            raise gr.Error("No such job in your history.", title="History", print_exception=False)
        playable = entry.status == "done" and Path(entry.video_path).exists()
        downloads = [p for p in (entry.video_path, entry.gif_path, entry.recipe_path) if p and Path(p).exists()]
        return (entry.video_path if playable else None), _details(entry), downloads

    def reuse_settings(job_id: str, request: gr.Request):
        entry = services.history.get(current_user(services, request).user_id, (job_id or "").strip())
        if entry is None:
            raise gr.Error("Pick one of your results first.", title="History", print_exception=False)
        updates: list[Any] = [gr.Tabs(selected=entry.mode)]
        for mode_tab in mode_tabs:
            if mode_tab.mode == entry.mode:
                updates.extend(fill_fields(services, mode_tab, _reusable(entry)))
            else:
                updates.extend(gr.skip() for _ in mode_tab.fields)
        return updates

    def delete_item(job_id: str, request: gr.Request):
        user_id = current_user(services, request).user_id
        if not services.history.delete(user_id, (job_id or "").strip()):
            raise gr.Error("No such job in your history.", title="History", print_exception=False)
        rows, ids = history_rows(services, user_id)
        return rows, ids, "", None, "Deleted.", None

    every_field = [widget for mode_tab in mode_tabs for widget in mode_tab.fields.values()]
    refresh.click(refresh_gallery, None, [gallery, job_ids], api_name="history")
    tab.select(refresh_gallery, None, [gallery, job_ids], api_visibility="private")
    selected.submit(history_item, selected, [video, details, files], api_name="history_item")
    gallery.select(pick, job_ids, selected, api_visibility="private").then(
        history_item, selected, [video, details, files], api_visibility="private")
    reuse.click(reuse_settings, selected, [tabs, *every_field], api_name="reuse_settings")
    delete.click(delete_item, selected, [gallery, job_ids, selected, video, details, files], api_name="history_delete")
    return tab


def _reusable(entry: HistoryEntry) -> dict[str, Any]:
    """The request as recorded (with the seed actually used), minus input files that no longer exist."""
    values = dict(entry.request)
    for key in ("image_path", "last_image_path", "video_path"):
        if values.get(key) and not Path(values[key]).exists():
            values[key] = None
    return values
