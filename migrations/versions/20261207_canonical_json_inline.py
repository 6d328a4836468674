"""`hub_canonical_json` calls itself only for objects and arrays, and sets no search path.

The first version (20261207_canonical_json) was called once per value and switched the search
path on every call, which PostgreSQL pays for each time: a partner's page writes a document of
a few hundred values with every read. Scalars are now written where they are met, and the
function, which reads no table, takes the caller's search path (`public` is where it lives).
The text it writes is the same.

Revision ID: 20261207_canonical_json_inline
Revises: 20261207_canonical_json
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.revisions import revision_module

revision: str = "20261207_canonical_json_inline"
down_revision: str | None = "20261207_canonical_json"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CANONICAL = """
CREATE OR REPLACE FUNCTION hub_canonical_json(document jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    CASE jsonb_typeof(document)
    WHEN 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(
                to_json(key)::text || ':' || CASE WHEN jsonb_typeof(value) IN ('object', 'array')
                    THEN hub_canonical_json(value) ELSE value::text END,
                ',' ORDER BY key COLLATE "C")
            FROM jsonb_each(document)
        ), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce((
            SELECT string_agg(
                CASE WHEN jsonb_typeof(value) IN ('object', 'array')
                    THEN hub_canonical_json(value) ELSE value::text END,
                ',' ORDER BY position)
            FROM jsonb_array_elements(document) WITH ORDINALITY AS items(value, position)
        ), '') || ']';
    ELSE
        RETURN document::text;
    END CASE;
END
$$
"""


def upgrade() -> None:
    op.execute(_CANONICAL)


def downgrade() -> None:
    previous = revision_module("20261207_canonical_json")
    op.execute(previous._CANONICAL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
