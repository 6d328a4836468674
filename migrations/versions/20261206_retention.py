"""Retention: a policy per organisation, and cutting the ledger at a checkpoint.

`retention_policies` holds, per organisation, how many days audit events and closed records
are kept (NULL: forever; otherwise 30 to 36,500 days). It is a tenant table like every other:
row-level security forced, keyed on the transaction's organisation; the application role reads
and writes its own organisation's row, never deletes it.

`hub_audit_cut(org, before)` is the only way events leave the ledger. A SECURITY DEFINER
function owned by the NOLOGIN role `hub_ledger`, it cuts only the caller's own organisation
(`hub.org_id`), only as far as that organisation's policy allows (`before` no later than now
minus its `audit_events_days`), never the chain's head event, and only a prefix of the chain:
the events up to the last one before the first event at or after `before`. It first writes the
checkpoint (the seq and hash of the last event cut, and `before`), then deletes the events the
checkpoint covers, which is exactly what the append-only trigger lets through. It holds the
chain's head lock while it works, so appends to that organisation wait and nothing appends
into the part being cut. The application role may not call it: the retention run is a
maintenance job (`hub retention run`) on the owner's connection.

Self-contained: it depends only on the ledger tables of 20261127/20261128.

Revision ID: 20261206_retention
Revises: 20261206_privacy
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_retention"
down_revision: str | None = "20261206_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIN_DAYS = 30
MAX_DAYS = 36_500

_CUT = """
CREATE FUNCTION hub_audit_cut(org uuid, before timestamptz)
RETURNS TABLE (cut_seq bigint, events_cut bigint)
LANGUAGE plpgsql AS $$
DECLARE
    keep_days integer;
    head_seq bigint;
    last_cut bigint;
    first_kept bigint;
    target bigint;
    target_hash bytea;
    removed bigint;
BEGIN
    IF org IS DISTINCT FROM hub_current_org() THEN
        RAISE EXCEPTION 'the ledger of % may not be cut here', org
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT p.audit_events_days INTO keep_days FROM retention_policies p WHERE p.org_id = org;
    IF keep_days IS NULL OR before IS NULL
        OR before > now() - make_interval(days => keep_days) THEN
        RAISE EXCEPTION 'the retention policy of % keeps the events before %', org, before
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The head lock: appends to this chain wait until the cut commits.
    SELECT h.seq INTO head_seq FROM audit_chain_heads h WHERE h.org_id = org FOR UPDATE;
    IF head_seq IS NULL THEN
        RETURN QUERY SELECT NULL::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT coalesce(max(c.seq), 0) INTO last_cut FROM audit_checkpoints c WHERE c.org_id = org;
    SELECT e.seq INTO first_kept FROM audit_events e
        WHERE e.org_id = org AND e.seq > last_cut AND e.created_at >= before
        ORDER BY e.seq LIMIT 1;
    -- A prefix only, and never the head: the chain goes on from what is kept.
    target := least(coalesce(first_kept, head_seq + 1) - 1, head_seq - 1);
    IF target <= last_cut THEN
        RETURN QUERY SELECT NULL::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT e.hash INTO target_hash FROM audit_events e WHERE e.org_id = org AND e.seq = target;
    IF target_hash IS NULL THEN
        RAISE EXCEPTION 'event % of the ledger of % is missing; verify it before cutting',
            target, org USING ERRCODE = 'data_corrupted';
    END IF;
    INSERT INTO audit_checkpoints (org_id, seq, hash, cut_before)
        VALUES (org, target, target_hash, before);
    DELETE FROM audit_events e WHERE e.org_id = org AND e.seq <= target;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN QUERY SELECT target, removed;
END
$$
"""
_CUT_SIGNATURE = "hub_audit_cut(uuid, timestamptz)"


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("audit_events_days", sa.Integer(), nullable=True),
        sa.Column("closed_records_days", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by_client_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            f"audit_events_days BETWEEN {MIN_DAYS} AND {MAX_DAYS}",
            name=op.f("ck_retention_policies_audit_events_days"),
        ),
        sa.CheckConstraint(
            f"closed_records_days BETWEEN {MIN_DAYS} AND {MAX_DAYS}",
            name=op.f("ck_retention_policies_closed_records_days"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_retention_policies_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_retention_policies")),
    )
    op.execute("ALTER TABLE retention_policies ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE retention_policies FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON retention_policies "
        "USING (org_id = hub_current_org()) WITH CHECK (org_id = hub_current_org())"
    )
    op.execute("GRANT SELECT, INSERT, UPDATE ON retention_policies TO hub_app")

    # What the cut needs, and only for the ledger role.
    op.execute("GRANT SELECT ON retention_policies TO hub_ledger")
    op.execute(
        "CREATE POLICY ledger_reads ON retention_policies FOR SELECT TO hub_ledger USING (true)"
    )
    op.execute("GRANT SELECT, DELETE ON audit_events TO hub_ledger")
    op.execute("CREATE POLICY ledger_reads ON audit_events FOR SELECT TO hub_ledger USING (true)")
    op.execute("CREATE POLICY ledger_cuts ON audit_events FOR DELETE TO hub_ledger USING (true)")
    op.execute("GRANT INSERT ON audit_checkpoints TO hub_ledger")
    op.execute(
        "CREATE POLICY ledger_checkpoints ON audit_checkpoints FOR INSERT TO hub_ledger "
        "WITH CHECK (true)"
    )
    op.execute(_CUT)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_ledger")
    op.execute(
        f"ALTER FUNCTION {_CUT_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public"
    )
    op.execute(f"ALTER FUNCTION {_CUT_SIGNATURE} OWNER TO hub_ledger")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_ledger")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_CUT_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_CUT_SIGNATURE} TO CURRENT_USER")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_CUT_SIGNATURE}")
    op.execute("DROP POLICY ledger_checkpoints ON audit_checkpoints")
    op.execute("REVOKE INSERT ON audit_checkpoints FROM hub_ledger")
    op.execute("DROP POLICY ledger_cuts ON audit_events")
    op.execute("DROP POLICY ledger_reads ON audit_events")
    op.execute("REVOKE DELETE ON audit_events FROM hub_ledger")
    op.drop_table("retention_policies")
