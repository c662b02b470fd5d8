"""The contact log: one row per Rasa session, built from redacted event facts.

* :mod:`.facts` — :class:`Fact`, what the recorder consumes, and ``conversation_key``;
* :mod:`.models` — the ``contacts``, ``contact_topics`` and ``unrecognised_messages``
  tables and the listeners keeping their copied columns in step;
* :mod:`.keys` — the HMAC keys for conversation keys (data key or key file);
* :mod:`.dedup` — the exactly-once ledger of applied RabbitMQ deliveries;
* :mod:`.recorder` — :class:`ContactRecorder` and :func:`recorder_for_url`.

Retention and subject access are :mod:`firstpoint.records.retention` and
:mod:`firstpoint.records.subject_access`.
"""

from firstpoint.records.contacts.facts import Fact, conversation_key
from firstpoint.records.contacts.keys import (
    KEY_FILE_NAME,
    contact_key_from_settings,
    contact_keys_from_settings,
)
from firstpoint.records.contacts.models import (
    OUTCOMES,
    SCOPE_COLUMNS,
    UTC,
    Contact,
    ContactTopic,
    UnrecognisedMessage,
    local_fields,
)
from firstpoint.records.contacts.recorder import (
    ContactRecorder,
    outcome_rank,
    recorder_for_url,
    utc_now,
)

__all__ = [
    "KEY_FILE_NAME", "OUTCOMES", "SCOPE_COLUMNS", "UTC", "Contact",
    "ContactRecorder", "ContactTopic", "Fact", "UnrecognisedMessage",
    "contact_key_from_settings", "contact_keys_from_settings", "conversation_key",
    "local_fields", "outcome_rank", "recorder_for_url", "utc_now",
]
