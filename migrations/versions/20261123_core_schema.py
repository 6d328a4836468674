"""Core schema: organisations, people, clients, CRM records, the application role and RLS.

Revision ID: 20261123_core
Revises:
Create Date: 2026-11-23 12:59:05.518470
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("private_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "api_clients",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("allowed_scopes", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_api_clients_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_api_clients")),
    )
    op.create_index("uq_api_clients_client_id", "api_clients", ["client_id"], unique=True)
    op.create_table(
        "customers",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column(
            "lifecycle_stage",
            sa.Enum(
                "SUSPECT",
                "PROSPECT",
                "CUSTOMER",
                "CLIENT",
                "SUPPORTER",
                "ADVOCATE",
                name="lifecyclestage",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "size",
            sa.Enum(
                "SMALL",
                "MEDIUM",
                "LARGE",
                "ENTERPRISE",
                name="companysize",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("consent_purposes", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_customers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_customers")),
    )
    op.create_index("ix_customers_org_id_name", "customers", ["org_id", "name"], unique=False)
    op.create_index(
        "ix_customers_org_id_name_trgm",
        "customers",
        ["org_id", "name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index("ix_customers_org_id_region", "customers", ["org_id", "region"], unique=False)
    op.create_table(
        "partnerships",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "VENDOR",
                "SUPPLIER",
                "DISTRIBUTOR",
                "RESELLER",
                name="partnerrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "INVITED",
                "ACTIVE",
                "SUSPENDED",
                "ENDED",
                name="partnershipstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_partnerships_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["partner_org_id"],
            ["organisations.id"],
            name=op.f("fk_partnerships_partner_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_partnerships")),
    )
    op.create_index(
        "ix_partnerships_partner_org_id", "partnerships", ["partner_org_id"], unique=False
    )
    op.create_index(
        "uq_partnerships_org_id_partner_org_id",
        "partnerships",
        ["org_id", "partner_org_id"],
        unique=True,
    )
    op.create_table(
        "users",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "ADMIN", "MANAGER", "SALES", "SUPPORT", name="role", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_users_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_users")),
    )
    op.create_index("uq_users_org_id_email", "users", ["org_id", "email"], unique=True)
    op.create_table(
        "cases",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "LOW", "NORMAL", "HIGH", "URGENT", name="casepriority", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "NEW",
                "OPEN",
                "PENDING_PARTNER",
                "PENDING_CUSTOMER",
                "ESCALATED",
                "RESOLVED",
                "CLOSED",
                name="casestatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("raised_by_org_id", sa.Uuid(), nullable=False),
        sa.Column("raised_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("raised_by_client_id", sa.String(length=64), nullable=True),
        sa.Column("assignee_user_id", sa.Uuid(), nullable=True),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction_score", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "satisfaction_score IS NULL OR satisfaction_score BETWEEN 1 AND 5",
            name=op.f("ck_cases_satisfaction_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "assignee_user_id"],
            ["users.org_id", "users.id"],
            name=op.f("fk_cases_org_id_assignee_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_cases_org_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_cases_raised_by_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_cases")),
    )
    op.create_index(
        "ix_cases_org_id_created_at_id", "cases", ["org_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_cases_org_id_customer_id", "cases", ["org_id", "customer_id"], unique=False)
    op.create_index("ix_cases_org_id_status", "cases", ["org_id", "status"], unique=False)
    op.create_index(
        "ix_cases_org_id_subject_trgm",
        "cases",
        ["org_id", "subject"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"subject": "gin_trgm_ops"},
    )
    op.create_table(
        "contacts",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("job_title", sa.String(length=120), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_contacts_org_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_contacts")),
    )
    op.create_index(
        "ix_contacts_org_id_customer_id", "contacts", ["org_id", "customer_id"], unique=False
    )
    op.create_table(
        "opportunities",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "PROSPECTING",
                "QUALIFICATION",
                "PROPOSAL",
                "NEGOTIATION",
                "CLOSED_WON",
                "CLOSED_LOST",
                name="opportunitystage",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("owner_user_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_partnership_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "DIRECT",
                "PARTNER_REGISTERED",
                name="opportunitysource",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("next_step", sa.String(length=500), nullable=True),
        sa.Column("internal_notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
        sa.CheckConstraint("amount >= 0", name=op.f("ck_opportunities_amount_not_negative")),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_opportunities_probability_percent")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "assigned_partnership_id"],
            ["partnerships.org_id", "partnerships.id"],
            name=op.f("fk_opportunities_org_id_assigned_partnership_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_opportunities_org_id_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "owner_user_id"],
            ["users.org_id", "users.id"],
            name=op.f("fk_opportunities_org_id_owner_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_opportunities")),
    )
    op.create_index(
        "ix_opportunities_org_id_created_at_id",
        "opportunities",
        ["org_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_opportunities_org_id_customer_id",
        "opportunities",
        ["org_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        "ix_opportunities_org_id_name_trgm",
        "opportunities",
        ["org_id", "name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_opportunities_org_id_owner_user_id",
        "opportunities",
        ["org_id", "owner_user_id"],
        unique=False,
    )
    op.create_index(
        "ix_opportunities_org_id_stage", "opportunities", ["org_id", "stage"], unique=False
    )
    op.create_table(
        "case_comments",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("author_org_id", sa.Uuid(), nullable=False),
        sa.Column("author_user_id", sa.Uuid(), nullable=True),
        sa.Column("author_client_id", sa.String(length=64), nullable=True),
        sa.Column(
            "visibility",
            sa.Enum("SHARED", "INTERNAL", name="commentvisibility", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["author_org_id"],
            ["organisations.id"],
            name=op.f("fk_case_comments_author_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "case_id"],
            ["cases.org_id", "cases.id"],
            name=op.f("fk_case_comments_org_id_case_id_cases"),
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_case_comments")),
    )
    op.create_index(
        "ix_case_comments_org_id_case_id_created_at",
        "case_comments",
        ["org_id", "case_id", "created_at"],
        unique=False,
    )
    _enum_checks()
    _application_role()
    _row_level_security()


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS hub_current_org() CASCADE")
    op.drop_index("ix_case_comments_org_id_case_id_created_at", table_name="case_comments")
    op.drop_table("case_comments")
    op.drop_index("ix_opportunities_org_id_stage", table_name="opportunities")
    op.drop_index("ix_opportunities_org_id_owner_user_id", table_name="opportunities")
    op.drop_index(
        "ix_opportunities_org_id_name_trgm",
        table_name="opportunities",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_index("ix_opportunities_org_id_customer_id", table_name="opportunities")
    op.drop_index("ix_opportunities_org_id_created_at_id", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_index("ix_contacts_org_id_customer_id", table_name="contacts")
    op.drop_table("contacts")
    op.drop_index(
        "ix_cases_org_id_subject_trgm",
        table_name="cases",
        postgresql_using="gin",
        postgresql_ops={"subject": "gin_trgm_ops"},
    )
    op.drop_index("ix_cases_org_id_status", table_name="cases")
    op.drop_index("ix_cases_org_id_customer_id", table_name="cases")
    op.drop_index("ix_cases_org_id_created_at_id", table_name="cases")
    op.drop_table("cases")
    op.drop_index("uq_users_org_id_email", table_name="users")
    op.drop_table("users")
    op.drop_index("uq_partnerships_org_id_partner_org_id", table_name="partnerships")
    op.drop_index("ix_partnerships_partner_org_id", table_name="partnerships")
    op.drop_table("partnerships")
    op.drop_index("ix_customers_org_id_region", table_name="customers")
    op.drop_index(
        "ix_customers_org_id_name_trgm",
        table_name="customers",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_index("ix_customers_org_id_name", table_name="customers")
    op.drop_table("customers")
    op.drop_index("uq_api_clients_client_id", table_name="api_clients")
    op.drop_table("api_clients")
    op.drop_table("signing_keys")
    op.drop_table("organisations")


ENUM_VALUES = {
    ("users", "role"): ("ADMIN", "MANAGER", "SALES", "SUPPORT"),
    ("partnerships", "role"): ("VENDOR", "SUPPLIER", "DISTRIBUTOR", "RESELLER"),
    ("partnerships", "status"): ("INVITED", "ACTIVE", "SUSPENDED", "ENDED"),
    ("customers", "lifecycle_stage"): (
        "SUSPECT",
        "PROSPECT",
        "CUSTOMER",
        "CLIENT",
        "SUPPORTER",
        "ADVOCATE",
    ),
    ("customers", "size"): ("SMALL", "MEDIUM", "LARGE", "ENTERPRISE"),
    ("opportunities", "stage"): (
        "PROSPECTING",
        "QUALIFICATION",
        "PROPOSAL",
        "NEGOTIATION",
        "CLOSED_WON",
        "CLOSED_LOST",
    ),
    ("opportunities", "source"): ("DIRECT", "PARTNER_REGISTERED"),
    ("cases", "priority"): ("LOW", "NORMAL", "HIGH", "URGENT"),
    ("cases", "status"): (
        "NEW",
        "OPEN",
        "PENDING_PARTNER",
        "PENDING_CUSTOMER",
        "ESCALATED",
        "RESOLVED",
        "CLOSED",
    ),
    ("case_comments", "visibility"): ("SHARED", "INTERNAL"),
}

# Tables whose rows belong to one organisation; each gets forced row-level security.
TENANT_TABLES = (
    "users",
    "api_clients",
    "customers",
    "contacts",
    "opportunities",
    "cases",
    "case_comments",
)


def _enum_checks() -> None:
    """Enumerations are text with a CHECK, so raw SQL cannot store a value the code rejects."""
    for (table, column), values in ENUM_VALUES.items():
        allowed = ", ".join(f"'{value}'" for value in values)
        op.create_check_constraint(f"{column}_allowed", table, f"{column} IN ({allowed})")
    op.create_check_constraint("currency_iso", "opportunities", "currency ~ '^[A-Z]{3}$'")


def _application_role() -> None:
    """The role the hub connects as: it owns nothing and cannot bypass row-level security."""
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_app') THEN
                CREATE ROLE hub_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO hub_app")
    op.execute("GRANT SELECT ON organisations TO hub_app")
    op.execute("GRANT SELECT, INSERT, UPDATE ON signing_keys TO hub_app")
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO hub_app")
    op.execute("GRANT DELETE ON contacts TO hub_app")


def _row_level_security() -> None:
    """The second wall (DESIGN 2.2): every tenant row is keyed on the transaction's organisation.

    `hub.org_id` is set with SET LOCAL by the access layer; unset, it reads as NULL and
    no row matches, so a forgotten setting shows nothing rather than everything.
    """
    op.execute(
        """
        CREATE FUNCTION hub_current_org() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT nullif(current_setting('hub.org_id', true), '')::uuid $$
        """
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (org_id = hub_current_org()) WITH CHECK (org_id = hub_current_org())"
        )
    op.execute("ALTER TABLE organisations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organisations FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY own_organisation ON organisations FOR SELECT USING (id = hub_current_org())"
    )
    op.execute("ALTER TABLE partnerships ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE partnerships FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY either_side ON partnerships FOR SELECT "
        "USING (org_id = hub_current_org() OR partner_org_id = hub_current_org())"
    )
    op.execute("GRANT SELECT ON partnerships TO hub_app")
    # The token endpoint authenticates a client before it knows the organisation: it may
    # read exactly the one client row named in `hub.auth_client_id`, nothing else.
    op.execute(
        "CREATE POLICY client_authentication ON api_clients FOR SELECT "
        "USING (client_id = current_setting('hub.auth_client_id', true))"
    )
