"""An external identity provider's token names an organisation by slug before any is entered.

Revision ID: 20261123_idp
Revises: 20261123_auth
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_idp"
down_revision: str | None = "20261123_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Like client authentication: exactly the one organisation named in `hub.idp_org_slug`
    # (set LOCAL to the transaction) becomes readable, nothing else.
    op.execute(
        "CREATE POLICY identity_provider_lookup ON organisations FOR SELECT "
        "USING (slug = current_setting('hub.idp_org_slug', true))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY identity_provider_lookup ON organisations")
