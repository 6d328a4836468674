"""`hub_canonical_json` goes: disclosure documents are written as text directly (ADR 0019).

Calling the function for every object and array of a document made a partner's read call a
function more often than it ran statements, and writing the document's text where it is built
(its shape is fixed) costs PostgreSQL no less. Nothing else called it.

Revision ID: 20261207_drop_canonical_json
Revises: 20261207_canonical_json_inline
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.revisions import revision_module

revision: str = "20261207_drop_canonical_json"
down_revision: str | None = "20261207_canonical_json_inline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP FUNCTION hub_canonical_json(jsonb)")


def downgrade() -> None:
    previous = revision_module("20261207_canonical_json_inline")
    op.execute(previous._CANONICAL)
