"""The events of a record, for `auditEvents`: an index the application role can use.

`audit_events.record_ids` has a GIN index, but under row-level security the application role
cannot use it: `@>` (arraycontains) is not leakproof, so PostgreSQL may apply it only after the
policy, row by row, and a record's events meant reading the whole chain. `audit_event_records`
holds one row per (event, record it concerns), keyed (org_id, record_id, created_at, event_id):
a record's events newest first are a B-tree range, and each page joins its events by primary key.

A trigger on `audit_events` keeps it: AFTER INSERT adds the event's records (appends through
`hub_audit_append` reach it as any insert does, so the append function is unchanged), AFTER
DELETE removes them (a retention cut). Both run as `hub_ledger`; the application role only reads
its own organisation's rows. Events already in the ledger are indexed here.

Revision ID: 20261128_audit_events_api
Revises: 20261127_audit_ledger
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261128_audit_events_api"
down_revision: str | None = "20261127_audit_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX_RECORDS = """
CREATE FUNCTION hub_audit_index_records() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_event_records (org_id, record_id, created_at, event_id)
            SELECT DISTINCT NEW.org_id, r.id, NEW.created_at, NEW.id
            FROM unnest(NEW.record_ids) AS r(id);
        RETURN NEW;
    END IF;
    DELETE FROM audit_event_records x
        WHERE x.org_id = OLD.org_id AND x.record_id = ANY(OLD.record_ids)
            AND x.created_at = OLD.created_at AND x.event_id = OLD.id;
    RETURN OLD;
END
$$
"""
_SIGNATURE = "hub_audit_index_records()"


def upgrade() -> None:
    op.create_table(
        "audit_event_records",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "record_id", "created_at", "event_id", name=op.f("pk_audit_event_records")
        ),
    )
    op.execute(
        "INSERT INTO audit_event_records (org_id, record_id, created_at, event_id) "
        "SELECT DISTINCT e.org_id, r.id, e.created_at, e.id "
        "FROM audit_events e, unnest(e.record_ids) AS r(id)"
    )
    op.execute("ALTER TABLE audit_event_records ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_event_records FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT, INSERT, DELETE ON audit_event_records TO hub_ledger")
    op.execute(
        "CREATE POLICY ledger_keeps ON audit_event_records TO hub_ledger "
        "USING (true) WITH CHECK (true)"
    )
    op.execute("GRANT SELECT ON audit_event_records TO hub_app")
    op.execute(
        "CREATE POLICY read_own ON audit_event_records FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org())"
    )
    op.execute(_INDEX_RECORDS)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_ledger")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} OWNER TO hub_ledger")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_ledger")
    op.execute(
        "CREATE TRIGGER audit_events_index_records AFTER INSERT OR DELETE ON audit_events "
        f"FOR EACH ROW EXECUTE FUNCTION {_SIGNATURE}"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_index_records ON audit_events")
    op.execute(f"DROP FUNCTION {_SIGNATURE}")
    op.drop_table("audit_event_records")
