"""Disclosures wait unsealed, without any lock, and a sealer chains them in (ADR 0016).

A partner read used to append its disclosure event to the owner's chain at COMMIT, under the
owner's chain-head lock, and to fold it into `disclosures` in the same statement: every reader
of one owner queued on that one row, and readers of the same records on the index rows. Now:

- `audit_pending_disclosures` takes one row per request and owner, in the read's transaction.
  The application role inserts only the event's canonical document (the very text the chain
  will hash); a BEFORE INSERT trigger, owned by the NOLOGIN role `hub_ledger`, takes the owner,
  the actor, the event id and the time from it, computes its digest (`sha256` of the text, the
  digest the chain link is made of) and refuses anything but a disclosure between an owner and
  an organisation partnered with it. Row-level security lets the application role insert only
  rows whose actor is its own organisation (`hub.org_id`) and read only rows it is the owner or
  the actor of. Nobody updates a row or truncates the table; only `hub_ledger` (the sealer)
  deletes, and a guard trigger refuses everyone else, the database owner included.
- `hub_audit_link` is the one place an event enters a chain: it stores the event's columns from
  its document at the next `seq` and links it from the digest. `hub_audit_fold` then folds the
  disclosures among the events just linked into the index in one statement, a row per subject,
  partner, grant and field however many events carry it (what `20261206_disclosure_records`
  folds, and as it does). `hub_audit_append` now calls both (what it does is unchanged).
- `hub_audit_seal(max_rows)` (SECURITY DEFINER, owned by `hub_ledger`) seals up to `max_rows`
  pending rows, oldest owners first, each owner's in id order: it takes the owner's chain head
  with `FOR UPDATE SKIP LOCKED` (a head another sealer or an append holds is skipped this round,
  so sealers never wait on each other or on appends), links each row from the digest stored at
  insert (an edit of the row before sealing therefore shows as a broken link), folds it and
  deletes it, in the caller's transaction. The hub's processes and `hub audit seal` call it.
- `hub_audit_seal_own()` seals, waiting for the heads, every pending row the calling
  organisation (`hub.org_id`) may read: those filed in its chain and those it made in others'.
  The readers of the trail call it first, so their answers are exact.

Revision ID: 20261206_disclosure_sealing
Revises: 20261206_share_index
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.revisions import revision_module

revision: str = "20261206_disclosure_sealing"
down_revision: str | None = "20261206_share_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "audit_pending_disclosures"

# One event into a chain: its columns from its document, linked from its digest. The caller
# holds the chain's head lock, moves the head and folds the disclosures in.
_LINK = """
CREATE FUNCTION hub_audit_link(chain uuid, seq bigint, previous bytea, event jsonb, digest bytea)
RETURNS bytea
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    link bytea := sha256(previous || int8send(seq) || digest);
BEGIN
    INSERT INTO audit_events (
        org_id, id, seq, hash, type, actor_org_id, actor_user_id, actor_client_id,
        request_id, source_address, record_ids, details, created_at
    ) VALUES (
        chain, (event->>'id')::uuid, seq, link, event->>'type', (event->>'actor_org_id')::uuid,
        (event->>'actor_user_id')::uuid, event->>'actor_client_id', event->>'request_id',
        (event->>'source_address')::inet,
        ARRAY(SELECT jsonb_array_elements_text(event->'record_ids'))::uuid[],
        event->'details', (event->>'created_at')::timestamptz
    );
    RETURN link;
