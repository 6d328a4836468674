"""The partner wall checks once per statement which customers a partner's grants reach.

Measured (bench/results/partner_visibility.md): a SEGMENT grant over 100,000 opportunities made
row-level security run the per-row check `hub_shares_opportunity` on every row of the segment's
stage (16,675 rows, 0.96 s), because a policy runs before the access layer's own, narrower
predicate. The policies on opportunities and cases now first ask whether the row's customer is
among those the caller's live grants of that record type reach: a set computed once per
statement (an uncorrelated, hashed subquery), so the per-row check runs only where it can pass.
What the policies admit does not change: the set is exactly the customers the per-row check
joins on (consent and the segment's customer part).

Revision ID: 20261126_partner_prefilter
Revises: 20261126_customer_fit_parts
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261126_partner_prefilter"
down_revision: str | None = "20261126_customer_fit_parts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REACHED = """
    CREATE FUNCTION hub_reached_customers(kind text) RETURNS SETOF uuid
    LANGUAGE sql STABLE ROWS 1000 AS $$
        SELECT DISTINCT c.id FROM hub_live_grants() g
        JOIN customers c ON c.org_id = g.org_id
        WHERE g.record_type = kind AND hub_customer_fits(g, c)
    $$
"""
_SIGNATURE = "hub_reached_customers(text)"

_OPPORTUNITY = "org_id, id, customer_id, assigned_partnership_id, stage"
_CASE = "org_id, id, customer_id, raised_by_org_id, status, priority"

# (table, record type, the per-row check) of the SELECT policies that gain the prefilter.
_POLICIES = (
    ("opportunities", "OPPORTUNITIES", f"hub_shares_opportunity('READ', {_OPPORTUNITY})"),
    ("cases", "CASES", f"hub_shares_case('READ', {_CASE})"),
)


def _create(table: str, condition: str) -> None:
    op.execute(
        f"CREATE POLICY shared_with_partner ON {table} FOR SELECT "
        f"USING (org_id <> hub_current_org() AND {condition})"
    )


def upgrade() -> None:
    op.execute(_REACHED)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_visibility")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} OWNER TO hub_visibility")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_SIGNATURE} TO hub_app")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_visibility")
    for table, kind, check in _POLICIES:
        op.execute(f"DROP POLICY shared_with_partner ON {table}")
        _create(table, f"customer_id IN (SELECT hub_reached_customers('{kind}')) AND {check}")


def downgrade() -> None:
    for table, _, check in _POLICIES:
        op.execute(f"DROP POLICY shared_with_partner ON {table}")
        _create(table, check)
    op.execute(f"DROP FUNCTION {_SIGNATURE}")
