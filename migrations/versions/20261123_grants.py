"""Grants and their explicit records (ADR 0008); indexes that serve partner visibility.

Also renames the one-organisation lookup by slug: it serves partnership invitations as well as
external identity providers now, so neither its policy nor its setting is named after the latter.

Revision ID: 20261123_grants
Revises: 20261123_partners
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_grants"
down_revision: str | None = "20261123_partners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.execute("DROP POLICY identity_provider_lookup ON organisations")
    op.execute(
        "CREATE POLICY lookup_by_slug ON organisations FOR SELECT "
        "USING (slug = current_setting('hub.lookup_org_slug', true))"
    )
    op.create_index(
        "uq_partnerships_org_id_id_partner_org_id",
        "partnerships",
        ["org_id", "id", "partner_org_id"],
        unique=True,
    )
    op.create_index(
        "ix_opportunities_org_id_assigned_partnership_id",
        "opportunities",
        ["org_id", "assigned_partnership_id"],
    )
    op.create_index("ix_cases_org_id_raised_by_org_id", "cases", ["org_id", "raised_by_org_id"])
    op.create_table(
        "grants",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("partner_org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "record_type",
            _enum("recordtype", ("CUSTOMERS", "OPPORTUNITIES", "CASES")),
            nullable=False,
        ),
        sa.Column("access", _enum("access", ("READ", "CONTRIBUTE", "WRITE")), nullable=False),
        sa.Column(
            "selection", _enum("selection", ("ASSIGNED", "SEGMENT", "EXPLICIT")), nullable=False
        ),
        sa.Column("segment", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("purpose", _enum("purpose", ("SALES", "SERVICE", "MARKETING")), nullable=False),
        sa.Column("field_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(selection = 'SEGMENT') = (segment IS NOT NULL)",
            name=op.f("ck_grants_segment_only_for_segments"),
        ),
        sa.CheckConstraint(
            "revoked_at IS NULL OR revoked_at >= created_at",
            name=op.f("ck_grants_revoked_after_granted"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "partnership_id", "partner_org_id"],
            ["partnerships.org_id", "partnerships.id", "partnerships.partner_org_id"],
            name=op.f("fk_grants_org_id_partnership_id_partner_org_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_grants")),
    )
    op.create_index("ix_grants_org_id_partnership_id", "grants", ["org_id", "partnership_id"])
    op.create_index(
        "ix_grants_partner_org_id_record_type", "grants", ["partner_org_id", "record_type"]
    )
    op.create_table(
        "grant_records",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "grant_id"],
            ["grants.org_id", "grants.id"],
            name=op.f("fk_grant_records_org_id_grant_id_grants"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_grant_records")),
    )
    op.create_index(
        "uq_grant_records_org_id_grant_id_record_id",
        "grant_records",
        ["org_id", "grant_id", "record_id"],
        unique=True,
    )
    op.create_index("ix_grant_records_org_id_record_id", "grant_records", ["org_id", "record_id"])
    for table in ("grants", "grant_records"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (org_id = hub_current_org()) WITH CHECK (org_id = hub_current_org())"
        )
    # A partner reads the grants made to it (to know what it may see), never others'.
    op.execute(
        "CREATE POLICY granted_to_me ON grants FOR SELECT "
        "USING (partner_org_id = hub_current_org())"
    )
    op.execute("GRANT SELECT, INSERT, UPDATE ON grants TO hub_app")
    op.execute("GRANT SELECT, INSERT, DELETE ON grant_records TO hub_app")


def downgrade() -> None:
    op.drop_table("grant_records")
    op.drop_table("grants")
    op.drop_index("ix_cases_org_id_raised_by_org_id", table_name="cases")
    op.drop_index("ix_opportunities_org_id_assigned_partnership_id", table_name="opportunities")
    op.drop_index("uq_partnerships_org_id_id_partner_org_id", table_name="partnerships")
    op.execute("DROP POLICY lookup_by_slug ON organisations")
    op.execute(
        "CREATE POLICY identity_provider_lookup ON organisations FOR SELECT "
        "USING (slug = current_setting('hub.idp_org_slug', true))"
    )
