"""``firstpoint handoff ...`` and ``firstpoint outbox ...``: work handoffs, send notifications.

``handoff show`` prints the caller's decrypted details: it is for the accountable
officer only. Every command applies the migrations first.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from firstpoint.notify.models import OUTBOX_STATUSES
from firstpoint.notify.outbox import OutboxDispatcher
from firstpoint.notify.smtp import SmtpNotifier
from firstpoint.notify.teams import TeamsWebhookNotifier
from firstpoint.records.handoffs import (
    STATUSES,
    HandoffNotFound,
    HandoffService,
    HandoffView,
    TransitionError,
    service_from_settings,
)
from firstpoint.settings import Settings, get_settings
from knowledge.directory import format_local


def _service(settings: Settings) -> HandoffService:
    return service_from_settings(settings, migrate=True)


def _dispatcher(service: HandoffService, settings: Settings) -> OutboxDispatcher:
    notifiers = {"email": SmtpNotifier.from_settings(settings), "teams": TeamsWebhookNotifier()}
    return OutboxDispatcher(service.session_factory, notifiers)


def _list(args: argparse.Namespace) -> int:
    service = _service(get_settings())
    rows = service.list(status=args.status, team=args.team)
    if not rows:
        print("no handoffs")
        return 0
    print(f"{'REFERENCE':<11} {'STATUS':<12} {'PRIORITY':<9} {'TEAM':<28} {'CATEGORY':<19} DUE")
    for row in rows:
        due = format_local(row.sla_due_at) + (" OVERDUE" if row.overdue else "")
        print(f"{row.reference:<11} {row.status:<12} {row.priority:<9} {row.team_id:<28} "
              f"{row.category:<19} {due}")
    return 0


def render(view: HandoffView, team_name: str) -> str:
    """The full handoff as text for the accountable officer (includes personal data)."""
    s = view.summary
    lines = [
        f"Handoff {s.reference}  (PERSONAL DATA - for the accountable officer only)",
        f"  Team:            {team_name} ({s.team_id})",
        f"  Category:        {s.category}",
        f"  Priority:        {s.priority}",
        f"  Status:          {s.status}" + ("  OVERDUE" if s.overdue else ""),
        f"  Created:         {format_local(s.created_at)}",
        f"  Respond by:      {format_local(s.sla_due_at)}",
        f"  Channel:         {s.channel} ({view.audience})",
        f"  Conversation:    {view.conversation_id}",
        f"  Anonymous:       {'yes' if view.anonymous else 'no'}",
        "  Consent to share: " + {True: "yes", False: "no", None: "not asked"}[
            view.consent_to_share],
        f"  Name:            {view.caller_name or '-'}",
        f"  Contact method:  {view.contact_method or '-'}",
        f"  Contact details: {view.contact_details or '-'}",
        f"  Best time:       {view.contact_time or '-'}",
        "  Message:",
        *(f"    {line}" for line in (view.message or "-").splitlines()),
        "  Transcript:",
        *(f"    [{t.get('time', '')}] {t['speaker']}: {t['text']}" for t in view.transcript),
        "  History:",
        *(f"    {format_local(e.at)}  {e.from_status or '-'} -> {e.to_status}  by {e.actor}"
          + (f"  ({e.note})" if e.note else "") for e in view.events),
    ]
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    service = _service(get_settings())
    try:
        view = service.get(args.reference)
    except HandoffNotFound as exc:
        print(f"error: {exc.args[0]}")
        return 1
    team = service.directory.teams.get(view.summary.team_id)
    print(render(view, team.name if team else view.summary.team_id))
    return 0


def _set_status(args: argparse.Namespace) -> int:
    service = _service(get_settings())
    try:
        summary = service.transition(args.reference, args.status, args.actor, args.note)
    except (HandoffNotFound, TransitionError) as exc:
        print(f"error: {exc.args[0]}")
        return 1
    print(f"{summary.reference} is now {summary.status}")
    return 0


def _outbox_dispatch(args: argparse.Namespace) -> int:
    settings = get_settings()
    dispatcher = _dispatcher(_service(settings), settings)
    counts = asyncio.run(dispatcher.dispatch_due(limit=args.limit))
    print(f"outbox: {counts.sent} sent, {counts.retried} to retry, {counts.failed} failed")
    return 0


def _outbox_run(args: argparse.Namespace) -> int:
    """Dispatch every ``--interval`` seconds until SIGINT/SIGTERM."""
    import signal

    settings = get_settings()
    dispatcher = _dispatcher(_service(settings), settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await dispatcher.run_forever(args.interval, stop)

    print(f"outbox worker: dispatching every {args.interval:g}s (Ctrl-C to stop)")
    asyncio.run(main())
    return 0


def _outbox_list(args: argparse.Namespace) -> int:
    settings = get_settings()
    dispatcher = _dispatcher(_service(settings), settings)
    rows = dispatcher.messages(status=args.status)
    if not rows:
        print("outbox is empty")
    for row in rows:
        when = (format_local(row.sent_at) if row.sent_at
                else f"next {format_local(row.next_attempt_at)}")
        print(f"#{row.id} {row.reference} {row.notifier} {row.target} {row.status} "
              f"attempts={row.attempts} {when}" + (f" error: {row.last_error}" if row.last_error
                                                   and row.status != "sent" else ""))
    return 0


def _outbox_retry(args: argparse.Namespace) -> int:
    settings = get_settings()
    dispatcher = _dispatcher(_service(settings), settings)
    count = dispatcher.requeue(args.ids)
    print(f"{count} failed message(s) queued again")
    return 0


def _add(parent: argparse._SubParsersAction, name: str, help_text: str,
         func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    parser = parent.add_parser(name, help=help_text)
    parser.set_defaults(func=func)
    return parser


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``handoff`` and ``outbox`` commands."""
    handoff = sub.add_parser("handoff", help="handoffs to accountable officers")
    hsub = handoff.add_subparsers(dest="handoff_command", metavar="ACTION", required=True)
    lst = _add(hsub, "list", "list handoffs (no personal data)", _list)
    lst.add_argument("--status", choices=STATUSES)
    lst.add_argument("--team", help="directory team id")
    show = _add(hsub, "show", "show one handoff, decrypted (for the officer)", _show)
    show.add_argument("reference")
    status = _add(hsub, "set-status", "move a handoff to a new status", _set_status)
    status.add_argument("reference")
    status.add_argument("status", choices=STATUSES)
    status.add_argument("--actor", required=True, help="who is making the change")
    status.add_argument("--note")

    outbox = sub.add_parser("outbox", help="notification outbox")
    osub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    dispatch = _add(osub, "dispatch", "send due notifications (one pass)", _outbox_dispatch)
    dispatch.add_argument("--limit", type=int, default=100)
    run = _add(osub, "run", "keep dispatching (background worker)", _outbox_run)
    run.add_argument("--interval", type=float, default=15.0, help="seconds between passes")
    olist = _add(osub, "list", "list outbox messages", _outbox_list)
    olist.add_argument("--status", choices=OUTBOX_STATUSES)
    retry = _add(osub, "retry", "queue failed messages again", _outbox_retry)
    retry.add_argument("ids", type=int, nargs="+")
