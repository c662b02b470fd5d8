"""Report indexes and denormalised scope columns on the contact log's child tables.

Revision ID: 0003_report_indexes
Revises: 0001_contacts
Create Date: 2026-11-25

Measured in benchmarks/README.md (a million contacts): the channel-shift reports
(firstpoint.reports.queries) filter topics and not-understood messages by their
contact's council-local date, channel and audience. Copying those three columns
onto ``contact_topics`` and ``unrecognised_messages`` removes the join; existing
rows are backfilled from ``contacts`` (unrecognised_messages' channel/audience are
re-copied too, so every copy equals its contact's).

- contacts: covering ``ix_contacts_report`` for the figures statement and
  ``ix_contacts_hours`` for the weekday x hour grid (``ix_contacts_local_date`` is a
  prefix of both and is dropped);
- contact_topics: ``local_date``, ``channel``, ``audience``; ``UNIQUE (contact_id,
  entry_id)`` (top topics counts rows as contacts; duplicate rows, which the recorder
  never writes, are removed first); ``ix_contact_topics_report``
  ``(entry_id, local_date, channel, audience, contact_id)``. The old single-column
  indexes on contact_id and entry_id are prefixes of those and are dropped;
- unrecognised_messages: ``local_date``; ``ix_unrecognised_messages_report``
  ``(local_date, channel, audience)``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_report_indexes"
down_revision = "0002_handoffs"
branch_labels = None
depends_on = None

REPORT_COLUMNS = ("local_date", "local_weekday", "local_month", "channel", "audience",
                  "outcome", "rating", "handoff_team", "local_hour", "id")


def _backfill(table: str, columns: tuple[str, ...]) -> None:
    """Copy ``columns`` from each row's contact (one statement, either dialect)."""
    if op.get_bind().dialect.name == "postgresql":
        assignments = ", ".join(f"{c} = contacts.{c}" for c in columns)
        op.execute(f"UPDATE {table} SET {assignments} FROM contacts "
                   f"WHERE contacts.id = {table}.contact_id")
    else:  # SQLite (row values: 3.15+)
        names = ", ".join(columns)
        op.execute(f"UPDATE {table} SET ({names}) = (SELECT {names} FROM contacts "
                   f"WHERE contacts.id = {table}.contact_id)")


def upgrade() -> None:
    """Add the scope columns (backfilled), the unique constraint and the report indexes."""
    op.add_column("contact_topics", sa.Column("local_date", sa.Date(), nullable=True))
    op.add_column("contact_topics", sa.Column("channel", sa.String(length=20), nullable=True))
    op.add_column("contact_topics", sa.Column("audience", sa.String(length=10), nullable=True))
    op.add_column("unrecognised_messages", sa.Column("local_date", sa.Date(), nullable=True))
    _backfill("contact_topics", ("local_date", "channel", "audience"))
    _backfill("unrecognised_messages", ("local_date", "channel", "audience"))
    op.execute("DELETE FROM contact_topics WHERE id NOT IN "
               "(SELECT min(id) FROM contact_topics GROUP BY contact_id, entry_id)")

    op.drop_index(op.f("ix_contact_topics_contact_id"), table_name="contact_topics")
    op.drop_index(op.f("ix_contact_topics_entry_id"), table_name="contact_topics")
    with op.batch_alter_table("contact_topics") as batch:  # SQLite: table rebuilt
        batch.alter_column("local_date", existing_type=sa.Date(), nullable=False)
        batch.alter_column("channel", existing_type=sa.String(length=20), nullable=False)
        batch.alter_column("audience", existing_type=sa.String(length=10), nullable=False)
        batch.create_unique_constraint(
            op.f("uq_contact_topics_contact_id_entry_id"), ["contact_id", "entry_id"])
    op.create_index(op.f("ix_contact_topics_report"), "contact_topics",
                    ["entry_id", "local_date", "channel", "audience", "contact_id"])

    with op.batch_alter_table("unrecognised_messages") as batch:
        batch.alter_column("local_date", existing_type=sa.Date(), nullable=False)
    op.create_index(op.f("ix_unrecognised_messages_report"), "unrecognised_messages",
                    ["local_date", "channel", "audience"])

    op.drop_index(op.f("ix_contacts_local_date"), table_name="contacts")
    op.create_index(op.f("ix_contacts_report"), "contacts", list(REPORT_COLUMNS))
    op.create_index(op.f("ix_contacts_hours"), "contacts",
                    ["local_date", "local_weekday", "local_hour"])


def downgrade() -> None:
    """Back to 0001_contacts: drop the columns, constraint and indexes; restore the old ones."""
    op.drop_index(op.f("ix_contacts_hours"), table_name="contacts")
    op.drop_index(op.f("ix_contacts_report"), table_name="contacts")
    op.create_index(op.f("ix_contacts_local_date"), "contacts", ["local_date"])

    op.drop_index(op.f("ix_unrecognised_messages_report"), table_name="unrecognised_messages")
    with op.batch_alter_table("unrecognised_messages") as batch:
        batch.drop_column("local_date")

    op.drop_index(op.f("ix_contact_topics_report"), table_name="contact_topics")
    with op.batch_alter_table("contact_topics") as batch:
        batch.drop_constraint(op.f("uq_contact_topics_contact_id_entry_id"), type_="unique")
        batch.drop_column("audience")
        batch.drop_column("channel")
        batch.drop_column("local_date")
    op.create_index(op.f("ix_contact_topics_contact_id"), "contact_topics", ["contact_id"])
    op.create_index(op.f("ix_contact_topics_entry_id"), "contact_topics", ["entry_id"])
