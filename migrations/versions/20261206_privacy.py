"""Privacy notices, and the one narrow way to write them (ADR 0013).

`privacy_notices` is a tenant table of the owner's (`org_id`) that names the partner it is
addressed to (`partner_org_id`). Row-level security, forced:
- the owner reads the notices it sent; the partner reads the notices addressed to it;
- the partner may set `acknowledged_at`/`acknowledged_by` (column grants) on its own notices,
  once (`USING acknowledged_at IS NULL`, `WITH CHECK acknowledged_at IS NOT NULL`);
- nobody deletes one, and the application role never inserts one.

Telling partners is a write into rows another organisation reads, so it goes through
`hub_privacy_notify(subject, kind)`, a SECURITY DEFINER function owned by the NOLOGIN role
`hub_privacy`: it inserts, for the caller's own organisation only (`hub_current_org()`), one
notice per partner that the organisation's disclosure index says received fields of that
customer (with its contacts) or contact, listing those fields, and nothing for anyone else.
Its unique key (org_id, subject_id, partner_org_id) makes a second erasure tell nobody twice.

Erasure also anonymises the customer's name and domain as a partner registered them on deal
registrations linked to the customer: the owner gets UPDATE on those two columns, under its
existing `owner_reviews` policy.

Revision ID: 20261206_privacy
Revises: 20261128_audit_events_api
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261206_privacy"
down_revision: str | None = "20261128_audit_events_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOTIFY_SIGNATURE = "hub_privacy_notify(uuid, text)"
_NOTIFY = """
CREATE FUNCTION hub_privacy_notify(subject uuid, kind text) RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    owner uuid := hub_current_org();
BEGIN
    IF owner IS NULL THEN
        RAISE EXCEPTION 'hub_privacy_notify: no organisation is set';
    END IF;
    IF kind NOT IN ('Customer', 'Contact') THEN
        RAISE EXCEPTION 'hub_privacy_notify: unknown subject kind %', kind;
    END IF;
    RETURN QUERY
    INSERT INTO privacy_notices AS n
        (org_id, id, partner_org_id, subject_id, subject_kind, customer_id, fields)
    SELECT owner, gen_random_uuid(), d.partner_org_id, subject, kind,
           (array_agg(d.customer_id))[1],
           array_agg(DISTINCT d.subject_kind || '.' || d.field
                     ORDER BY d.subject_kind || '.' || d.field)
    FROM disclosures d
    WHERE d.org_id = owner
      AND ((kind = 'Customer' AND d.customer_id = subject)
           OR (kind = 'Contact' AND d.subject_id = subject))
    GROUP BY d.partner_org_id
    ON CONFLICT (org_id, subject_id, partner_org_id) DO NOTHING
    RETURNING n.partner_org_id;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "privacy_notices",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_org_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("fields", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_privacy_notices_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_org_id"],
            ["organisations.id"],
            name=op.f("fk_privacy_notices_partner_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_privacy_notices")),
    )
    op.create_index(
        "uq_privacy_notices_org_id_subject_id_partner_org_id",
        "privacy_notices",
        ["org_id", "subject_id", "partner_org_id"],
        unique=True,
    )
    op.create_index(
        "ix_privacy_notices_org_id_created_at_id",
        "privacy_notices",
        ["org_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_privacy_notices_partner_org_id_created_at_id",
        "privacy_notices",
        ["partner_org_id", "created_at", "id"],
        unique=False,
    )

    op.execute("ALTER TABLE privacy_notices ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE privacy_notices FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY owner_reads_sent ON privacy_notices FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org())"
    )
    op.execute(
        "CREATE POLICY partner_reads_own ON privacy_notices FOR SELECT TO hub_app "
        "USING (partner_org_id = hub_current_org())"
    )
    op.execute(
        "CREATE POLICY partner_acknowledges_once ON privacy_notices FOR UPDATE TO hub_app "
        "USING (partner_org_id = hub_current_org() AND acknowledged_at IS NULL) "
        "WITH CHECK (partner_org_id = hub_current_org() AND acknowledged_at IS NOT NULL)"
    )
    op.execute("GRANT SELECT ON privacy_notices TO hub_app")
    op.execute("GRANT UPDATE (acknowledged_at, acknowledged_by) ON privacy_notices TO hub_app")

    # The writer of notices: a role nobody logs in as, with sight of the caller's disclosures.
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_privacy') THEN
                CREATE ROLE hub_privacy NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO hub_privacy")
    op.execute("GRANT SELECT ON disclosures TO hub_privacy")
    op.execute(
        "CREATE POLICY privacy_reads_own ON disclosures FOR SELECT TO hub_privacy "
        "USING (org_id = hub_current_org())"
    )
    op.execute("GRANT SELECT, INSERT ON privacy_notices TO hub_privacy")
    op.execute(
        "CREATE POLICY privacy_reads_sent ON privacy_notices FOR SELECT TO hub_privacy "
        "USING (org_id = hub_current_org())"
    )
    op.execute(
        "CREATE POLICY privacy_notifies ON privacy_notices FOR INSERT TO hub_privacy "
        "WITH CHECK (org_id = hub_current_org() AND acknowledged_at IS NULL "
        "AND acknowledged_by IS NULL)"
    )
    op.execute(_NOTIFY)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_privacy")
    op.execute(
        f"ALTER FUNCTION {_NOTIFY_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public"
    )
    op.execute(f"ALTER FUNCTION {_NOTIFY_SIGNATURE} OWNER TO hub_privacy")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_privacy")
    op.execute(f"REVOKE ALL ON FUNCTION {_NOTIFY_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_NOTIFY_SIGNATURE} TO hub_app, CURRENT_USER")

    op.execute("GRANT UPDATE (customer_name, customer_domain) ON deal_registrations TO hub_app")


def downgrade() -> None:
    op.execute("REVOKE UPDATE (customer_name, customer_domain) ON deal_registrations FROM hub_app")
    op.execute(f"DROP FUNCTION {_NOTIFY_SIGNATURE}")
    op.execute("DROP POLICY privacy_reads_own ON disclosures")
    op.execute("REVOKE ALL ON disclosures FROM hub_privacy")
    op.drop_table("privacy_notices")
    op.execute("REVOKE USAGE ON SCHEMA public FROM hub_privacy")
    op.execute("DROP ROLE IF EXISTS hub_privacy")
