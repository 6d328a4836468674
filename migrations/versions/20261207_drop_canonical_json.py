"""`hub_canonical_json` goes: disclosure documents are written as text directly (ADR 0019).

Calling the function for every object and array of a document made a partner's read call a
function more often than it ran statements, and writing the document's text where it is built
(its shape is fixed) costs PostgreSQL no less. Nothing else called it.

Revision ID: 20261207_drop_canonical_json
Revises: 20261207_canonical_json_inline
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "20261207_drop_canonical_json"
down_revision: str | None = "20261207_canonical_json_inline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP FUNCTION hub_canonical_json(jsonb)")


def downgrade() -> None:
    path = Path(__file__).with_name("20261207_canonical_json_inline.py")
    spec = importlib.util.spec_from_file_location("canonical_json_inline", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot read {path}")
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(previous._CANONICAL)
