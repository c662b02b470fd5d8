"""The supervisor console's tables (migration ``0004_console``).

* ``console_users`` — local accounts: role, team, argon2 password hash, lock-out.
* ``console_sessions`` — server-side sessions; the cookie carries a random token
  whose SHA-256 is the row id, so a leaked table cannot be replayed as cookies.
* ``console_audit`` — who viewed, decrypted, changed or exported what (no personal
  data in the row: references, actions and which fields changed, never values).
* ``console_assignments`` / ``console_notes`` — who works a handoff; officers' notes
  (encrypted with the records' :class:`~firstpoint.records.crypto.FieldCipher`).
* ``console_takeovers`` / ``console_takeover_messages`` — live takeovers of a Rasa
  conversation and who said what in them (text encrypted).
* ``console_review_marks`` — decisions on not-understood (redacted) messages.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)

from firstpoint.records.db import Base

ROLES = ("supervisor", "officer", "analyst")
REVIEW_DECISIONS = ("knowledge", "training", "ignore")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class ConsoleUser(Base):
    """A console account (local password, or single sign-on through the proxy)."""

    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint(f"role IN ({_in(ROLES)})", name="role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False)
    team_id = Column(String(64), nullable=True)
    password_hash = Column(Text, nullable=True)
    disabled = Column(Boolean, nullable=False, default=False)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime(timezone=True), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    password_changed_at = Column(DateTime(timezone=True), nullable=True)


class ConsoleSession(Base):
    """A signed-in browser: ``id`` is the SHA-256 (hex) of the cookie's token."""

    __tablename__ = "console_sessions"

    id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("console_users.id", ondelete="CASCADE"),
                     nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    via = Column(String(8), nullable=False)  # "password" | "sso"


class AuditEntry(Base):
    """One audited action; ``handoff_reference`` / ``conversation`` say on what."""

    __tablename__ = "console_audit"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    actor = Column(String(64), nullable=False)
    role = Column(String(16), nullable=True)
    action = Column(String(32), nullable=False)
    handoff_reference = Column(String(16), nullable=True, index=True)
    conversation = Column(String(255), nullable=True)
    detail = Column(Text, nullable=True)
    address = Column(String(64), nullable=True)


class HandoffAssignment(Base):
    """Who is working a handoff now (one row per handoff)."""

    __tablename__ = "console_assignments"

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"),
                        nullable=False, unique=True)
    assignee = Column(String(64), nullable=False)
    assigned_by = Column(String(64), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


class HandoffNote(Base):
    """An officer's note on a handoff (ciphertext)."""

    __tablename__ = "console_notes"

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"),
                        nullable=False, index=True)
    author = Column(String(64), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)
    note = Column(Text, nullable=False)


class Takeover(Base):
    """An officer talking to a caller in place of the bot (Rasa paused meanwhile)."""

    __tablename__ = "console_takeovers"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    handoff_reference = Column(String(16), nullable=True, index=True)
    team_id = Column(String(64), nullable=False)
    officer = Column(String(64), nullable=False)
    channel = Column(String(32), nullable=False)
    started_at = Column(DateTime(timezone=True), nullable=False)
    ended_at = Column(DateTime(timezone=True), nullable=True)
    end_reason = Column(String(32), nullable=True)
    last_watched_at = Column(DateTime(timezone=True), nullable=False)
    #: Rasa timestamp of the last tracker event already copied into the transcript.
    last_event_ts = Column(Float, nullable=False, default=0.0)


class TakeoverMessage(Base):
    """One line of a takeover: the caller, an officer (``author``) or the console."""

    __tablename__ = "console_takeover_messages"
    __table_args__ = (
        CheckConstraint("speaker IN ('caller', 'officer', 'system')", name="speaker"),
    )

    id = Column(Integer, primary_key=True)
    takeover_id = Column(Integer, ForeignKey("console_takeovers.id", ondelete="CASCADE"),
                         nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False)
    speaker = Column(String(8), nullable=False)
    author = Column(String(64), nullable=True)
    text = Column(Text, nullable=False)
    risk_level = Column(String(16), nullable=True)


class ReviewMark(Base):
    """A supervisor's decision on one not-understood (redacted) message text."""

    __tablename__ = "console_review_marks"
    __table_args__ = (
        CheckConstraint(f"decision IN ({_in(REVIEW_DECISIONS)})", name="decision"),
    )

    id = Column(Integer, primary_key=True)
    text_key = Column(String(64), nullable=False, unique=True)
    text_redacted = Column(Text, nullable=False)
    decision = Column(String(16), nullable=False)
    entry_id = Column(String(80), nullable=True)
    intent = Column(String(80), nullable=True)
    marked_by = Column(String(64), nullable=False)
    marked_at = Column(DateTime(timezone=True), nullable=False)
