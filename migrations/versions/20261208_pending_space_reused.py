"""The sealer may vacuum `audit_pending_disclosures`, so the space of sealed rows is reused.

Every partner read inserts a row of several kilobytes there and the sealer deletes it within a
second or so; until a vacuum marks the space free, each insert extends the table, and 32
concurrent readers queued on its extension lock (the read path's benchmark saw up to five
waiting). Autovacuum visits a table at most once a minute. The sealer now vacuums the table
after the rounds that sealed rows (`hub.audit.sealer`): the application role holds MAINTAIN on
it, where the server has that privilege (PostgreSQL 17 and later; older servers keep to
autovacuum, told here to visit the table after every thousand sealed rows). A vacuum of the
table never truncates it: that would take a lock every inserting reader waits on, for space
the next reads take again (ADR 0021).

Revision ID: 20261208_pending_space_reused
Revises: 20261208_fold_by_field_sets
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261208_pending_space_reused"
down_revision: str | None = "20261208_fold_by_field_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "audit_pending_disclosures"
_SETTINGS = (
    "vacuum_truncate = false, autovacuum_vacuum_scale_factor = 0, "
    "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0, "
    "autovacuum_vacuum_insert_threshold = 1000"
)
_SETTING_NAMES = (
    "vacuum_truncate, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
    "autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold"
)


def upgrade() -> None:
    op.execute(f"ALTER TABLE {_TABLE} SET ({_SETTINGS})")
    op.execute(f"""
DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'GRANT MAINTAIN ON {_TABLE} TO hub_app';
    END IF;
END $$""")


def downgrade() -> None:
    op.execute(f"""
DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 170000 THEN
        EXECUTE 'REVOKE MAINTAIN ON {_TABLE} FROM hub_app';
    END IF;
END $$""")
    op.execute(f"ALTER TABLE {_TABLE} RESET ({_SETTING_NAMES})")
