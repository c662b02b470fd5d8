"""Notifiers for new handoffs (email, Microsoft Teams) and the outbox that delivers them.

Notifications never carry the caller's message or personal details: see
:mod:`firstpoint.notify.base`. Import the dispatcher from
:mod:`firstpoint.notify.outbox` (it needs the records models).
"""

from firstpoint.notify.base import (
    Notification,
    Notifier,
    NotifierError,
    compose_notification,
    secret_from_env,
)

__all__ = ["Notification", "Notifier", "NotifierError", "compose_notification",
           "secret_from_env"]
