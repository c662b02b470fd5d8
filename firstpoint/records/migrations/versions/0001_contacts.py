"""Contact log: contacts, contact_topics and unrecognised_messages.

Revision ID: 0001_contacts
Revises: (none - the root of the contact-log branch; 0002_handoffs is another root)
Create Date: 2026-01-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_contacts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three contact-log tables and their indexes."""
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_uuid", sa.String(length=36), nullable=False),
        sa.Column("conversation_key", sa.String(length=64), nullable=False),
        sa.Column("session_no", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_month", sa.String(length=7), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("user_turns", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("safety_category", sa.String(length=30), nullable=True),
        sa.Column("handoff_team", sa.String(length=60), nullable=True),
        sa.Column("handoff_reference", sa.String(length=20), nullable=True),
        sa.Column("rating", sa.String(length=12), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("contact_uuid", name=op.f("uq_contacts_contact_uuid")),
    )
    for column in ("conversation_key", "channel", "audience", "started_at", "local_date",
                   "local_month", "outcome", "handoff_team"):
        op.create_index(op.f(f"ix_contacts_{column}"), "contacts", [column])

    op.create_table(
        "contact_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"],
            name=op.f("fk_contact_topics_contact_id_contacts"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_topics")),
    )
    op.create_index(op.f("ix_contact_topics_contact_id"), "contact_topics", ["contact_id"])
    op.create_index(op.f("ix_contact_topics_entry_id"), "contact_topics", ["entry_id"])

    op.create_table(
        "unrecognised_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text_redacted", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"],
            name=op.f("fk_unrecognised_messages_contact_id_contacts"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unrecognised_messages")),
    )
    op.create_index(op.f("ix_unrecognised_messages_contact_id"), "unrecognised_messages",
                    ["contact_id"])


def downgrade() -> None:
    """Drop the contact-log tables."""
    op.drop_table("unrecognised_messages")
    op.drop_table("contact_topics")
    op.drop_table("contacts")
