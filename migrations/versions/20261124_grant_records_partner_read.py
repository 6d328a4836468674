"""A partner reads the explicit records of the grants made to it, never of others' grants.

The grant API shows a partner which records a grant names (they are the records it was given);
`granted_to_me` already lets it read the grant itself. Reading stays the only right: hub_app has
no UPDATE on grant_records, and INSERT/DELETE still pass `tenant_isolation` only.

Revision ID: 20261124_grant_records_read
Revises: 20261123_grants
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261124_grant_records_read"
down_revision: str | None = "20261123_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The grant is read under the caller's own policies, so only a grant made to the caller's
    # organisation (or by it) can make its records visible.
    op.execute(
        "CREATE POLICY granted_to_me ON grant_records FOR SELECT USING (EXISTS ("
        "SELECT 1 FROM grants WHERE grants.org_id = grant_records.org_id "
        "AND grants.id = grant_records.grant_id "
        "AND grants.partner_org_id = hub_current_org()))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY granted_to_me ON grant_records")