END
$$
"""
_LINK_SIGNATURE = "hub_audit_link(uuid, bigint, bytea, jsonb, bytea)"

# The disclosures of `chain` after `after_seq` (just linked, under the head lock) folded into
# the index: every record group that names its customers (20261206_disclosure_records), one
# row per subject, partner, grant and field, counting each event that carries it once.
_FOLD = """
CREATE FUNCTION hub_audit_fold(chain uuid, after_seq bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public AS $$
INSERT INTO disclosures AS d (
    org_id, subject_id, partner_org_id, grant_id, field, customer_id,
    subject_kind, purpose, first_at, last_at, times
)
SELECT chain, r.id::uuid, e.actor_org_id, (g.value->>'grant_id')::uuid, f.field,
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
WHERE e.org_id = chain AND e.seq > after_seq AND e.type = 'disclosure'
  AND s.value ? 'customer_ids'
GROUP BY r.id, e.actor_org_id, g.value->>'grant_id', f.field
ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO UPDATE
    SET first_at = least(d.first_at, excluded.first_at),
        last_at = greatest(d.last_at, excluded.last_at),
        times = d.times + excluded.times
$$
"""
_FOLD_SIGNATURE = "hub_audit_fold(uuid, bigint)"

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
    first_seq bigint;
    disclosed boolean := false;
BEGIN
    INSERT INTO audit_chain_heads (org_id, seq, hash)
        VALUES (chain, 0, decode(repeat('00', 32), 'hex'))
        ON CONFLICT (org_id) DO NOTHING;
    SELECT h.seq, h.hash INTO head_seq, head_hash
        FROM audit_chain_heads h WHERE h.org_id = chain FOR UPDATE;
    first_seq := head_seq;
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
        head_hash := hub_audit_link(
            chain, head_seq, head_hash, event, sha256(convert_to(document, 'UTF8')));
        disclosed := disclosed OR event->>'type' = 'disclosure';
    END LOOP;
    IF disclosed THEN
        PERFORM hub_audit_fold(chain, first_seq);
    END IF;
    UPDATE audit_chain_heads SET seq = head_seq, hash = head_hash WHERE org_id = chain;
END
$$
"""

# What a row takes from its document, and the digest the chain will link it by.
_TAKE = """
CREATE FUNCTION hub_audit_take_disclosure() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    event jsonb := NEW.document::jsonb;
BEGIN
    IF event->>'type' IS DISTINCT FROM 'disclosure' THEN
        RAISE EXCEPTION 'only disclosure events wait to be sealed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.org_id := (event->>'org_id')::uuid;
    NEW.actor_org_id := (event->>'actor_org_id')::uuid;
    NEW.event_id := (event->>'id')::uuid;
    NEW.created_at := (event->>'created_at')::timestamptz;
    NEW.digest := sha256(convert_to(NEW.document, 'UTF8'));
    -- What an append would accept from the actor: the owner's own chain, or the chain of an
    -- owner the actor is partnered with. Row-level security then holds the actor to hub.org_id.
    IF NEW.org_id IS DISTINCT FROM NEW.actor_org_id AND NOT EXISTS (
        SELECT FROM partnerships p
        WHERE p.org_id = NEW.org_id AND p.partner_org_id = NEW.actor_org_id
    ) THEN
        RAISE EXCEPTION 'a disclosure to % may not be recorded for %', NEW.actor_org_id,
            NEW.org_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""

# Not a definer function: `current_user` is whoever changes the row, `hub_ledger` only inside
# the sealing functions.
_GUARD = """
CREATE FUNCTION hub_audit_pending_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = 'hub_ledger' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'pending disclosures are sealed, never changed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

# The caller holds `chain`'s head lock, which guards the chain's pending rows as well: they
# go into the chain in id order (all of them when `max_rows` is NULL), linked by the digest
# stored at insert, are folded into the index together, and are deleted. A row deleted
# meanwhile by anyone else (which the head lock rules out) would undo the whole seal rather
# than chain an event twice.
_SEAL_CHAIN = """
CREATE FUNCTION hub_audit_seal_chain(chain uuid, max_rows integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    head_seq bigint;
    head_hash bytea;
    waiting record;
    sealed bigint[] := '{}';
    removed integer;
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_chain_heads h WHERE h.org_id = chain;
    FOR waiting IN
        SELECT p.id, p.document, p.digest FROM audit_pending_disclosures p
        WHERE p.org_id = chain ORDER BY p.id LIMIT max_rows
    LOOP
        head_seq := head_seq + 1;
        head_hash := hub_audit_link(
            chain, head_seq, head_hash, waiting.document::jsonb, waiting.digest);
        sealed := sealed || waiting.id;
    END LOOP;
    IF cardinality(sealed) > 0 THEN
        PERFORM hub_audit_fold(chain, head_seq - cardinality(sealed));
        DELETE FROM audit_pending_disclosures p WHERE p.org_id = chain AND p.id = ANY(sealed);
        GET DIAGNOSTICS removed = ROW_COUNT;
        IF removed <> cardinality(sealed) THEN
            RAISE EXCEPTION 'disclosures of % were sealed elsewhere meanwhile', chain
                USING ERRCODE = 'serialization_failure';
        END IF;
        UPDATE audit_chain_heads SET seq = head_seq, hash = head_hash WHERE org_id = chain;
    END IF;
    RETURN cardinality(sealed);
END
$$
"""
_SEAL_CHAIN_SIGNATURE = "hub_audit_seal_chain(uuid, integer)"

_SEAL = """
CREATE FUNCTION hub_audit_seal(max_rows integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    chain uuid;
    remaining integer := max_rows;
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'hub_audit_seal: max_rows must be at least 1';
    END IF;
    FOR chain IN
        SELECT p.org_id FROM audit_pending_disclosures p GROUP BY p.org_id ORDER BY min(p.id)
    LOOP
        EXIT WHEN remaining = 0;
        PERFORM FROM audit_chain_heads h WHERE h.org_id = chain FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            -- Held by an append or another sealer: skipped this round. Only a chain with no
            -- head yet gets one (a plain read first: inserting against a head an appender
            -- is updating would wait for it).
            CONTINUE WHEN EXISTS (SELECT FROM audit_chain_heads h WHERE h.org_id = chain);
            INSERT INTO audit_chain_heads (org_id, seq, hash)
                VALUES (chain, 0, decode(repeat('00', 32), 'hex'))
                ON CONFLICT (org_id) DO NOTHING;
            PERFORM FROM audit_chain_heads h WHERE h.org_id = chain FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
        END IF;
        remaining := remaining - hub_audit_seal_chain(chain, remaining);
    END LOOP;
    RETURN max_rows - remaining;
END
$$
"""
_SEAL_SIGNATURE = "hub_audit_seal(integer)"

_SEAL_OWN = """
CREATE FUNCTION hub_audit_seal_own() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    me uuid := hub_current_org();
    chain uuid;
    total integer := 0;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'hub_audit_seal_own: no organisation is set';
    END IF;
    -- Heads in a fixed order, as appends take them, so two callers cannot deadlock.
    FOR chain IN
        SELECT DISTINCT p.org_id FROM audit_pending_disclosures p
        WHERE p.org_id = me OR p.actor_org_id = me ORDER BY p.org_id
    LOOP
        INSERT INTO audit_chain_heads (org_id, seq, hash)
            VALUES (chain, 0, decode(repeat('00', 32), 'hex'))
            ON CONFLICT (org_id) DO NOTHING;
        PERFORM FROM audit_chain_heads h WHERE h.org_id = chain FOR UPDATE;
        total := total + hub_audit_seal_chain(chain, NULL);
    END LOOP;
    RETURN total;
END
$$
"""
_SEAL_OWN_SIGNATURE = "hub_audit_seal_own()"


def _table() -> None:
    op.create_table(
        _TABLE,
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("actor_org_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", postgresql.BYTEA(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_audit_pending_disclosures")),
    )
    op.execute(f"ALTER TABLE {_TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {_TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(f"GRANT INSERT (document) ON {_TABLE} TO hub_app")
    op.execute(f"GRANT SELECT ON {_TABLE} TO hub_app")
    op.execute(
        f"CREATE POLICY disclose_as_self ON {_TABLE} FOR INSERT TO hub_app "
        "WITH CHECK (actor_org_id = hub_current_org())"
    )
    op.execute(
        f"CREATE POLICY read_own ON {_TABLE} FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org() OR actor_org_id = hub_current_org())"
    )
    op.execute(f"GRANT SELECT, DELETE ON {_TABLE} TO hub_ledger")
    op.execute(f"CREATE POLICY ledger_reads ON {_TABLE} FOR SELECT TO hub_ledger USING (true)")
    op.execute(f"CREATE POLICY ledger_seals ON {_TABLE} FOR DELETE TO hub_ledger USING (true)")


def _owned_by_ledger(signature: str, *, definer: bool, callers: str | None) -> None:
    """Hand a function just created to `hub_ledger`; only `callers` may execute it."""
    op.execute("GRANT CREATE ON SCHEMA public TO hub_ledger")
    if definer:
        op.execute(
            f"ALTER FUNCTION {signature} SECURITY DEFINER SET search_path = pg_catalog, public"
        )
    op.execute(f"ALTER FUNCTION {signature} OWNER TO hub_ledger")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_ledger")
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    if callers:
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {callers}")


def _functions() -> None:
    op.execute(_LINK)
    _owned_by_ledger(_LINK_SIGNATURE, definer=False, callers=None)
    op.execute(_FOLD)
    _owned_by_ledger(_FOLD_SIGNATURE, definer=False, callers=None)
    op.execute(_APPEND)
    op.execute(_TAKE)
    _owned_by_ledger("hub_audit_take_disclosure()", definer=True, callers=None)
    op.execute(
        f"CREATE TRIGGER audit_pending_disclosures_take BEFORE INSERT ON {_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION hub_audit_take_disclosure()"
    )
    op.execute(_GUARD)
    _owned_by_ledger("hub_audit_pending_guard()", definer=False, callers=None)
    op.execute(
        f"CREATE TRIGGER audit_pending_disclosures_guard BEFORE UPDATE OR DELETE ON {_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION hub_audit_pending_guard()"
    )
    op.execute(
        f"CREATE TRIGGER audit_pending_disclosures_no_truncate BEFORE TRUNCATE ON {_TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION hub_audit_pending_guard()"
    )
    op.execute(_SEAL_CHAIN)
    _owned_by_ledger(_SEAL_CHAIN_SIGNATURE, definer=False, callers=None)
    op.execute(_SEAL)
    _owned_by_ledger(_SEAL_SIGNATURE, definer=True, callers="hub_app, CURRENT_USER")
    op.execute(_SEAL_OWN)
    _owned_by_ledger(_SEAL_OWN_SIGNATURE, definer=True, callers="hub_app, CURRENT_USER")


def upgrade() -> None:
    _table()
    _functions()


def _previous_append() -> str:
    """`hub_audit_append` as 20261206_disclosure_records left it."""
    previous = revision_module("20261206_disclosure_records")
    text: str = previous._APPEND.replace("{indexed}", previous._EVERY_RECORD_OF_A_CUSTOMER)
    return text


def downgrade() -> None:
    # Nothing recorded is lost: what waits is chained in first, as the sealer would.
    op.execute(
        "DO $$ BEGIN PERFORM hub_audit_seal(1000000); "
        f"IF EXISTS (SELECT FROM {_TABLE}) THEN "
        "RAISE EXCEPTION 'disclosures still wait to be sealed; retry the downgrade'; "
        "END IF; END $$"
    )
    op.execute(_previous_append())
    for signature in (
        _SEAL_OWN_SIGNATURE,
        _SEAL_SIGNATURE,
        _SEAL_CHAIN_SIGNATURE,
    ):
        op.execute(f"DROP FUNCTION {signature}")
    op.drop_table(_TABLE)
    op.execute("DROP FUNCTION hub_audit_pending_guard()")
    op.execute("DROP FUNCTION hub_audit_take_disclosure()")
    op.execute(f"DROP FUNCTION {_FOLD_SIGNATURE}")
    op.execute(f"DROP FUNCTION {_LINK_SIGNATURE}")
