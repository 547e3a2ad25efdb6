"""Command line: `python -m vidgen generate ...` and `python -m vidgen serve`.

The CLI runs the same orchestrator as the web app, so the same safety and quota rules apply; the local user
is a configured user (VIDGEN_LOCAL_USER, default 'local', on the admin plan unless the ledger says otherwise).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from vidgen.catalog import MODES, TEXT_TO_VIDEO
from vidgen.requests import InvalidRequest, request_from_dict
from vidgen.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidgen", description="Runway-style video playground.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="Render one clip.")
    source = gen.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="What the video shows.")
    source.add_argument("--recipe", type=Path, help="A recipe.json of an earlier result: make it again.")
    source.add_argument("--preset", help="A preset name (presets/NAME.yaml) or a path.")
    gen.add_argument("--mode", choices=MODES, default=None, help="Default: text_to_video.")
    gen.add_argument("--model", default=None, help="Catalog model id.")
    gen.add_argument("--image", default=None, help="First frame for image_to_video.")
    gen.add_argument("--video", default=None, help="Input clip for video_to_video.")
    gen.add_argument("--negative-prompt", default=None)
    gen.add_argument("--duration", type=float, default=None, help="Seconds of video.")
    gen.add_argument("--steps", type=int, default=None)
    gen.add_argument("--guidance", type=float, default=None)
    gen.add_argument("--strength", type=float, default=None, help="video_to_video: how far to restyle.")
    gen.add_argument("--seed", type=int, default=None, help="Default: random.")
    gen.add_argument("--out", type=Path, default=None, help="Copy the MP4 here too.")
    gen.add_argument("--user", default=None, help="Local user name (default: VIDGEN_LOCAL_USER or 'local').")
    serve = commands.add_parser("serve", help="Start the web app (same as python app.py).")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    commands.add_parser("settings", help="List every setting with its help text.")
    return parser


def request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """Merge recipe/preset with command-line overrides into the fields of a request."""
    fields: dict[str, Any] = {}
    if args.recipe:
        fields = dict(json.loads(args.recipe.read_text())["request"])
    elif args.preset:
        from vidgen.presets import load_preset

        fields = load_preset(args.preset).request_fields()
    overrides = {
        "mode": args.mode, "prompt": args.prompt, "model_id": args.model, "image_path": args.image,
        "video_path": args.video, "negative_prompt": args.negative_prompt, "duration_s": args.duration,
        "steps": args.steps, "guidance": args.guidance, "strength": args.strength, "seed": args.seed,
    }
    fields.update({key: value for key, value in overrides.items() if value is not None})
    fields.setdefault("mode", TEXT_TO_VIDEO)
    return fields


def generate(args: argparse.Namespace, settings: Settings) -> int:
    from vidgen.jobs import Done, Failed, Progress, run_job
    from vidgen.quota import ClientInfo
    from vidgen.services import build_services

    try:
        job = request_from_dict(request_fields(args))
    except (InvalidRequest, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    services = build_services(settings.with_overrides(local_user=args.user or settings.local_user or "local"))
    user = services.identity.resolve(ClientInfo())
    for event in run_job(services, job, user, previews=False):
        if isinstance(event, Progress):
            _draw_bar(event)
        elif isinstance(event, Done):
            result = event.result
            print(f"\nvideo: {result.video_path}\nrecipe: {result.recipe_path}\nseed: {result.seed}")
            print(f"charged: {result.seconds_charged:g} s; {result.balance.summary() if result.balance else ''}")
            if args.out:
                shutil.copyfile(result.video_path, args.out)
                print(f"copied to {args.out}")
            return 0
        elif isinstance(event, Failed):
            print(f"\n{event.kind}: {event.message}", file=sys.stderr)
            return 1
    return 1


def _draw_bar(event: Any, width: int = 30) -> None:
    filled = int(width * event.step / event.total) if event.total else 0
    eta = f" ETA {event.eta_s:4.1f}s" if event.eta_s else ""
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {event.message:<40}{eta}")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.load()
    if args.command == "settings":
        print(Settings.describe())
        return 0
    if args.command == "serve":
        from vidgen.ui.server import launch

        overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
        launch(settings.with_overrides(**overrides))
        return 0
    return generate(args, settings)
