"""``firstpoint production``: the whole production stack on this machine, one command.

nginx in front of N Rasa replicas and N action servers, the PostgreSQL tracker
store and records, Rasa's Redis lock store, the RabbitMQ event broker feeding the
contact-log consumer, the outbox worker, scheduled retention and the reports API
(see :mod:`firstpoint.production`). PostgreSQL, Redis and RabbitMQ must be running
(standard local ports unless FIRSTPOINT_POSTGRES_URL / _REDIS_URL / _RABBITMQ_URL say
otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time

from firstpoint.commands import supervise
from firstpoint.production import Plan, ProductionConfigError, start_production
from firstpoint.settings import get_settings


def _production(args: argparse.Namespace) -> int:
    settings = get_settings()
    plan = Plan.from_settings(settings, replicas=args.replicas or settings.replicas)
    print(f"firstpoint production: {plan.replicas} Rasa replicas + {plan.replicas} action "
          f"servers behind nginx; PostgreSQL {plan.records_db} / {plan.tracker_db}, Redis lock "
          f"store, RabbitMQ queue {plan.queue} ...", flush=True)
    started = time.monotonic()
    try:
        stack = start_production(plan)
    except ProductionConfigError as exc:
        print(f"firstpoint production: {exc}", file=sys.stderr)
        return 2
    print(
        f"FirstPoint (production stack) is ready after {time.monotonic() - started:.0f}s.\n"
        f"  Talk to it:   POST {stack.rasa_url}/webhooks/rest/webhook  (nginx)\n"
        f"  Web widget:   {stack.rasa_url}/webhooks/socketio/widget.js\n"
        f"  Replicas:     {', '.join(str(p) for p in plan.replica_ports)} (loopback; Rasa API "
        f"token in {settings.var_dir / 'secrets' / 'rasa-api.token'})\n"
        f"  Actions:      nginx {plan.action_port} -> "
        f"{', '.join(str(p) for p in plan.action_ports)} (bearer token)\n"
        f"  Reports API:  {stack.rasa_url}/api/reports/summary (bearer token in "
        f"{settings.var_dir / 'secrets' / 'api.token'})\n"
        f"  Logs:         {settings.var_dir / 'logs'}\n"
        "Press Ctrl+C to stop.",
        flush=True,
    )
    return supervise(stack, lambda dead: print(
        f"firstpoint production: {dead} stopped unexpectedly; see "
        f"{settings.var_dir / 'logs' / (dead + '.log')}", file=sys.stderr))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``firstpoint production``."""
    parser = sub.add_parser("production",
                            help="start the production stack locally (nginx, replicas, "
                                 "PostgreSQL, Redis, RabbitMQ)")
    parser.add_argument("--replicas", type=int, help="Rasa replicas and action servers "
                                                     "(default FIRSTPOINT_REPLICAS or 2)")
    parser.set_defaults(func=_production)
