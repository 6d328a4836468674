"""The partner wall in PostgreSQL: a partner reaches an owner's rows only under a live grant.

ADR 0008. The access layer sets `hub.grant_ids` to the live grants it read for the partner; each
shared table gains a SELECT policy that re-checks, row by row, that one of those grants is made
to `hub.org_id`, is still live (not revoked, not expired, partnership ACTIVE), selects the row
and serves a purpose the customer consented to. A wrong or forged setting can only narrow.
Changing a shared row needs a CONTRIBUTE grant (and only the columns partners may touch);
creating one for the owner, a WRITE grant whose selection covers the new row.

The checks read rows the partner itself may not see (the customer behind an opportunity, its
consent, the explicit records of a grant), so they run as `hub_visibility`: a role that cannot
log in, owns only these functions, and reads the tables it needs through policies of its own.
The grant's segment rule is the same JSON the access layer compiles to SQL (hub/grants/segments).

Revision ID: 20261125_partner_visibility
Revises: 20261124_grant_records_read
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261125_partner_visibility"
down_revision: str | None = "20261124_grant_records_read"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the definer functions read, whatever the transaction's organisation.
_CHECKED_TABLES = ("grants", "grant_records", "partnerships", "customers", "opportunities", "cases")

# Helpers with no privileges of their own: pure functions of their arguments and settings.
_HELPERS = (
    """
    CREATE FUNCTION hub_grant_ids() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT coalesce(
            string_to_array(nullif(current_setting('hub.grant_ids', true), ''), ',')::uuid[],
            '{}'
        )
    $$
    """,
    # A segment condition on one attribute: `include` demands one of its values (an empty
    # attribute fails), `exclude` refuses its values (an empty attribute passes). No segment, or
    # no condition on the attribute, lets everything through.
    """
    CREATE FUNCTION hub_segment_allows(segment jsonb, attribute text, value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT segment IS NULL OR (
            (NOT coalesce(segment -> 'include' ? attribute, false)
                OR coalesce(segment -> 'include' -> attribute ? value, false))
            AND (value IS NULL OR NOT coalesce(segment -> 'exclude' -> attribute ? value, false))
        )
    $$
    """,
    # READ < CONTRIBUTE < WRITE: a grant allows what its access and every lower one allow.
    """
    CREATE FUNCTION hub_access_at_least(granted text, needed text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT array_position(ARRAY['READ', 'CONTRIBUTE', 'WRITE'], granted)
            >= array_position(ARRAY['READ', 'CONTRIBUTE', 'WRITE'], needed)
    $$
    """,
    # The customer consented to the grant's purpose and fits the customer part of its segment.
    """
    CREATE FUNCTION hub_customer_fits(g grants, c customers) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT g.purpose = ANY (c.consent_purposes)
            AND hub_segment_allows(g.segment, 'region', c.region)
            AND hub_segment_allows(g.segment, 'country', c.country)
            AND hub_segment_allows(g.segment, 'industry', c.industry)
            AND hub_segment_allows(g.segment, 'size', c.size)
            AND hub_segment_allows(g.segment, 'lifecycleStage', c.lifecycle_stage)
    $$
    """,
)

# Made SECURITY DEFINER, owned by `hub_visibility`, in `upgrade`.
_DEFINERS = (
    # The caller's grants named in `hub.grant_ids` that are live now.
    """
    CREATE FUNCTION hub_live_grants() RETURNS SETOF grants
    LANGUAGE sql STABLE ROWS 10 AS $$
        SELECT g.* FROM grants g
        WHERE g.partner_org_id = hub_current_org()
            AND g.id = ANY (hub_grant_ids())
            AND g.revoked_at IS NULL
            AND (g.expires_at IS NULL OR g.expires_at > now())
            AND EXISTS (
                SELECT FROM partnerships p
                WHERE p.org_id = g.org_id AND p.id = g.partnership_id AND p.status = 'ACTIVE'
            )
    $$
    """,
    """
    CREATE FUNCTION hub_explicitly_granted(g grants, record uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT EXISTS (
            SELECT FROM grant_records r
            WHERE r.org_id = g.org_id AND r.grant_id = g.id AND r.record_id = record
        )
    $$
    """,
    # Which customers a CUSTOMERS grant selects: named ones, those with an opportunity assigned
    # to the partnership or a case the partner raised, or (SEGMENT) every one that fits.
    """
    CREATE FUNCTION hub_selects_customer(g grants, customer uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT CASE g.selection
            WHEN 'EXPLICIT' THEN hub_explicitly_granted(g, customer)
            WHEN 'ASSIGNED' THEN EXISTS (
                    SELECT FROM opportunities o
                    WHERE o.org_id = g.org_id AND o.customer_id = customer
                        AND o.assigned_partnership_id = g.partnership_id
                ) OR EXISTS (
                    SELECT FROM cases k
                    WHERE k.org_id = g.org_id AND k.customer_id = customer
                        AND k.raised_by_org_id = g.partner_org_id
                )
            ELSE true
        END
    $$
    """,
    # The customers a live grant of the caller reaches: for a CUSTOMERS grant those it shares,
    # for an OPPORTUNITIES or CASES grant those whose records it may share. The access layer
    # joins on this set; it is the part of a grant the partner cannot evaluate itself.
    """
    CREATE FUNCTION hub_grant_customer_ids(grant_id uuid) RETURNS SETOF uuid
    LANGUAGE sql STABLE ROWS 100 AS $$
        SELECT c.id FROM hub_live_grants() g
        JOIN customers c ON c.org_id = g.org_id
        WHERE g.id = grant_id
            AND hub_customer_fits(g, c)
            AND (g.record_type <> 'CUSTOMERS' OR hub_selects_customer(g, c.id))
    $$
    """,
    # Row checks for the policies below: does some live grant of the caller with at least the
    # `needed` access (READ to see, CONTRIBUTE to change, WRITE to create) share this row?
    """
    CREATE FUNCTION hub_shares_customer(needed text, owner uuid, customer uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT EXISTS (
            SELECT FROM hub_live_grants() g
            JOIN customers c ON c.org_id = g.org_id AND c.id = customer
            WHERE g.org_id = owner AND g.record_type = 'CUSTOMERS'
                AND hub_access_at_least(g.access, needed)
                AND hub_customer_fits(g, c) AND hub_selects_customer(g, c.id)
        )
    $$
    """,
    """
    CREATE FUNCTION hub_shares_opportunity(
        needed text, owner uuid, record uuid, customer uuid, assigned uuid, stage text
    ) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT EXISTS (
            SELECT FROM hub_live_grants() g
            JOIN customers c ON c.org_id = g.org_id AND c.id = customer
            WHERE g.org_id = owner AND g.record_type = 'OPPORTUNITIES'
                AND hub_access_at_least(g.access, needed)
                AND hub_customer_fits(g, c)
                AND CASE g.selection
                    WHEN 'ASSIGNED' THEN coalesce(assigned = g.partnership_id, false)
                    WHEN 'EXPLICIT' THEN hub_explicitly_granted(g, record)
                    ELSE hub_segment_allows(g.segment, 'stage', stage)
                END
        )
    $$
    """,
    """
    CREATE FUNCTION hub_shares_case(
        needed text,
        owner uuid,
        record uuid,
        customer uuid,
        raised_by uuid,
        status text,
        priority text
    ) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT EXISTS (
            SELECT FROM hub_live_grants() g
            JOIN customers c ON c.org_id = g.org_id AND c.id = customer
            WHERE g.org_id = owner AND g.record_type = 'CASES'
                AND hub_access_at_least(g.access, needed)
                AND hub_customer_fits(g, c)
                AND CASE g.selection
                    WHEN 'ASSIGNED' THEN raised_by = g.partner_org_id
                    WHEN 'EXPLICIT' THEN hub_explicitly_granted(g, record)
                    ELSE hub_segment_allows(g.segment, 'status', status)
                        AND hub_segment_allows(g.segment, 'priority', priority)
                END
        )
    $$
    """,
    """
    CREATE FUNCTION hub_shares_case_id(needed text, owner uuid, record uuid) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT coalesce((
            SELECT hub_shares_case(
                needed, k.org_id, k.id, k.customer_id, k.raised_by_org_id, k.status, k.priority
            )
            FROM cases k WHERE k.org_id = owner AND k.id = record
        ), false)
    $$
    """,
)

_DEFINER_SIGNATURES = (
    "hub_live_grants()",
    "hub_explicitly_granted(grants, uuid)",
    "hub_selects_customer(grants, uuid)",
    "hub_grant_customer_ids(uuid)",
    "hub_shares_customer(text, uuid, uuid)",
    "hub_shares_opportunity(text, uuid, uuid, uuid, uuid, text)",
    "hub_shares_case(text, uuid, uuid, uuid, uuid, text, text)",
    "hub_shares_case_id(text, uuid, uuid)",
)

_OPPORTUNITY = "org_id, id, customer_id, assigned_partnership_id, stage"
_CASE = "org_id, id, customer_id, raised_by_org_id, status, priority"

# (table, policy, command, check). `org_id <> hub_current_org()` first: an owner's own rows
# never pay for the check. USING and WITH CHECK are the same test: a partner can neither
# reach a row outside its grants nor move one out of them.
_PARTNER_POLICIES = (
    ("customers", "shared_with_partner", "SELECT", "hub_shares_customer('READ', org_id, id)"),
    (
        "contacts",
        "shared_with_partner",
        "SELECT",
        "hub_shares_customer('READ', org_id, customer_id)",
    ),
    (
        "opportunities",
        "shared_with_partner",
        "SELECT",
        f"hub_shares_opportunity('READ', {_OPPORTUNITY})",
    ),
    (
        "opportunities",
        "partner_contributes",
        "UPDATE",
        f"hub_shares_opportunity('CONTRIBUTE', {_OPPORTUNITY})",
    ),
    (
        "opportunities",
        "partner_writes",
        "INSERT",
        f"hub_shares_opportunity('WRITE', {_OPPORTUNITY})",
    ),
    ("cases", "shared_with_partner", "SELECT", f"hub_shares_case('READ', {_CASE})"),
    ("cases", "partner_contributes", "UPDATE", f"hub_shares_case('CONTRIBUTE', {_CASE})"),
    (
        "cases",
        "partner_writes",
        "INSERT",
        f"raised_by_org_id = hub_current_org() AND hub_shares_case('WRITE', {_CASE})",
    ),
    (
        "case_comments",
        "shared_with_partner",
        "SELECT",
        "visibility = 'SHARED' AND hub_shares_case_id('READ', org_id, case_id)",
    ),
    (
        "case_comments",
        "partner_contributes",
        "INSERT",
        "visibility = 'SHARED' AND author_org_id = hub_current_org() "
        "AND hub_shares_case_id('CONTRIBUTE', org_id, case_id)",
    ),
)

# What a partner with CONTRIBUTE may change on an owner's row; any other column is refused by
# the trigger below, whatever the UPDATE statement says (hub/access/changes.py says the same).
_PARTNER_COLUMNS = {
    "opportunities": ("stage", "next_step", "expected_close_date", "version", "updated_at"),
    "cases": ("satisfaction_score", "version", "updated_at"),
}

_PARTNER_COLUMNS_TRIGGER = """
CREATE FUNCTION hub_partner_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF hub_current_org() IS NOT NULL AND OLD.org_id <> hub_current_org()
        AND (to_jsonb(NEW) - TG_ARGV) IS DISTINCT FROM (to_jsonb(OLD) - TG_ARGV) THEN
        RAISE EXCEPTION 'a partner may change only: %', array_to_string(TG_ARGV, ', ')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_visibility') THEN
                CREATE ROLE hub_visibility NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB
                    NOCREATEROLE;
            END IF;
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO hub_visibility")
    for table in _CHECKED_TABLES:
        op.execute(f"GRANT SELECT ON {table} TO hub_visibility")
        op.execute(
            f"CREATE POLICY visibility_check ON {table} FOR SELECT TO hub_visibility USING (true)"
        )
    for statement in (*_HELPERS, *_DEFINERS):
        op.execute(statement)
    # A new owner needs CREATE on the schema; it keeps it only while it takes the functions.
    op.execute("GRANT CREATE ON SCHEMA public TO hub_visibility")
    for signature in _DEFINER_SIGNATURES:
        op.execute(
            f"ALTER FUNCTION {signature} SECURITY DEFINER SET search_path = pg_catalog, public"
        )
        op.execute(f"ALTER FUNCTION {signature} OWNER TO hub_visibility")
        op.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO hub_app")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_visibility")
    for table, policy, command, check in _PARTNER_POLICIES:
        condition = f"org_id <> hub_current_org() AND {check}"
        clauses = {
            "SELECT": f"USING ({condition})",
            "UPDATE": f"USING ({condition}) WITH CHECK ({condition})",
            "INSERT": f"WITH CHECK ({condition})",
        }[command]
        op.execute(f"CREATE POLICY {policy} ON {table} FOR {command} {clauses}")
    op.execute(_PARTNER_COLUMNS_TRIGGER)
    for table, columns in _PARTNER_COLUMNS.items():
        arguments = ", ".join(f"'{column}'" for column in columns)
        op.execute(
            f"CREATE TRIGGER partner_columns BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION hub_partner_columns({arguments})"
        )


def downgrade() -> None:
    for table in _PARTNER_COLUMNS:
        op.execute(f"DROP TRIGGER partner_columns ON {table}")
    op.execute("DROP FUNCTION hub_partner_columns()")
    for table, policy, _, _ in _PARTNER_POLICIES:
        op.execute(f"DROP POLICY {policy} ON {table}")
    for signature in reversed(_DEFINER_SIGNATURES):
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP FUNCTION hub_customer_fits(grants, customers)")
    op.execute("DROP FUNCTION hub_access_at_least(text, text)")
    op.execute("DROP FUNCTION hub_segment_allows(jsonb, text, text)")
    op.execute("DROP FUNCTION hub_grant_ids()")
    for table in _CHECKED_TABLES:
        op.execute(f"DROP POLICY visibility_check ON {table}")
        op.execute(f"REVOKE ALL ON {table} FROM hub_visibility")
    op.execute("REVOKE USAGE ON SCHEMA public FROM hub_visibility")
