"""`hub_audit_fold` groups narrow rows: the sealer's fold no longer sorts the documents.

The fold exploded each sealed disclosure into a row per record, grant and field, and those
rows carried the grant's and the record group's whole JSON to the grouping, for two of their
values: sealing 300 partner reads (a page of 50 opportunities and customers each) sorted
75,000 rows through 625 MB on disk and took 1.5 s, more than the reads. It also read the sealed
events through another index, filtering 100,000 rows. Now the sealed events come from the
(org_id, seq) index, each row is exploded to the text values grouped (its event, partner, time,
grant, purpose, kind, record, customer, field) before grouping, ids grouped as uuids and field
names by bytes, a record's events counted by grouping twice (per event, then over events)
rather than by a DISTINCT aggregate, all in memory (`work_mem` for its own statement). What
it writes is unchanged.

Revision ID: 20261207_narrow_fold
Revises: 20261207_drop_canonical_json
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.revisions import revision_module

revision: str = "20261207_narrow_fold"
down_revision: str | None = "20261207_drop_canonical_json"
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
    SELECT e.id AS event_id, e.actor_org_id AS partner, e.created_at AS at,
           g.value->>'grant_id' AS grant_id, g.value->>'purpose' AS purpose,
           s.value->>'kind' AS kind, s.value->'ids' AS ids,
           s.value->'customer_ids' AS customer_ids, s.value->'fields' AS fields
    FROM sealed e,
        jsonb_array_elements(e.details->'grants') g,
        jsonb_array_elements(g.value->'records') s
    WHERE s.value ? 'customer_ids'
), per_event AS (
    SELECT r.id::uuid AS id, s.partner, s.grant_id::uuid AS grant_id,
           f.field COLLATE "C" AS field, s.event_id, min(r.customer_id) AS customer_id,
           min(s.kind) AS kind, min(s.purpose) AS purpose, min(s.at) AS at
    FROM groups s,
        ROWS FROM (
            jsonb_array_elements_text(s.ids),
            jsonb_array_elements_text(s.customer_ids)
        ) r(id, customer_id),
        jsonb_array_elements_text(s.fields) f(field)
    GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO disclosures AS d (
    org_id, subject_id, partner_org_id, grant_id, field, customer_id,
    subject_kind, purpose, first_at, last_at, times
)
SELECT chain, i.id, i.partner, i.grant_id, i.field, min(i.customer_id)::uuid, min(i.kind),
       min(i.purpose), min(i.at), max(i.at), count(*)
FROM per_event i
GROUP BY i.id, i.partner, i.grant_id, i.field
ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO UPDATE
    SET first_at = least(d.first_at, excluded.first_at),
        last_at = greatest(d.last_at, excluded.last_at),
        times = d.times + excluded.times
$$
"""


def upgrade() -> None:
    op.execute(_FOLD)


def downgrade() -> None:
    sealing = revision_module("20261206_disclosure_sealing")
    op.execute(sealing._FOLD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("ALTER FUNCTION hub_audit_fold(uuid, bigint) RESET work_mem")
