"""Notifier interface and the notification a team receives about a new handoff.

Privacy rule: a notification carries the handoff reference, category, priority,
team, when a response is due and where to read the handoff - never the caller's
message or personal details. Email and Teams are not the place for them; the
officer reads them with ``firstpoint handoff show REF`` (the supervisor console
later), which decrypts them from the records.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from firstpoint.settings import secret_from_env

#: Outbox targets of the form ``env:NAME`` are resolved from the environment at send time.
ENV_TARGET_PREFIX = "env:"


class NotifierError(Exception):
    """Sending a notification failed; the outbox will retry it.

    Messages must not contain secrets (webhook URLs, passwords): they are stored
    in the outbox's ``last_error`` column.
    """


@dataclass(frozen=True)
class Notification:
    """A notification about one handoff, addressed to one ``target``.

    ``target`` is an email address for the email notifier and a webhook URL for
    the Teams notifier. ``due`` is an ISO 8601 UTC timestamp; ``due_text`` the
    same time as UK local time for people.
    """

    subject: str
    text: str
    reference: str
    category: str
    team: str
    priority: str
    due: str
    due_text: str
    target: str = ""

    def to_payload(self) -> dict[str, Any]:
        """The JSON-safe dict stored in the outbox (without the target)."""
        data = asdict(self)
        data.pop("target")
        return data

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], target: str) -> Notification:
        """Rebuild a notification from an outbox payload, addressed to ``target``."""
        fields = {k: str(payload[k]) for k in
                  ("subject", "text", "reference", "category", "team", "priority", "due",
                   "due_text")}
        return cls(target=target, **fields)


class Notifier(abc.ABC):
    """Sends a :class:`Notification`; raises :class:`NotifierError` on any failure."""

    #: The outbox ``notifier`` column value this notifier handles (e.g. "email").
    name: str = ""

    @abc.abstractmethod
    async def send(self, message: Notification) -> None:
        """Deliver ``message`` to ``message.target`` or raise :class:`NotifierError`."""


def compose_notification(
    *,
    reference: str,
    category: str,
    priority: str,
    team_name: str,
    due_at: datetime,
    due_text: str,
) -> Notification:
    """The notification for a new handoff (no personal data, by construction).

    Only the arguments here go into it, and none of them is the caller's: keep it so.
    """
    label = category.replace("_", " ")
    subject = f"[FirstPoint {priority.upper()}] New handoff {reference} for {team_name}"
    text = (
        f"A new {label} handoff for {team_name} is waiting.\n"
        f"Reference: {reference}\n"
        f"Priority: {priority}\n"
        f"Respond by: {due_text} (UK time)\n"
        f"Read it with: firstpoint handoff show {reference}\n"
        "The caller's message and contact details are kept in FirstPoint's encrypted "
        "records and are not included in this notification."
    )
    return Notification(
        subject=subject,
        text=text,
        reference=reference,
        category=category,
        team=team_name,
        priority=priority,
        due=due_at.isoformat(),
        due_text=due_text,
    )


def resolve_target(target: str, environ: Mapping[str, str] | None = None) -> str:
    """An outbox target made concrete: ``env:NAME`` becomes that variable's value.

    Raises :class:`NotifierError` (naming the variable, never its value) when unset.
    """
    if not target.startswith(ENV_TARGET_PREFIX):
        return target
    name = target[len(ENV_TARGET_PREFIX):]
    value = secret_from_env(name, environ)
    if value is None:
        raise NotifierError(f"environment variable {name} is not set")
    return value
