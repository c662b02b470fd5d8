"""The words FirstPoint's parts share: audiences, channels, categories, slot and action names.

One definition each, imported by the content loaders (``knowledge``), the
channels (``connectors``), the actions (``bot.actions``) and the contact log
(``firstpoint.events.facts``). Nothing here imports ``firstpoint``, reads a
file or the environment, so every package may depend on it.

The slot, action and intent names the contact log and the reports read by
string are checked against ``domain.yml`` by ``tests/test_vocabulary.py``:
renaming one in the domain without renaming it here fails that test.
"""

from __future__ import annotations

import re
from pathlib import Path

# --------------------------------------------------------------------------- audiences

#: Who an entry, task, exemption or caveat of the content is written for. Staff
#: may see everything; residents see ``resident`` and ``both`` parts only.
CONTENT_AUDIENCES = ("staff", "resident", "both")
#: Audiences a conversation can have (message metadata ``audience``).
STAFF = "staff"
RESIDENT = "resident"
VIEWER_AUDIENCES = (STAFF, RESIDENT)
#: The safer default: staff-only content stays hidden.
DEFAULT_AUDIENCE = RESIDENT

# --------------------------------------------------------------------------- channels

#: A channel name as channels put it in the metadata and the contact log reports it.
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")
#: Where a conversation whose channel said nothing is counted.
DEFAULT_CHANNEL = "rest"
#: Rasa input channel names mapped to the channel names the contact log reports.
INPUT_CHANNELS = {
    "socketio": "web",
    "botframework": "teams",
    "facebook": "facebook",
    "rest": "rest",
    "callback": "rest",
    "cmdline": "rest",
}

# --------------------------------------------------------------------------- languages

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"

# --------------------------------------------------------------------------- safety and handoffs

#: Categories the safety detector raises, in priority order (the first found is the
#: primary one); also the values of the ``safety_category`` slot.
SAFETY_CATEGORIES = (
    "danger",
    "self_harm",
    "child_safeguarding",
    "adult_safeguarding",
    "domestic_abuse",
    "casework",
)
#: Categories that get 999 / out-of-hours details before anything else.
EMERGENCY_CATEGORIES = frozenset({"danger", "self_harm"})
#: Casework split by who it is about (``refine_category``).
CASEWORK_CHILDREN = "casework_children"
CASEWORK_ADULTS = "casework_adults"
#: A flagged message the detector could not place; routed to the fallback team.
UNCLASSIFIED = "unclassified"
#: Every category a handoff can have: the safety categories plus the casework splits.
HANDOFF_CATEGORIES = (
    *SAFETY_CATEGORIES[:-1],
    CASEWORK_CHILDREN,
    CASEWORK_ADULTS,
    "casework",
    UNCLASSIFIED,
)
#: Handoff priorities, most urgent first.
PRIORITIES = ("emergency", "urgent", "normal")
#: What a form slot holds when the caller declined to give it.
DECLINED = "declined"

# --------------------------------------------------------------------------- time

#: Days of the week, Monday first, as content files name them.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: One opening-hours range as content files write it: ``"08:30-17:00"``.
HOURS_RANGE_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

# --------------------------------------------------------------------------- domain names

#: Slots the contact log records (``firstpoint.events.facts``) and the reports read.
SLOT_KB_TOPIC = "kb_topic"
SLOT_KB_OUTCOME = "kb_outcome"
SLOT_SAFETY_CATEGORY = "safety_category"
SLOT_HANDOFF_TEAM = "handoff_team"
SLOT_HANDOFF_REFERENCE = "handoff_reference"
SLOT_FEEDBACK_RATING = "feedback_rating"
SLOT_FEEDBACK_COMMENT = "feedback_comment"
SLOT_LANGUAGE = "language"
#: Rasa's own slot holding the session's channel metadata.
SLOT_SESSION_METADATA = "session_started_metadata"
#: Values of the categorical slots the contact log checks.
KB_OUTCOMES = ("answered", "declined", "clarify", "none")
FEEDBACK_RATINGS = ("helpful", "not_helpful")

#: Actions and forms whose running the contact log records.
ACTION_EMERGENCY = "action_emergency_advice"
ACTION_NOT_UNDERSTOOD = "action_not_understood"
FORM_HANDOFF = "handoff_form"
#: Actions that hand a turn to one another (``bot.actions``).
ACTION_ANSWER_SERVICE = "action_answer_service"
ACTION_CONTACT_COUNCIL = "action_contact_council"
#: Rasa's own action that ends the bot's turn.
ACTION_LISTEN = "action_listen"
#: Rasa's intent for a message the classifier was not confident about.
INTENT_NLU_FALLBACK = "nlu_fallback"

# --------------------------------------------------------------------------- file names

#: The repository root when running from a checkout (``knowledge/`` lives in it).
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def display_path(path: Path, root: Path | None = None) -> str:
    """``path`` relative to ``root`` (default: the source root), else to the working
    directory, when inside it; otherwise as given. Used in every content error."""
    resolved = Path(path).resolve()
    for base in (root or SOURCE_ROOT, Path.cwd()):
        try:
            return str(resolved.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)
