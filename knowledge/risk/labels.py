"""The risk model's classes and the response levels they lead to (the one place they are named).

Labels are defined for corpus authors in ``docs/risk-labels.md``. The six
disclosure labels are the safety categories of ``knowledge.safety``.
"""

from __future__ import annotations

from knowledge.safety import CATEGORIES, EMERGENCY_CATEGORIES
from knowledge.vocabulary import VIEWER_AUDIENCES

#: Disclosure labels: each one reaches an accountable officer.
DISCLOSURE_LABELS: tuple[str, ...] = CATEGORIES
#: Disclosure labels that get 999 / out-of-hours details first.
EMERGENCY_LABELS: frozenset[str] = EMERGENCY_CATEGORIES
#: Staff admin that mentions a case but raises no new worry.
CASE_ADMIN = "case_admin"
#: Everything else.
ORDINARY = "ordinary"
#: Every label, in the order the model's outputs use.
RISK_LABELS: tuple[str, ...] = (*DISCLOSURE_LABELS, CASE_ADMIN, ORDINARY)

#: Who is typing (message metadata ``audience``): the vocabulary's viewers.
CORPUS_AUDIENCES: tuple[str, ...] = VIEWER_AUDIENCES


class Level:
    """How the assistant responds, from most to least urgent."""

    EMERGENCY = "emergency"  # 999 and the duty team first, then take a message
    HANDOFF = "handoff"  # a disclosure or casework: the accountable-officer handoff
    CHECK = "check"  # not sure: a one-line safety check with buttons
    CASE_ADMIN = "case_admin"  # staff admin about a case: answer, plus the route line
    NONE = "none"  # an ordinary message

    ALL: tuple[str, ...] = (EMERGENCY, HANDOFF, CHECK, CASE_ADMIN, NONE)
