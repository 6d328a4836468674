"""The customer's part of a grant in two named pieces: consent, and the segment's customer rule.

`hub_customer_fits(g, c)` decided both at once, which is all the partner's visibility needs. An
owner asking why a record does or does not reach a partner (`explainAccess`) needs them apart
(CONSENT_MISSING is not NOT_SELECTED), and must get them from the very functions the partner wall
runs, not from a copy. So the two halves become functions of their own and `hub_customer_fits`
their conjunction: what every policy and definer function decides does not change.

Both stay plain (not SECURITY DEFINER) functions of their arguments: the caller must already be
able to read the grant and customer rows it passes, which the owner can for its own.

Revision ID: 20261126_customer_fit_parts
Revises: 20261125_deal_registrations
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261126_customer_fit_parts"
down_revision: str | None = "20261125_deal_registrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONSENTED = """
    CREATE FUNCTION hub_customer_consented(g grants, c customers) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT g.purpose = ANY (c.consent_purposes)
    $$
"""

_IN_SEGMENT = """
    CREATE FUNCTION hub_customer_in_segment(g grants, c customers) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT hub_segment_allows(g.segment, 'region', c.region)
            AND hub_segment_allows(g.segment, 'country', c.country)
            AND hub_segment_allows(g.segment, 'industry', c.industry)
            AND hub_segment_allows(g.segment, 'size', c.size)
            AND hub_segment_allows(g.segment, 'lifecycleStage', c.lifecycle_stage)
    $$
"""

_FITS = """
    CREATE OR REPLACE FUNCTION hub_customer_fits(g grants, c customers) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT hub_customer_consented(g, c) AND hub_customer_in_segment(g, c)
    $$
"""

# As 20261125_partner_visibility wrote it.
_FITS_BEFORE = """
    CREATE OR REPLACE FUNCTION hub_customer_fits(g grants, c customers) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT g.purpose = ANY (c.consent_purposes)
            AND hub_segment_allows(g.segment, 'region', c.region)
            AND hub_segment_allows(g.segment, 'country', c.country)
            AND hub_segment_allows(g.segment, 'industry', c.industry)
            AND hub_segment_allows(g.segment, 'size', c.size)
            AND hub_segment_allows(g.segment, 'lifecycleStage', c.lifecycle_stage)
    $$
"""


def upgrade() -> None:
    op.execute(_CONSENTED)
    op.execute(_IN_SEGMENT)
    op.execute(_FITS)


def downgrade() -> None:
    op.execute(_FITS_BEFORE)
    op.execute("DROP FUNCTION hub_customer_in_segment(grants, customers)")
    op.execute("DROP FUNCTION hub_customer_consented(grants, customers)")
