"""Deal registrations (ADR 0009): the partner registers, the owner reviews, first to register wins.

A registration is a row of the owner (`org_id`) naming the partner (`partner_org_id`). The owner
reads its queue and reviews it; the partner inserts registrations for its own ACTIVE partnerships
and reads only its own; nobody deletes. The conflict rule (`hub_same_company`) and the
first-to-register rule (`hub_deal_claimed_by_another`) live here, in one place, because the
registering partner must learn whether its deal is already claimed without being able to read
another partner's registration: only a SECURITY DEFINER function can answer that one bit.

Revision ID: 20261125_deal_registrations
Revises: 20261125_partner_visibility
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261125_deal_registrations"
down_revision: str | None = "20261125_partner_visibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Words that name a legal form, not a company: "Acme Corp" and "ACME Corporation Ltd" are one.
_LEGAL_FORMS = (
    "the|inc|incorporated|corp|corporation|co|company|ltd|limited|llc|llp|plc|gmbh|ag|sa|sas|"
    "sarl|bv|nv|srl|spa|oy|ab|kg|pty|group|holding|holdings"
)

# Lower case, punctuation as spaces, legal forms dropped; a name that is nothing but legal
# forms ("The Company Ltd") keeps them rather than becoming empty. SQL-standard bodies bind
# their functions at creation, so index expressions never depend on a search_path.
_COMPANY_KEY = rf"""
CREATE FUNCTION hub_company_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN coalesce(
    nullif(btrim(regexp_replace(
        regexp_replace(lower(name), '[[:punct:][:space:]]+', ' ', 'g'),
        '(^| )({_LEGAL_FORMS})(?= |$)', '', 'g')), ''),
    btrim(regexp_replace(lower(name), '[[:punct:][:space:]]+', ' ', 'g'))
)
"""

_COMPANY_DOMAIN = r"""
CREATE FUNCTION hub_company_domain(domain text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN nullif(regexp_replace(rtrim(lower(btrim(domain)), '.'), '^www\.', ''), '')
"""

# The one threshold of the conflict rule (ADR 0009).
_NAME_SIMILARITY = """
CREATE FUNCTION hub_deal_name_similarity() RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 0.5
"""

# Two companies look like the same one: the same normalised domain, or normalised names with
# trigram similarity at or above the threshold. Symmetric, so "A conflicts with B" is "B with A".
_SAME_COMPANY = """
CREATE FUNCTION hub_same_company(name_a text, domain_a text, name_b text, domain_b text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(hub_company_domain(domain_a) = hub_company_domain(domain_b), false)
    OR similarity(hub_company_key(name_a), hub_company_key(name_b)) >= hub_deal_name_similarity()
"""

# First to register wins: another partner's registration of the same company holds the deal
# while it is PENDING and was registered earlier, or while it is APPROVED and protected (by
# PostgreSQL's clock). Only a PENDING registration can be held; the answer is given only to its
# owner and to its partner (anyone else gets false), and it is one bit: never which registration
# or which partner. SECURITY DEFINER because the partner's own policies hide the others' rows.
_CLAIMED_BY_ANOTHER = """
CREATE FUNCTION hub_deal_claimed_by_another(owner uuid, registration uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
BEGIN ATOMIC
    SELECT EXISTS (
        SELECT FROM deal_registrations mine
        JOIN deal_registrations other ON other.org_id = mine.org_id
        WHERE mine.org_id = owner
          AND mine.id = registration
          AND mine.status = 'PENDING'
          AND hub_current_org() IN (mine.org_id, mine.partner_org_id)
          AND other.partner_org_id <> mine.partner_org_id
          AND (
              (other.status = 'PENDING'
               AND (other.created_at, other.id) < (mine.created_at, mine.id))
              OR (other.status = 'APPROVED' AND other.protected_until > now())
          )
          AND hub_same_company(
              mine.customer_name, mine.customer_domain,
              other.customer_name, other.customer_domain
          )
    );
END
"""

# What the application may write. `created_at` is not among the inserted columns: it is always
# the database's `now()`, so no raw INSERT can backdate a registration to win a conflict.
_INSERTABLE = (
    "org_id, id, partnership_id, partner_org_id, customer_name, customer_domain, amount, "
    "currency, expected_close_date, product, status, registered_by, version"
)
_REVIEWABLE = (
    "status, rejection_reason, opportunity_id, protected_until, reviewed_by, reviewed_at, version"
)


def upgrade() -> None:
    op.execute(_COMPANY_KEY)
    op.execute(_COMPANY_DOMAIN)
    op.execute(_NAME_SIMILARITY)
    op.execute(_SAME_COMPANY)
    op.create_table(
        "deal_registrations",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("partner_org_id", sa.Uuid(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_domain", sa.String(length=253), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING", "APPROVED", "REJECTED", name="dealstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("rejection_reason", sa.String(length=1000), nullable=True),
        sa.Column("opportunity_id", sa.Uuid(), nullable=True),
        sa.Column("protected_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_deal_registrations_amount_not_negative")),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ck_deal_registrations_currency_iso")
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'REJECTED')",
            name=op.f("ck_deal_registrations_status_allowed"),
        ),
        sa.CheckConstraint(
            "(status = 'APPROVED') = (opportunity_id IS NOT NULL AND protected_until IS NOT NULL)",
            name=op.f("ck_deal_registrations_approved_links_and_protects"),
        ),
        sa.CheckConstraint(
            "(status = 'REJECTED') = (rejection_reason IS NOT NULL)",
            name=op.f("ck_deal_registrations_rejected_with_reason"),
        ),
        sa.CheckConstraint(
            "(status = 'PENDING') = (reviewed_at IS NULL AND reviewed_by IS NULL)",
            name=op.f("ck_deal_registrations_reviewed_unless_pending"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "partnership_id", "partner_org_id"],
            ["partnerships.org_id", "partnerships.id", "partnerships.partner_org_id"],
            name=op.f("fk_deal_registrations_org_id_partnership_id_partner_org_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "opportunity_id"],
            ["opportunities.org_id", "opportunities.id"],
            name=op.f("fk_deal_registrations_org_id_opportunity_id_opportunities"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_deal_registrations")),
    )
    for name, columns in (
        ("ix_deal_registrations_org_id_created_at_id", ["org_id", "created_at", "id"]),
        ("ix_deal_registrations_org_id_status", ["org_id", "status"]),
        (
            "ix_deal_registrations_partner_org_id_created_at_id",
            ["partner_org_id", "created_at", "id"],
        ),
        ("ix_deal_registrations_org_id_partnership_id", ["org_id", "partnership_id"]),
        ("ix_deal_registrations_org_id_opportunity_id", ["org_id", "opportunity_id"]),
        ("ix_deal_registrations_org_id_customer_domain", ["org_id", "customer_domain"]),
    ):
        op.create_index(name, "deal_registrations", columns)
    op.execute(
        "CREATE INDEX ix_deal_registrations_org_id_customer_key_trgm ON deal_registrations "
        "USING gin (org_id, hub_company_key(customer_name) gin_trgm_ops)"
    )
    # The owner's customers are searched for every registration in its queue.
    op.execute(
        "CREATE INDEX ix_customers_org_id_company_key_trgm ON customers "
        "USING gin (org_id, hub_company_key(name) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_customers_org_id_company_domain ON customers "
        "(org_id, hub_company_domain(domain))"
    )

    op.execute("ALTER TABLE deal_registrations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE deal_registrations FORCE ROW LEVEL SECURITY")
    # The owner reads its queue and reviews it; it never inserts a registration itself (a
    # registration is a partner's claim) and nobody deletes one.
    op.execute(
        "CREATE POLICY owner_reads ON deal_registrations FOR SELECT "
        "USING (org_id = hub_current_org())"
    )
    op.execute(
        "CREATE POLICY owner_reviews ON deal_registrations FOR UPDATE "
        "USING (org_id = hub_current_org()) WITH CHECK (org_id = hub_current_org())"
    )
    # The partner reads its own registrations, never another partner's ...
    op.execute(
        "CREATE POLICY partner_reads_own ON deal_registrations FOR SELECT "
        "USING (partner_org_id = hub_current_org())"
    )
    # ... and registers, unreviewed, only through an ACTIVE partnership that names it (read
    # under its own policies on partnerships).
    op.execute(
        "CREATE POLICY partner_registers ON deal_registrations FOR INSERT WITH CHECK ("
        "partner_org_id = hub_current_org() "
        "AND status = 'PENDING' AND opportunity_id IS NULL AND protected_until IS NULL "
        "AND reviewed_at IS NULL AND reviewed_by IS NULL AND rejection_reason IS NULL "
        "AND EXISTS (SELECT FROM partnerships p WHERE p.org_id = deal_registrations.org_id "
        "AND p.id = deal_registrations.partnership_id "
        "AND p.partner_org_id = hub_current_org() AND p.status = 'ACTIVE'))"
    )
    # The referee function runs as this (the owning) role; FORCE applies policies to the owner
    # too unless it is a superuser or BYPASSRLS, so it is given sight of every row, for SELECT
    # only. hub_app is a different role and gains nothing from this policy.
    op.execute(
        "CREATE POLICY claim_referee ON deal_registrations FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(_CLAIMED_BY_ANOTHER)
    op.execute("REVOKE ALL ON FUNCTION hub_deal_claimed_by_another(uuid, uuid) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION hub_deal_claimed_by_another(uuid, uuid) TO hub_app")
    op.execute("GRANT SELECT ON deal_registrations TO hub_app")
    op.execute(f"GRANT INSERT ({_INSERTABLE}) ON deal_registrations TO hub_app")
    op.execute(f"GRANT UPDATE ({_REVIEWABLE}) ON deal_registrations TO hub_app")


def downgrade() -> None:
    op.execute("DROP FUNCTION hub_deal_claimed_by_another(uuid, uuid)")
    op.drop_table("deal_registrations")
    op.execute("DROP INDEX ix_customers_org_id_company_domain")
    op.execute("DROP INDEX ix_customers_org_id_company_key_trgm")
    op.execute("DROP FUNCTION hub_same_company(text, text, text, text)")
    op.execute("DROP FUNCTION hub_deal_name_similarity()")
    op.execute("DROP FUNCTION hub_company_domain(text)")
    op.execute("DROP FUNCTION hub_company_key(text)")
