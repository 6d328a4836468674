"""`hub_audit_fold` groups a batch's records before it spreads them over their fields.

A disclosure lists each record once per grant, in a group with the fields it crossed with
(`hub.audit.disclosures.documents_of`), so a batch's records are counted per record, partner,
grant and set of fields first, and only those counts are spread over the fields: a page of 50
opportunities with four fields no longer makes 200 rows per read for the grouping, but 50
(ADR 0021). What it writes is unchanged.

Revision ID: 20261208_fold_by_field_sets
Revises: 20261208_record_ids_unindexed
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.revisions import revision_module

revision: str = "20261208_fold_by_field_sets"
down_revision: str | None = "20261208_record_ids_unindexed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOLD = """
CREATE OR REPLACE FUNCTION hub_audit_fold(chain uuid, after_seq bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public SET work_mem = '64MB' AS $$
WITH sealed AS MATERIALIZED (
    SELECT e.id, e.actor_org_id, e.created_at, e.details
    FROM audit_events e
    WHERE e.org_id = chain AND e.seq > after_seq AND e.type = 'disclosure'
), groups AS MATERIALIZED (
    SELECT e.actor_org_id AS partner, e.created_at AS at,
           g.value->>'grant_id' AS grant_id, g.value->>'purpose' AS purpose,
           s.value->>'kind' AS kind, s.value->'ids' AS ids,
           s.value->'customer_ids' AS customer_ids, s.value->'fields' AS fields
    FROM sealed e,
        jsonb_array_elements(e.details->'grants') g,
        jsonb_array_elements(g.value->'records') s
    WHERE s.value ? 'customer_ids'
), per_fields AS (
    -- A record is listed once per event and grant: each row here is one event.
    SELECT r.id::uuid AS id, s.partner, s.grant_id::uuid AS grant_id, s.fields,
           min(r.customer_id) AS customer_id, min(s.kind) AS kind, min(s.purpose) AS purpose,
           min(s.at) AS first_at, max(s.at) AS last_at, count(*) AS times
    FROM groups s,
        ROWS FROM (
            jsonb_array_elements_text(s.ids),
            jsonb_array_elements_text(s.customer_ids)
        ) r(id, customer_id)
    GROUP BY 1, 2, 3, 4
)
INSERT INTO disclosures AS d (
    org_id, subject_id, partner_org_id, grant_id, field, customer_id,
    subject_kind, purpose, first_at, last_at, times
)
SELECT chain, p.id, p.partner, p.grant_id, f.field COLLATE "C", min(p.customer_id)::uuid,
       min(p.kind), min(p.purpose), min(p.first_at), max(p.last_at), sum(p.times)
FROM per_fields p, jsonb_array_elements_text(p.fields) f(field)
GROUP BY p.id, p.partner, p.grant_id, f.field COLLATE "C"
ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO UPDATE
    SET first_at = least(d.first_at, excluded.first_at),
        last_at = greatest(d.last_at, excluded.last_at),
        times = d.times + excluded.times
$$
"""


def upgrade() -> None:
    op.execute(_FOLD)


def downgrade() -> None:
    op.execute(revision_module("20261207_narrow_fold")._FOLD)
