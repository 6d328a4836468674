"""The ledger's canonical JSON, written by PostgreSQL too (ADR 0019).

`hub_canonical_json(document jsonb)` is the text `hub.audit.chain.canonical` makes of the same
JSON (Python's `json.dumps` with sorted keys, no spaces, UTF-8 as it is): keys in code point
order (`COLLATE "C"` orders UTF-8 by code point), strings escaped as both escape them (`"`, `\\`,
the short escapes and `\\u00xx` for other control characters, nothing else), numbers, booleans
and null as `jsonb` prints them. A statement that builds a disclosure event in SQL writes the
very text the chain will hash and `hub audit verify` will make again from the stored columns.

Revision ID: 20261207_canonical_json
Revises: 20261206_disclosure_sealing
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_canonical_json"
down_revision: str | None = "20261206_disclosure_sealing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CANONICAL = """
CREATE FUNCTION hub_canonical_json(document jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, public AS $$
BEGIN
    CASE jsonb_typeof(document)
    WHEN 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(to_json(key)::text || ':' || hub_canonical_json(value), ','
                              ORDER BY key COLLATE "C")
            FROM jsonb_each(document)
        ), '') || '}';
    WHEN 'array' THEN
        RETURN '[' || coalesce((
            SELECT string_agg(coalesce(hub_canonical_json(value), 'null'), ',' ORDER BY position)
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
    op.execute("DROP FUNCTION hub_canonical_json(jsonb)")
