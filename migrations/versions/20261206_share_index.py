"""The share index: what each grant shares is decided on writes, and partner reads look it up.

ADR 0017. Measured (issue 13): a distributor's list over a 30,000-opportunity segment took 4-6 s,
because the SELECT policy called `hub_shares_opportunity` (SECURITY DEFINER, opaque to the
planner) on every candidate row and the access layer re-derived the grant's customers on every
request. Now `opportunity_shares`, `case_shares` and `customer_shares` hold one row per (owner,
record, partner) naming the owner's unrevoked grants to that partner that select the record,
with the customer's consent to the grant's purpose and the segment's customer rule already
applied. Triggers keep them exact when a record, a customer, a grant or a grant's explicit
records change; each change takes a transaction-scoped advisory lock on the owner first, so two
concurrent changes of one owner cannot each compute from the other's old state (the hub runs in
READ COMMITTED: the statement after the lock sees what the other committed).

Reads ask, per row, one primary-key lookup: the row's share for the caller holds a grant that is
live now. Liveness (not revoked, not expired, partnership ACTIVE) is computed once per statement
by `hub_live_grant_ids`, from `hub.grant_ids` re-checked against the grants, so a forged setting
still only narrows, and expiry or suspension bite on the next request without any maintenance.

What may change (UPDATE, CONTRIBUTE) and create (INSERT, WRITE) keep their per-row checks: writes
are not the hot path, and a row being inserted has no share yet.

Revision ID: 20261206_share_index
Revises: 20261206_disclosure_records
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261206_share_index"
down_revision: str | None = "20261206_disclosure_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (share table, shared table, record column, record type, extra copied columns)
_SHARES = (
    ("opportunity_shares", "opportunities", "opportunity_id", "OPPORTUNITIES"),
    ("case_shares", "cases", "case_id", "CASES"),
    ("customer_shares", "customers", "customer_id", "CUSTOMERS"),
)


def _tables() -> None:
    for table, shared, column, _ in _SHARES:
        extra = (
            [sa.Column("name", sa.String(200), nullable=False)]
            if table == "customer_shares"
            else []
        )
        op.create_table(
            table,
            sa.Column("org_id", sa.Uuid(), nullable=False),
            sa.Column(column, sa.Uuid(), nullable=False),
            sa.Column("partner_org_id", sa.Uuid(), nullable=False),
            sa.Column("grant_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["org_id", column],
                [f"{shared}.org_id", f"{shared}.id"],
                name=f"fk_{table}_org_id_{column}_{shared}",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("org_id", column, "partner_org_id", name=f"pk_{table}"),
        )
        op.create_index(
            f"ix_{table}_partner_org_id_created_at_{column}",
            table,
            ["partner_org_id", "created_at", column],
        )
        op.create_index(f"ix_{table}_partner_org_id_{column}", table, ["partner_org_id", column])
    op.create_index(
        "ix_customer_shares_partner_org_id_name_customer_id",
        "customer_shares",
        ["partner_org_id", "name", "customer_id"],
    )


# Whether a grant selects a record, given the record and its customer: one definition for the
# per-record refresh and for the candidates of a changed grant. Plain functions of their
# arguments (the callers below are definer functions that read every row).
_SELECTS = (
    """
    CREATE FUNCTION hub_grant_selects_opportunity(g grants, o opportunities, c customers)
    RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT hub_customer_fits(g, c) AND CASE g.selection
            WHEN 'ASSIGNED' THEN coalesce(o.assigned_partnership_id = g.partnership_id, false)
            WHEN 'EXPLICIT' THEN hub_explicitly_granted(g, o.id)
            ELSE hub_segment_allows(g.segment, 'stage', o.stage)
        END
    $$
    """,
    """
    CREATE FUNCTION hub_grant_selects_case(g grants, k cases, c customers)
    RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT hub_customer_fits(g, c) AND CASE g.selection
            WHEN 'ASSIGNED' THEN k.raised_by_org_id = g.partner_org_id
            WHEN 'EXPLICIT' THEN hub_explicitly_granted(g, k.id)
            ELSE hub_segment_allows(g.segment, 'status', k.status)
                AND hub_segment_allows(g.segment, 'priority', k.priority)
        END
    $$
    """,
    """
    CREATE FUNCTION hub_grant_selects_customer(g grants, c customers)
    RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT hub_customer_fits(g, c) AND hub_selects_customer(g, c.id)
    $$
    """,
)

# (function, share table, shared table, record column, record type, how the grant is asked,
# the row's customer join, columns copied besides `created_at`)
_REFRESHED = (
    (
        "hub_share_opportunities",
        "opportunity_shares",
        "opportunities",
        "opportunity_id",
        "OPPORTUNITIES",
        "hub_grant_selects_opportunity(g, r, c)",
        "JOIN customers c ON c.org_id = r.org_id AND c.id = r.customer_id",
        (),
    ),
    (
        "hub_share_cases",
        "case_shares",
        "cases",
        "case_id",
        "CASES",
        "hub_grant_selects_case(g, r, c)",
        "JOIN customers c ON c.org_id = r.org_id AND c.id = r.customer_id",
        (),
    ),
    (
        "hub_share_customers",
        "customer_shares",
        "customers",
        "customer_id",
        "CUSTOMERS",
        "hub_grant_selects_customer(g, r)",
        "",
        ("name",),
    ),
)


def _refresh(
    function: str,
    share: str,
    shared: str,
    column: str,
    kind: str,
    selects: str,
    customer: str,
    copied: tuple[str, ...],
) -> str:
    """A function that makes the share rows of some records of an owner exactly what the
    owner's unrevoked grants select now: rows no grant selects any more go, the others are
    written (unchanged ones untouched)."""
    kept = ("grant_ids", "created_at", *copied)
    keys = ", ".join(kept[1:])
    record_keys = ", ".join(f"r.{name}" for name in kept[1:])
    updated = ", ".join(f"{name} = excluded.{name}" for name in kept)
    old = ", ".join(f"s.{name}" for name in kept)
    new = ", ".join(f"excluded.{name}" for name in kept)
    # Our own constants, never input.
    return f"""
    CREATE FUNCTION {function}(owner uuid, ids uuid[]) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM hub_lock_shares(owner);
        WITH fresh AS (
            SELECT r.org_id, r.id, g.partner_org_id, array_agg(g.id ORDER BY g.id) AS grant_ids,
                {record_keys}
            FROM {shared} r
            {customer}
            JOIN grants g ON g.org_id = r.org_id AND g.record_type = '{kind}'
                AND g.revoked_at IS NULL
            WHERE r.org_id = owner AND r.id = ANY (ids) AND {selects}
            GROUP BY r.org_id, r.id, g.partner_org_id, {record_keys}
        ), dropped AS (
            DELETE FROM {share} s
            WHERE s.org_id = owner AND s.{column} = ANY (ids) AND NOT EXISTS (
                SELECT FROM fresh f
                WHERE f.id = s.{column} AND f.partner_org_id = s.partner_org_id
            )
        )
        INSERT INTO {share} AS s (org_id, {column}, partner_org_id, grant_ids, {keys})
        SELECT * FROM fresh
        ON CONFLICT (org_id, {column}, partner_org_id) DO UPDATE
            SET {updated}
            WHERE ({old}) IS DISTINCT FROM ({new});
    END
    $$
    """  # noqa: S608


# Made SECURITY DEFINER, owned by `hub_visibility`, in `upgrade`.
_DEFINERS = (
    # Changes to one owner's share index take turns (see the module docstring).
    """
    CREATE FUNCTION hub_lock_shares(owner uuid) RETURNS void
    LANGUAGE sql AS $$
        SELECT pg_advisory_xact_lock(hashtextextended('hub.shares:' || owner::text, 0))
    $$
    """,
    # The share rows of these records, made exactly what the owner's grants select now.
    *(_refresh(*refreshed) for refreshed in _REFRESHED),
    # A customer's consent or segment attributes decide its records' shares too.
    """
    CREATE FUNCTION hub_share_customer_records(owner uuid, ids uuid[]) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM hub_share_customers(owner, ids);
        PERFORM hub_share_opportunities(owner, ARRAY(
            SELECT o.id FROM opportunities o WHERE o.org_id = owner AND o.customer_id = ANY (ids)
        ));
        PERFORM hub_share_cases(owner, ARRAY(
            SELECT k.id FROM cases k WHERE k.org_id = owner AND k.customer_id = ANY (ids)
        ));
    END
    $$
    """,
    # A grant made, changed, revoked or removed: the records it shared and those it selects now.
    """
    CREATE FUNCTION hub_share_grant(owner uuid, changed uuid, partner uuid) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        g grants;
    BEGIN
        PERFORM hub_lock_shares(owner);
        SELECT * INTO g FROM grants WHERE org_id = owner AND id = changed AND revoked_at IS NULL;
        PERFORM hub_share_opportunities(owner, ARRAY(
            SELECT s.opportunity_id FROM opportunity_shares s
            WHERE s.partner_org_id = partner AND s.org_id = owner AND changed = ANY (s.grant_ids)
            UNION
            SELECT o.id FROM opportunities o
            JOIN customers c ON c.org_id = o.org_id AND c.id = o.customer_id
            WHERE g.record_type = 'OPPORTUNITIES' AND o.org_id = owner
                AND hub_grant_selects_opportunity(g, o, c)
        ));
        PERFORM hub_share_cases(owner, ARRAY(
            SELECT s.case_id FROM case_shares s
            WHERE s.partner_org_id = partner AND s.org_id = owner AND changed = ANY (s.grant_ids)
            UNION
            SELECT k.id FROM cases k
            JOIN customers c ON c.org_id = k.org_id AND c.id = k.customer_id
            WHERE g.record_type = 'CASES' AND k.org_id = owner AND hub_grant_selects_case(g, k, c)
        ));
        PERFORM hub_share_customers(owner, ARRAY(
            SELECT s.customer_id FROM customer_shares s
            WHERE s.partner_org_id = partner AND s.org_id = owner AND changed = ANY (s.grant_ids)
            UNION
            SELECT c.id FROM customers c
            WHERE g.record_type = 'CUSTOMERS' AND c.org_id = owner
                AND hub_grant_selects_customer(g, c)
        ));
    END
    $$
    """,
    # The caller's grants of one record type that are live now: once per statement in the
    # policies below (an uncorrelated subquery), never once per row.
    """
    CREATE FUNCTION hub_live_grant_ids(kind text) RETURNS uuid[]
    LANGUAGE sql STABLE AS $$
        SELECT coalesce(array_agg(g.id), '{}') FROM hub_live_grants() g WHERE g.record_type = kind
    $$
    """,
)

_DEFINER_SIGNATURES = (
    "hub_lock_shares(uuid)",
    "hub_share_opportunities(uuid, uuid[])",
    "hub_share_cases(uuid, uuid[])",
    "hub_share_customers(uuid, uuid[])",
    "hub_share_customer_records(uuid, uuid[])",
    "hub_share_grant(uuid, uuid, uuid)",
    "hub_live_grant_ids(text)",
)

# Trigger functions run as whoever writes; the definer functions above do the work.
_TRIGGER_FUNCTIONS = (
    """
    CREATE FUNCTION hub_opportunities_shared() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM hub_share_opportunities(n.org_id, array_agg(n.id))
            FROM new_rows n GROUP BY n.org_id;
            -- An ASSIGNED customers grant selects the customers of assigned opportunities.
            PERFORM hub_share_customers(n.org_id, array_agg(DISTINCT n.customer_id))
            FROM new_rows n WHERE n.assigned_partnership_id IS NOT NULL GROUP BY n.org_id;
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM hub_share_opportunities(n.org_id, array_agg(n.id))
            FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
            WHERE (n.stage, n.customer_id, n.assigned_partnership_id, n.created_at)
                IS DISTINCT FROM (o.stage, o.customer_id, o.assigned_partnership_id, o.created_at)
            GROUP BY n.org_id;
            PERFORM hub_share_customers(changed.org_id, array_agg(DISTINCT changed.customer_id))
            FROM (
                SELECT n.org_id, unnest(ARRAY[n.customer_id, o.customer_id]) AS customer_id
                FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
                WHERE (n.customer_id, n.assigned_partnership_id)
                    IS DISTINCT FROM (o.customer_id, o.assigned_partnership_id)
            ) changed
            GROUP BY changed.org_id;
        ELSE
            PERFORM hub_share_customers(o.org_id, array_agg(DISTINCT o.customer_id))
            FROM old_rows o WHERE o.assigned_partnership_id IS NOT NULL GROUP BY o.org_id;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION hub_cases_shared() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM hub_share_cases(n.org_id, array_agg(n.id)) FROM new_rows n GROUP BY n.org_id;
            -- An ASSIGNED customers grant selects the customers of the cases its partner raised.
            PERFORM hub_share_customers(n.org_id, array_agg(DISTINCT n.customer_id))
            FROM new_rows n WHERE n.raised_by_org_id <> n.org_id GROUP BY n.org_id;
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM hub_share_cases(n.org_id, array_agg(n.id))
            FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
            WHERE (n.status, n.priority, n.customer_id, n.raised_by_org_id, n.created_at)
                IS DISTINCT FROM (o.status, o.priority, o.customer_id, o.raised_by_org_id,
                    o.created_at)
            GROUP BY n.org_id;
            PERFORM hub_share_customers(changed.org_id, array_agg(DISTINCT changed.customer_id))
            FROM (
                SELECT n.org_id, unnest(ARRAY[n.customer_id, o.customer_id]) AS customer_id
                FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
                WHERE (n.customer_id, n.raised_by_org_id)
                    IS DISTINCT FROM (o.customer_id, o.raised_by_org_id)
            ) changed
            GROUP BY changed.org_id;
        ELSE
            PERFORM hub_share_customers(o.org_id, array_agg(DISTINCT o.customer_id))
            FROM old_rows o WHERE o.raised_by_org_id <> o.org_id GROUP BY o.org_id;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION hub_customers_shared() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM hub_share_customers(n.org_id, array_agg(n.id))
            FROM new_rows n GROUP BY n.org_id;
            RETURN NULL;
        END IF;
        -- Consent and segment attributes decide the customer's records too; its name and
        -- creation time only its own share rows (they are the order keys copied there).
        PERFORM hub_share_customer_records(n.org_id, array_agg(n.id))
        FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
        WHERE (n.consent_purposes, n.region, n.country, n.industry, n.size, n.lifecycle_stage)
            IS DISTINCT FROM
            (o.consent_purposes, o.region, o.country, o.industry, o.size, o.lifecycle_stage)
        GROUP BY n.org_id;
        PERFORM hub_share_customers(n.org_id, array_agg(n.id))
        FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
        WHERE (n.name, n.created_at) IS DISTINCT FROM (o.name, o.created_at)
        GROUP BY n.org_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION hub_grants_shared() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM hub_share_grant(OLD.org_id, OLD.id, OLD.partner_org_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM hub_share_grant(NEW.org_id, NEW.id, NEW.partner_org_id);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION hub_grant_records_shared() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM hub_share_grant(g.org_id, g.id, g.partner_org_id)
            FROM grants g
            WHERE (g.org_id, g.id) IN (SELECT DISTINCT r.org_id, r.grant_id FROM new_rows r);
        ELSE
            PERFORM hub_share_grant(g.org_id, g.id, g.partner_org_id)
            FROM grants g
            WHERE (g.org_id, g.id) IN (SELECT DISTINCT r.org_id, r.grant_id FROM old_rows r);
        END IF;
        RETURN NULL;
    END
    $$
    """,
)

# (table, trigger function, changes whose rows it needs)
_TRIGGERS = (
    ("opportunities", "hub_opportunities_shared", ("INSERT", "UPDATE", "DELETE")),
    ("cases", "hub_cases_shared", ("INSERT", "UPDATE", "DELETE")),
    ("customers", "hub_customers_shared", ("INSERT", "UPDATE")),
    ("grant_records", "hub_grant_records_shared", ("INSERT", "DELETE")),
)

_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}

_LIVE = "(SELECT hub_live_grant_ids('{kind}'))"


def _shared(share: str, column: str, key: str, kind: str, table: str) -> str:
    return (
        f"EXISTS (SELECT FROM {share} s WHERE s.org_id = {table}.org_id "
        f"AND s.{column} = {table}.{key} AND s.partner_org_id = hub_current_org() "
        f"AND s.grant_ids && {_LIVE.format(kind=kind)})"
    )


# (table, the partner's SELECT condition now)
_READ_POLICIES = (
    (
        "opportunities",
        _shared("opportunity_shares", "opportunity_id", "id", "OPPORTUNITIES", "opportunities"),
    ),
    ("cases", _shared("case_shares", "case_id", "id", "CASES", "cases")),
    (
        "case_comments",
        "visibility = 'SHARED' AND "
        + _shared("case_shares", "case_id", "case_id", "CASES", "case_comments"),
    ),
    ("customers", _shared("customer_shares", "customer_id", "id", "CUSTOMERS", "customers")),
    ("contacts", _shared("customer_shares", "customer_id", "customer_id", "CUSTOMERS", "contacts")),
)

_OPPORTUNITY = "org_id, id, customer_id, assigned_partnership_id, stage"
_CASE = "org_id, id, customer_id, raised_by_org_id, status, priority"

# The conditions as 20261126_partner_prefilter left them, for the downgrade.
_READ_POLICIES_BEFORE = {
    "opportunities": "customer_id IN (SELECT hub_reached_customers('OPPORTUNITIES')) "
    f"AND hub_shares_opportunity('READ', {_OPPORTUNITY})",
    "cases": "customer_id IN (SELECT hub_reached_customers('CASES')) "
    f"AND hub_shares_case('READ', {_CASE})",
    "case_comments": "visibility = 'SHARED' AND hub_shares_case_id('READ', org_id, case_id)",
    "customers": "hub_shares_customer('READ', org_id, id)",
    "contacts": "hub_shares_customer('READ', org_id, customer_id)",
}


def _read_policy(table: str, condition: str) -> None:
    op.execute(f"DROP POLICY shared_with_partner ON {table}")
    op.execute(
        f"CREATE POLICY shared_with_partner ON {table} FOR SELECT "
        f"USING (org_id <> hub_current_org() AND {condition})"
    )


def upgrade() -> None:
    _tables()
    for table, _, _, _ in _SHARES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        # The owner sees to whom its records are shared; a partner, what is shared with it.
        op.execute(
            f"CREATE POLICY either_side ON {table} FOR SELECT TO hub_app "
            "USING (org_id = hub_current_org() OR partner_org_id = hub_current_org())"
        )
        op.execute(
            f"CREATE POLICY maintained ON {table} TO hub_visibility USING (true) WITH CHECK (true)"
        )
        op.execute(f"GRANT SELECT ON {table} TO hub_app")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO hub_visibility")
    for statement in _SELECTS:
        op.execute(statement)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_visibility")
    for statement in _DEFINERS:
        op.execute(statement)
    for signature in _DEFINER_SIGNATURES:
        op.execute(
            f"ALTER FUNCTION {signature} SECURITY DEFINER SET search_path = pg_catalog, public"
        )
        op.execute(f"ALTER FUNCTION {signature} OWNER TO hub_visibility")
        op.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO hub_app")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_visibility")
    for statement in _TRIGGER_FUNCTIONS:
        op.execute(statement)
    for table, function, changes in _TRIGGERS:
        for change in changes:
            op.execute(
                f"CREATE TRIGGER shares_after_{change.lower()} AFTER {change} ON {table} "
                f"{_TRANSITIONS[change]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    op.execute(
        "CREATE TRIGGER shares_after_change AFTER INSERT OR UPDATE OR DELETE ON grants "
        "FOR EACH ROW EXECUTE FUNCTION hub_grants_shared()"
    )
    # What the grants already in place share.
    op.execute(
        "SELECT hub_share_grant(org_id, id, partner_org_id) FROM grants WHERE revoked_at IS NULL"
    )
    for table, condition in _READ_POLICIES:
        _read_policy(table, condition)
    # The planner chooses a partner's plan from these statistics (the share index in order).
    for table, _, _, _ in _SHARES:
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for table, _ in _READ_POLICIES:
        _read_policy(table, _READ_POLICIES_BEFORE[table])
    op.execute("DROP TRIGGER shares_after_change ON grants")
    for table, function, changes in _TRIGGERS:
        for change in changes:
            op.execute(f"DROP TRIGGER shares_after_{change.lower()} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP FUNCTION hub_grants_shared()")
    for signature in reversed(_DEFINER_SIGNATURES):
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP FUNCTION hub_grant_selects_customer(grants, customers)")
    op.execute("DROP FUNCTION hub_grant_selects_case(grants, cases, customers)")
    op.execute("DROP FUNCTION hub_grant_selects_opportunity(grants, opportunities, customers)")
    for table, _, _, _ in reversed(_SHARES):
        op.drop_table(table)
