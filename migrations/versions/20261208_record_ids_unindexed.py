"""`audit_events.record_ids` loses its GIN index: nothing the hub runs can use it.

The application role filters events by record through `audit_event_records` (ADR 0012): under
row-level security `@>` is applied after the policy, row by row, so the GIN index is never
scanned for it, and no function of the ledger, privacy or retention work filters on the column.
It was still kept up on every append: a partner's disclosure names about a hundred records, and
the sealer paid a hundred GIN entries per read, and the pending-list merges that follow them
(ADR 0021).

Revision ID: 20261208_record_ids_unindexed
Revises: 20261207_narrow_fold
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261208_record_ids_unindexed"
down_revision: str | None = "20261207_narrow_fold"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_record_ids", table_name="audit_events")


def downgrade() -> None:
    op.create_index(
        "ix_audit_events_record_ids", "audit_events", ["record_ids"], postgresql_using="gin"
    )
