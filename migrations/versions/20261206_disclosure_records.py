"""The disclosure index covers every record of a customer: its opportunities and cases too.

Until now `hub_audit_append` folded only the customers and contacts of a disclosure event into
`disclosures`, so "who has seen this customer's data?" left out partners that received only the
customer's opportunities or cases — whose names, next steps, subjects and descriptions erasure
anonymises, and whose partners must hear of it. The fold now takes every record group that
names its customers (`customer_ids`): customers, contacts, opportunities and cases; comments
and records without a customer stay out. The index keys are unchanged (the record is the
subject, its customer in `customer_id`), so the report and `hub_privacy_notify`, which select
by customer, take them in without change.

The disclosures of opportunities and cases already in the ledger are folded in once here.

Revision ID: 20261206_disclosure_records
Revises: 20261206_retention
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261206_disclosure_records"
down_revision: str | None = "20261206_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "hub_audit_append(uuid, text[])"

# The function as of 20261127_audit_ledger, with the condition on which record groups the
# disclosure index takes left open.
_APPEND = """
CREATE OR REPLACE FUNCTION hub_audit_append(chain uuid, events text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    me uuid := hub_current_org();
    document text;
    event jsonb;
    actor uuid;
    head_seq bigint;
    head_hash bytea;
BEGIN
    INSERT INTO audit_chain_heads (org_id, seq, hash)
        VALUES (chain, 0, decode(repeat('00', 32), 'hex'))
        ON CONFLICT (org_id) DO NOTHING;
    SELECT h.seq, h.hash INTO head_seq, head_hash
        FROM audit_chain_heads h WHERE h.org_id = chain FOR UPDATE;
    FOREACH document IN ARRAY events LOOP
        event := document::jsonb;
        actor := (event->>'actor_org_id')::uuid;
        -- An organisation writes its own chain and the hub's; a partner writes the chain of an
        -- owner it is partnered with, and only as itself (what it read, what it changed there).
        IF (event->>'org_id')::uuid IS DISTINCT FROM chain OR NOT (
            chain = '00000000-0000-0000-0000-000000000000'::uuid
            OR chain = me
            OR (actor = me AND EXISTS (
                SELECT FROM partnerships p WHERE p.org_id = chain AND p.partner_org_id = me))
        ) THEN
            RAISE EXCEPTION 'audit event for % may not be appended here', chain
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        head_seq := head_seq + 1;
        head_hash := sha256(
            head_hash || int8send(head_seq) || sha256(convert_to(document, 'UTF8'))
        );
        INSERT INTO audit_events (
            org_id, id, seq, hash, type, actor_org_id, actor_user_id, actor_client_id,
            request_id, source_address, record_ids, details, created_at
        ) VALUES (
            chain, (event->>'id')::uuid, head_seq, head_hash, event->>'type', actor,
            (event->>'actor_user_id')::uuid, event->>'actor_client_id', event->>'request_id',
            (event->>'source_address')::inet,
            ARRAY(SELECT jsonb_array_elements_text(event->'record_ids'))::uuid[],
            event->'details', (event->>'created_at')::timestamptz
        );
        IF event->>'type' = 'disclosure' THEN
            INSERT INTO disclosures AS d (
                org_id, subject_id, partner_org_id, grant_id, field, customer_id,
                subject_kind, purpose, first_at, last_at, times
            )
            SELECT DISTINCT ON (r.id, g.value->>'grant_id', f.field)
                chain, r.id::uuid, actor, (g.value->>'grant_id')::uuid, f.field,
                r.customer_id::uuid, s.value->>'kind', g.value->>'purpose',
                (event->>'created_at')::timestamptz, (event->>'created_at')::timestamptz, 1
            FROM jsonb_array_elements(event->'details'->'grants') g,
                jsonb_array_elements(g.value->'records') s,
                ROWS FROM (
                    jsonb_array_elements_text(s.value->'ids'),
                    jsonb_array_elements_text(s.value->'customer_ids')
                ) r(id, customer_id),
                jsonb_array_elements_text(s.value->'fields') f(field)
            WHERE {indexed}
            ORDER BY r.id, g.value->>'grant_id', f.field
            ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO UPDATE
                SET last_at = greatest(d.last_at, excluded.last_at), times = d.times + 1;
        END IF;
    END LOOP;
    UPDATE audit_chain_heads SET seq = head_seq, hash = head_hash WHERE org_id = chain;
END
$$
"""

_EVERY_RECORD_OF_A_CUSTOMER = "s.value ? 'customer_ids'"
_CUSTOMERS_AND_CONTACTS = "s.value->>'kind' IN ('Customer', 'Contact')"

# Opportunities and cases already disclosed: one index row per record, partner, grant and
# field, counted over the events that carried it.
_FOLD_EARLIER = """
INSERT INTO disclosures (
    org_id, subject_id, partner_org_id, grant_id, field, customer_id,
    subject_kind, purpose, first_at, last_at, times
)
SELECT e.org_id, r.id::uuid, e.actor_org_id, (g.value->>'grant_id')::uuid, f.field,
       min(r.customer_id)::uuid, min(s.value->>'kind'), min(g.value->>'purpose'),
       min(e.created_at), max(e.created_at), count(DISTINCT e.id)
FROM audit_events e,
    jsonb_array_elements(e.details->'grants') g,
    jsonb_array_elements(g.value->'records') s,
    ROWS FROM (
        jsonb_array_elements_text(s.value->'ids'),
        jsonb_array_elements_text(s.value->'customer_ids')
    ) r(id, customer_id),
    jsonb_array_elements_text(s.value->'fields') f(field)
WHERE e.type = 'disclosure'
  AND s.value ? 'customer_ids'
  AND s.value->>'kind' NOT IN ('Customer', 'Contact')
GROUP BY e.org_id, r.id, e.actor_org_id, g.value->>'grant_id', f.field
ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO NOTHING
"""


def upgrade() -> None:
    op.execute(_APPEND.replace("{indexed}", _EVERY_RECORD_OF_A_CUSTOMER))
    op.execute(_FOLD_EARLIER)


def downgrade() -> None:
    op.execute(_APPEND.replace("{indexed}", _CUSTOMERS_AND_CONTACTS))
    op.execute("DELETE FROM disclosures WHERE subject_kind NOT IN ('Customer', 'Contact')")
