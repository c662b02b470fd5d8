"""``firstpoint run`` and ``firstpoint train``."""

from __future__ import annotations

import argparse
import time

from firstpoint.commands import supervise
from firstpoint.model import ensure_model
from firstpoint.records.migrate import upgrade
from firstpoint.runner import start_stack
from firstpoint.settings import get_settings


def _train(args: argparse.Namespace) -> int:
    path = ensure_model(force=args.force)
    print(f"model: {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    model = ensure_model(settings)
    upgrade(settings.database_url)
    print("firstpoint: starting the action server, the Rasa server and the API ...", flush=True)
    started = time.monotonic()
    stack = start_stack(settings, model=model, with_api=not args.no_api,
                        with_web=not args.no_web)
    print(
        f"FirstPoint is ready after {time.monotonic() - started:.0f}s.\n"
        + (f"  Web widget:   {stack.web_url}/  (a demo council page; embed with "
           f'<script src="{stack.widget_url}" defer></script>)\n' if not args.no_web else "")
        + f"  Talk to it:   POST {stack.webhook_url}\n"
        '                {"sender": "me", "message": "hello", '
        '"metadata": {"channel": "web", "audience": "resident"}}\n'
        + ("                (dev mode: the metadata claims are believed)\n" if settings.dev_mode
           else "                (channel and audience claims are ignored: FIRSTPOINT_DEV_MODE=1 "
           "trusts them)\n")
        + f"  Facebook:     {stack.channel_url('facebook')}"
        + ("" if settings.facebook_app_secret else "  (not configured)") + "\n"
        + f"  Teams (Bot Framework): {stack.channel_url('botframework')}"
        + ("" if settings.botframework_app_id else "  (not configured)") + "\n"
        f"  Actions:      {stack.action_url}/health\n"
        "  Outbox:       notifications retried every 5s (firstpoint outbox list)\n"
        + (f"  Reports API:  {stack.api_url}/api/reports/summary\n" if not args.no_api else "")
        + (f"  Console:      {stack.console_url}  (supervisors, officers, analysts; "
           "accounts: firstpoint users add NAME --role supervisor)\n" if not args.no_api else "")
        + f"  Logs:         {settings.var_dir / 'logs'}\n"
        "Press Ctrl+C to stop.",
        flush=True,
    )
    return supervise(stack, lambda dead: print(
        f"firstpoint: {dead} stopped unexpectedly; see {settings.var_dir / 'logs'}"))


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="train if needed and start every FirstPoint process")
    run.add_argument("--no-api", action="store_true", help="do not start the reports API")
    run.add_argument("--no-web", action="store_true", help="do not start the demo council page")
    run.set_defaults(func=_run)
    train = sub.add_parser("train", help="train the Rasa model if the training data changed")
    train.add_argument("--force", action="store_true", help="train even if a model exists")
    train.set_defaults(func=_train)
