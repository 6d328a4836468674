"""Partnership lifecycle: both sides write their own moves, and see each other's organisation.

Revision ID: 20261123_partners
Revises: 20261123_idp
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_partners"
down_revision: str | None = "20261123_idp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The moves the partner side may make on a row it does not own (DESIGN 1: it accepts an
# invitation, or declines / leaves). Resuming a suspension or changing the role is the owner's:
# if the partner could do either through a raw UPDATE, a suspension would not stop data flowing.
_PARTNER_MOVES = """
CREATE FUNCTION hub_partnership_partner_moves() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.partner_org_id = hub_current_org() AND OLD.org_id <> hub_current_org() THEN
        IF NEW.role <> OLD.role OR NOT (
            NEW.status = OLD.status
            OR (OLD.status = 'INVITED' AND NEW.status = 'ACTIVE')
            OR (OLD.status <> 'ENDED' AND NEW.status = 'ENDED')
        ) THEN
            RAISE EXCEPTION 'the partner side may only accept or end a partnership'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.create_check_constraint("not_self", "partnerships", "org_id <> partner_org_id")
    # Keys never change: only the role, the status and its timestamp are updatable.
    op.execute("GRANT INSERT ON partnerships TO hub_app")
    op.execute("GRANT UPDATE (role, status, updated_at) ON partnerships TO hub_app")
    # The owner invites, suspends, resumes and ends its own partnerships (its `org_id`) ...
    op.execute(
        "CREATE POLICY tenant_isolation ON partnerships "
        "USING (org_id = hub_current_org()) WITH CHECK (org_id = hub_current_org())"
    )
    # ... the partner accepts or ends the ones naming it, and nothing else (trigger below).
    op.execute(
        "CREATE POLICY partner_side_update ON partnerships FOR UPDATE "
        "USING (partner_org_id = hub_current_org()) "
        "WITH CHECK (partner_org_id = hub_current_org())"
    )
    op.execute(_PARTNER_MOVES)
    op.execute(
        "CREATE TRIGGER partner_moves BEFORE UPDATE ON partnerships "
        "FOR EACH ROW EXECUTE FUNCTION hub_partnership_partner_moves()"
    )
    # Each side may read the other side's name and slug, and no other organisation's: a
    # partner of the same owner is not linked to this one, so it stays invisible.
    op.execute(
        "CREATE POLICY partnership_counterpart ON organisations FOR SELECT USING (EXISTS ("
        "SELECT FROM partnerships p WHERE "
        "(p.org_id = hub_current_org() AND p.partner_org_id = organisations.id) "
        "OR (p.partner_org_id = hub_current_org() AND p.org_id = organisations.id)))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY partnership_counterpart ON organisations")
    op.execute("DROP TRIGGER partner_moves ON partnerships")
    op.execute("DROP FUNCTION hub_partnership_partner_moves()")
    op.execute("DROP POLICY partner_side_update ON partnerships")
    op.execute("DROP POLICY tenant_isolation ON partnerships")
    op.execute("REVOKE UPDATE (role, status, updated_at) ON partnerships FROM hub_app")
    op.execute("REVOKE INSERT ON partnerships FROM hub_app")
    op.drop_constraint("ck_partnerships_not_self", "partnerships")
