"""Turns a Gradio request into the core's plain data, and core events into Gradio outputs."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gradio as gr
from PIL import Image

from vidgen.jobs import Done, Event, Failed, JobResult, Preview, Progress, Services, run_job
from vidgen.quota import ClientInfo, User
from vidgen.requests import GenerationRequest


def client_info(request: gr.Request | None, profile: gr.OAuthProfile | None = None) -> ClientInfo:
    if request is None:
        return ClientInfo()
    headers = dict(request.headers) if request.headers is not None else {}
    host = request.client.host if request.client is not None else None
    oauth_name = getattr(profile, "username", None) if profile is not None else None
    return ClientInfo(auth_username=request.username, oauth_username=oauth_name, host=host, headers=headers)


def current_user(services: Services, request: gr.Request | None, profile: gr.OAuthProfile | None = None) -> User:
    return services.identity.resolve(client_info(request, profile))


def quota_summary(services: Services, user: User) -> str:
    balance = services.ledger.balance(user)
    return f"**{user.display_name}** · {balance.summary()}"


def stream_job(
    services: Services, job: GenerationRequest, user: User, progress: gr.Progress
) -> Iterator[tuple[Any, ...]]:
    """Yield (preview, video, status, seed, files, quota) updates for one job; see `stream_events`."""
    yield from stream_events(services, run_job(services, job, user), user, progress)


# Every denoising step makes a preview, but the page gets at most about four a second: each streamed update
# costs the render shared interpreter time (app/bare 1.54 -> 1.27 on the bundled model when throttled).
PREVIEW_INTERVAL_S = 0.25
PREVIEW_HEIGHT_PX = 256


def preview_html(preview: Preview) -> str:
    """A live preview as an inline PNG at latent size (a few hundred bytes), enlarged pixel-sharp by the
    browser rather than by the server."""
    buffer = io.BytesIO()
    Image.fromarray(preview.image).save(buffer, format="PNG", compress_level=1)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="live-preview-image" alt="Live preview, step {preview.step}" '
            f'src="data:image/png;base64,{data}" style="height:{PREVIEW_HEIGHT_PX}px;image-rendering:pixelated">')


def done_status(result: JobResult) -> str:
    return f"Done with **{result.model_label}** · seed `{result.seed}` · {result.seconds_charged:g} s charged"


def stream_events(
    services: Services,
    events: Iterable[Event],
    user: User,
    progress: gr.Progress,
    status_of: Callable[[JobResult], str] = done_status,
) -> Iterator[tuple[Any, ...]]:
    """Turn core events into (preview, video, status, seed, files, quota) updates; raise gr.Error on refusal
    or failure.

    The error is raised inside the generation function itself, so API callers (gradio_client, raw HTTP)
    are refused with exactly the message the page shows.
    """
    progress(0, desc="Checking your request…")
    last_preview, step_message, quota = -PREVIEW_INTERVAL_S, "", None
    for event in events:
        if isinstance(event, Progress):
            step_message = event.message
            progress((event.step, event.total) if event.total else 0, desc=event.message)
        elif isinstance(event, Preview):
            now = time.monotonic()
            if now - last_preview >= PREVIEW_INTERVAL_S:
                last_preview = now
                quota = quota or quota_summary(services, user)  # the meter shows this job's seconds as held
                # Plain values, not gr.skip(): Gradio rebuilds a component for every skip, which cost more than
                # the preview itself. The previous clip's video, seed and files clear while this one renders.
                yield preview_html(event), None, f"Rendering… {step_message}", None, None, quota
        elif isinstance(event, Done):
            result = event.result
            # The MP4 is already the video output (with its own download button); listing it again would make
            # every API client fetch it twice more.
            files = [str(p) for p in (result.gif_path, result.recipe_path) if p]
            yield "", str(result.video_path), status_of(result), result.seed, files, quota_summary(services, user)
        elif isinstance(event, Failed):
            title = {"blocked": "Blocked", "quota": "Quota", "invalid": "Check your input"}.get(event.kind, "Error")
            yield gr.skip(), gr.skip(), f"**{title}.** {event.message}", gr.skip(), gr.skip(), gr.skip()
            raise gr.Error(event.message, title=title, print_exception=False)
