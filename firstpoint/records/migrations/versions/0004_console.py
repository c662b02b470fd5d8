"""Supervisor console: accounts, sessions, audit, assignments, notes, takeovers, review marks.

Revision ID: 0004_console
Revises: 0002_handoffs, 0003_report_indexes (joins the handoff and contact-log branches,
so ``alembic upgrade head`` meets one head)
Create Date: 2026-12-01

The tables are declared in :mod:`firstpoint.console.models`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_console"
down_revision = ("0002_handoffs", "0003_report_indexes")
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the console's tables."""
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("password_changed_at", TZ, nullable=True),
        sa.CheckConstraint("role IN ('supervisor', 'officer', 'analyst')",
                           name=op.f("ck_console_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE",
                                name=op.f("fk_console_sessions_user_id_console_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("handoff_reference", sa.String(length=16), nullable=True),
        sa.Column("conversation", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index(op.f("ix_console_audit_at"), "console_audit", ["at"])
    op.create_index(op.f("ix_console_audit_handoff_reference"), "console_audit",
                    ["handoff_reference"])
    op.create_table(
        "console_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], ondelete="CASCADE",
                                name=op.f("fk_console_assignments_handoff_id_handoffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_assignments")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_console_assignments_handoff_id")),
    )
    op.create_table(
        "console_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], ondelete="CASCADE",
                                name=op.f("fk_console_notes_handoff_id_handoffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_notes")),
    )
    op.create_index(op.f("ix_console_notes_handoff_id"), "console_notes", ["handoff_id"])
    op.create_table(
        "console_takeovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("handoff_reference", sa.String(length=16), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("last_watched_at", TZ, nullable=False),
        sa.Column("last_event_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_takeovers")),
    )
    op.create_index(op.f("ix_console_takeovers_conversation_id"), "console_takeovers",
                    ["conversation_id"])
    op.create_index(op.f("ix_console_takeovers_handoff_reference"), "console_takeovers",
                    ["handoff_reference"])
    op.create_table(
        "console_takeover_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("takeover_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("speaker", sa.String(length=8), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=True),
        sa.CheckConstraint("speaker IN ('caller', 'officer', 'system')",
                           name=op.f("ck_console_takeover_messages_speaker")),
        sa.ForeignKeyConstraint(
            ["takeover_id"], ["console_takeovers.id"], ondelete="CASCADE",
            name=op.f("fk_console_takeover_messages_takeover_id_console_takeovers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_takeover_messages")),
    )
    op.create_index(op.f("ix_console_takeover_messages_takeover_id"),
                    "console_takeover_messages", ["takeover_id"])
    op.create_table(
        "console_review_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_key", sa.String(length=64), nullable=False),
        sa.Column("text_redacted", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=True),
        sa.Column("intent", sa.String(length=80), nullable=True),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", TZ, nullable=False),
        sa.CheckConstraint("decision IN ('knowledge', 'training', 'ignore')",
                           name=op.f("ck_console_review_marks_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_review_marks")),
        sa.UniqueConstraint("text_key", name=op.f("uq_console_review_marks_text_key")),
    )


def downgrade() -> None:
    """Drop the console's tables."""
    for table in ("console_review_marks", "console_takeover_messages", "console_takeovers",
                  "console_notes", "console_assignments", "console_audit",
                  "console_sessions", "console_users"):
        op.drop_table(table)
