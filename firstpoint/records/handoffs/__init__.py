"""Handoffs to accountable officers: the encrypted record and its status history.

* :mod:`.models` — the ``handoffs`` and ``handoff_events`` tables, statuses, priorities;
* :mod:`.references` — ``FP-XXXXXX`` references;
* :mod:`.views` — receipts, summaries and decrypted views handed out, and the errors;
* :mod:`.service` — :class:`HandoffService` (create with its outbox rows in one
  transaction, read, change status, limits per conversation);
* :mod:`.factory` — :func:`service_from_settings`.

The notification outbox is :mod:`firstpoint.notify` (its table is
:class:`firstpoint.notify.models.OutboxMessage`, re-exported here).
"""

from firstpoint.database import as_utc, utcnow
from firstpoint.notify.models import OUTBOX_STATUSES, OutboxMessage
from firstpoint.records.handoffs.factory import service_from_settings
from firstpoint.records.handoffs.models import (
    PRIORITIES,
    STATUSES,
    SYSTEM_ACTOR,
    TRANSITIONS,
    Handoff,
    HandoffEvent,
)
from firstpoint.records.handoffs.references import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    REFERENCE_PREFIX,
    new_reference,
    normalise_reference,
)
from firstpoint.records.handoffs.service import HandoffService
from firstpoint.records.handoffs.views import (
    HandoffEventView,
    HandoffLimits,
    HandoffNotFound,
    HandoffRateLimited,
    HandoffReceipt,
    HandoffSummary,
    HandoffView,
    TransitionError,
)

__all__ = [
    "OUTBOX_STATUSES", "PRIORITIES", "REFERENCE_ALPHABET", "REFERENCE_LENGTH",
    "REFERENCE_PREFIX", "STATUSES", "SYSTEM_ACTOR", "TRANSITIONS", "Handoff",
    "HandoffEvent", "HandoffEventView", "HandoffLimits", "HandoffNotFound",
    "HandoffRateLimited", "HandoffReceipt", "HandoffService", "HandoffSummary",
    "HandoffView", "OutboxMessage", "TransitionError", "as_utc", "new_reference",
    "normalise_reference", "service_from_settings", "utcnow",
]
