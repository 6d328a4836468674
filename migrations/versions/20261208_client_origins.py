"""An API client names the web origins its pages call the hub from (CORS).

A browser asks before a portal's page may call `/graphql` or `/oauth/token` from another
origin (a preflight, with no token), so the hub must tell from the origin alone whether some
client registered it: `hub_origin_allowed(origin)` answers exactly that, as the NOLOGIN role
`hub_origins`, which may read the origins and the disabled flag of every client and nothing
else. The application role keeps seeing only its organisation's clients.

Revision ID: 20261208_client_origins
Revises: 20261208_inline_documents
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261208_client_origins"
down_revision: str | None = "20261208_inline_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "hub_origin_allowed(text)"
_ORIGIN_ALLOWED = """
CREATE FUNCTION hub_origin_allowed(origin text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT FROM api_clients c
        WHERE c.disabled_at IS NULL AND origin = ANY (c.allowed_origins)
    )
$$
"""


def upgrade() -> None:
    op.add_column(
        "api_clients",
        sa.Column(
            "allowed_origins",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    op.execute("""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_origins') THEN
                CREATE ROLE hub_origins NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END
        $$""")
    op.execute("GRANT USAGE ON SCHEMA public TO hub_origins")
    op.execute("GRANT SELECT (allowed_origins, disabled_at) ON api_clients TO hub_origins")
    op.execute("CREATE POLICY origin_check ON api_clients FOR SELECT TO hub_origins USING (true)")
    op.execute(_ORIGIN_ALLOWED)
    # A new owner needs CREATE on the schema; it keeps it only while it takes the function.
    op.execute("GRANT CREATE ON SCHEMA public TO hub_origins")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public")
    op.execute(f"ALTER FUNCTION {_SIGNATURE} OWNER TO hub_origins")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_origins")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_SIGNATURE} TO hub_app")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_SIGNATURE}")
    op.execute("DROP POLICY origin_check ON api_clients")
    op.execute("REVOKE SELECT (allowed_origins, disabled_at) ON api_clients FROM hub_origins")
    op.execute("REVOKE USAGE ON SCHEMA public FROM hub_origins")
    op.drop_column("api_clients", "allowed_origins")
