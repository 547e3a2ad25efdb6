"""Turns a Gradio request into the core's plain data, and core events into Gradio outputs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from vidgen.jobs import Done, Failed, Preview, Progress, Services, run_job
from vidgen.quota import ClientInfo, User
from vidgen.requests import GenerationRequest

PREVIEW_INTERVAL_S = 0.25


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
    """Yield (preview, video, status, seed, files, quota) updates; raise gr.Error on refusal or failure.

    The error is raised inside the generation function itself, so API callers (gradio_client, raw HTTP)
    are refused with exactly the message the page shows.
    """
    progress(0, desc="Checking your request…")
    last_preview = 0.0
    for event in run_job(services, job, user):
        if isinstance(event, Progress):
            progress((event.step, event.total) if event.total else 0, desc=event.message)
        elif isinstance(event, Preview):
            # Every step of a real model (seconds each) reaches the page; a model that makes ten steps a second
            # would otherwise spend its time encoding PNGs for the browser rather than rendering.
            if time.monotonic() - last_preview >= PREVIEW_INTERVAL_S:
                last_preview = time.monotonic()
                yield event.image, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        elif isinstance(event, Done):
            result = event.result
            files = [str(p) for p in (result.video_path, result.gif_path, result.recipe_path) if p]
            status = (
                f"Done with **{result.model_label}** · seed `{result.seed}` · "
                f"{result.seconds_charged:g} s charged"
            )
            yield None, str(result.video_path), status, result.seed, files, quota_summary(services, user)
        elif isinstance(event, Failed):
            title = {"blocked": "Blocked", "quota": "Quota", "invalid": "Check your input"}.get(event.kind, "Error")
            yield gr.skip(), gr.skip(), f"**{title}.** {event.message}", gr.skip(), gr.skip(), gr.skip()
            raise gr.Error(event.message, title=title, print_exception=False)
