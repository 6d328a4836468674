"""The audit ledger: events hash-chained per organisation, append-only, and the disclosure index.

Every event now carries its place in its organisation's chain (`seq`) and the chain's hash after
it: `hash = sha256(previous hash || seq as 8 bytes || sha256(canonical event))`, the canonical
event being the JSON document `hub.audit.chain` writes (sorted keys, no spaces). Events are
appended only through `hub_audit_append`, a SECURITY DEFINER function owned by the NOLOGIN role
`hub_ledger`: it locks the organisation's row in `audit_chain_heads` (so appends serialise per
organisation and never across the hub), stores each event from the very document it hashes (the
columns cannot disagree with the hash), and folds each disclosure into `disclosures`, the index
the disclosure report reads. The application role keeps SELECT on its own events; it can no
longer INSERT directly, and a trigger refuses UPDATE, DELETE and TRUNCATE for every role, except
a DELETE of events a retention checkpoint already covers.

Events written before this revision are sealed into their organisation's chain here, in the
order they were written, with the same encoding.

Revision ID: 20261127_audit_ledger
Revises: 20261126_partner_prefilter
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hub.audit.chain import GENESIS, envelope_of_row, event_digest, link

revision: str = "20261127_audit_ledger"
down_revision: str | None = "20261126_partner_prefilter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HUB_ORG = "00000000-0000-0000-0000-000000000000"

_APPEND = """
CREATE FUNCTION hub_audit_append(chain uuid, events text[]) RETURNS void
LANGUAGE plpgsql AS $$
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
            WHERE s.value->>'kind' IN ('Customer', 'Contact')
            ORDER BY r.id, g.value->>'grant_id', f.field
            ON CONFLICT (org_id, subject_id, partner_org_id, grant_id, field) DO UPDATE
                SET last_at = greatest(d.last_at, excluded.last_at), times = d.times + 1;
        END IF;
    END LOOP;
    UPDATE audit_chain_heads SET seq = head_seq, hash = head_hash WHERE org_id = chain;
END
$$
"""
_APPEND_SIGNATURE = "hub_audit_append(uuid, text[])"

_APPEND_ONLY = """
CREATE FUNCTION hub_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (
            SELECT FROM audit_checkpoints c WHERE c.org_id = OLD.org_id AND c.seq >= OLD.seq
        ) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _tables() -> None:
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("hash", postgresql.BYTEA(), nullable=True))
    op.add_column("audit_events", sa.Column("actor_org_id", sa.Uuid(), nullable=True))
    op.add_column(
        "audit_events",
        sa.Column(
            "record_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", postgresql.BYTEA(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_audit_chain_heads")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", postgresql.BYTEA(), nullable=False),
        sa.Column("cut_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("org_id", "seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "disclosures",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("partner_org_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("times", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id",
            "subject_id",
            "partner_org_id",
            "grant_id",
            "field",
            name=op.f("pk_disclosures"),
        ),
    )
    op.create_index("ix_disclosures_org_id_customer_id", "disclosures", ["org_id", "customer_id"])


def _seal_existing() -> None:
    """Chain the events written before this revision, per organisation, oldest first."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT org_id, id, type, actor_org_id, actor_user_id, actor_client_id, request_id,"
            " source_address, record_ids, details, created_at FROM audit_events"
            " ORDER BY org_id, created_at, id"
        )
    ).mappings()
    heads: dict[uuid.UUID, tuple[int, bytes]] = {}
    for row in rows:
        seq, previous = heads.get(row["org_id"], (0, GENESIS))
        seq += 1
        chained = link(previous, seq, event_digest(envelope_of_row(row)))
        bind.execute(
            sa.text(
                "UPDATE audit_events SET seq = :seq, hash = :hash WHERE org_id = :org AND id = :id"
            ),
            {"seq": seq, "hash": chained, "org": row["org_id"], "id": row["id"]},
        )
        heads[row["org_id"]] = (seq, chained)
    for org_id, (seq, chained) in heads.items():
        bind.execute(
            sa.text("INSERT INTO audit_chain_heads (org_id, seq, hash) VALUES (:org, :seq, :hash)"),
            {"org": org_id, "seq": seq, "hash": chained},
        )


def _indexes() -> None:
    op.alter_column("audit_events", "seq", nullable=False)
    op.alter_column("audit_events", "hash", nullable=False)
    op.create_index("uq_audit_events_org_id_seq", "audit_events", ["org_id", "seq"], unique=True)
    op.create_index(
        "ix_audit_events_actor_org_id_created_at_id",
        "audit_events",
        ["actor_org_id", "created_at", "id"],
    )
    op.create_index(
        "ix_audit_events_record_ids",
        "audit_events",
        ["record_ids"],
        postgresql_using="gin",
    )


def _privileges() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_ledger') THEN
                CREATE ROLE hub_ledger NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END
        $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO hub_ledger")
    op.execute("GRANT SELECT, INSERT ON audit_events TO hub_ledger")
    op.execute("GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO hub_ledger")
    op.execute("GRANT SELECT, INSERT, UPDATE ON disclosures TO hub_ledger")
    op.execute("GRANT SELECT ON partnerships TO hub_ledger")
    # The ledger role writes through policies of its own, so the function works whether or not
    # the role that migrates bypasses row-level security.
    op.execute(
        "CREATE POLICY ledger_appends ON audit_events FOR INSERT TO hub_ledger WITH CHECK (true)"
    )
    op.execute("CREATE POLICY ledger_reads ON partnerships FOR SELECT TO hub_ledger USING (true)")
    for table in ("audit_chain_heads", "disclosures"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY ledger_keeps ON {table} TO hub_ledger USING (true) WITH CHECK (true)"
        )
    op.execute(
        "CREATE POLICY read_own ON disclosures FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org())"
    )
    op.execute("GRANT SELECT ON disclosures TO hub_app")
    op.execute("GRANT SELECT ON audit_chain_heads TO hub_app")
    op.execute(
        "CREATE POLICY read_own ON audit_chain_heads FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org())"
    )
    op.execute("ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY")
    op.execute("GRANT SELECT ON audit_checkpoints TO hub_app")
    op.execute(
        "CREATE POLICY read_own ON audit_checkpoints FOR SELECT TO hub_app "
        "USING (org_id = hub_current_org())"
    )
    # Appending goes through the function only; a partner reads what its own organisation did.
    op.execute("REVOKE INSERT ON audit_events FROM hub_app")
    op.execute("DROP POLICY append_own_or_hub ON audit_events")
    op.execute(
        "CREATE POLICY read_own_acts ON audit_events FOR SELECT TO hub_app "
        "USING (actor_org_id = hub_current_org())"
    )
    op.execute(_APPEND)
    op.execute("GRANT CREATE ON SCHEMA public TO hub_ledger")
    op.execute(
        f"ALTER FUNCTION {_APPEND_SIGNATURE} SECURITY DEFINER SET search_path = pg_catalog, public"
    )
    op.execute(f"ALTER FUNCTION {_APPEND_SIGNATURE} OWNER TO hub_ledger")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_ledger")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_APPEND_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_APPEND_SIGNATURE} TO hub_app, CURRENT_USER")
    op.execute(_APPEND_ONLY)
    op.execute("GRANT SELECT ON audit_checkpoints TO hub_ledger")
    op.execute(
        "CREATE POLICY ledger_reads ON audit_checkpoints FOR SELECT TO hub_ledger USING (true)"
    )
    op.execute("GRANT CREATE ON SCHEMA public TO hub_ledger")
    op.execute(
        "ALTER FUNCTION hub_audit_append_only() SECURITY DEFINER "
        "SET search_path = pg_catalog, public"
    )
    op.execute("ALTER FUNCTION hub_audit_append_only() OWNER TO hub_ledger")
    op.execute("REVOKE CREATE ON SCHEMA public FROM hub_ledger")
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION hub_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION hub_audit_append_only()"
    )


def upgrade() -> None:
    _tables()
    _seal_existing()
    _indexes()
    _privileges()


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION hub_audit_append_only()")
    op.execute(f"DROP FUNCTION {_APPEND_SIGNATURE}")
    op.execute("DROP POLICY read_own_acts ON audit_events")
    op.execute("DROP POLICY ledger_appends ON audit_events")
    op.execute("DROP POLICY ledger_reads ON partnerships")
    op.execute(
        "CREATE POLICY append_own_or_hub ON audit_events FOR INSERT WITH CHECK "
        f"(org_id = hub_current_org() OR org_id = '{HUB_ORG}'::uuid)"
    )
    op.execute("GRANT INSERT ON audit_events TO hub_app")
    op.drop_table("disclosures")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_heads")
    op.drop_index("ix_audit_events_record_ids", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_org_id_created_at_id", table_name="audit_events")
    op.drop_index("uq_audit_events_org_id_seq", table_name="audit_events")
    for column in ("record_ids", "actor_org_id", "hash", "seq"):
        op.drop_column("audit_events", column)
    op.execute("REVOKE ALL ON audit_events, partnerships FROM hub_ledger")
    op.execute("REVOKE USAGE ON SCHEMA public FROM hub_ledger")
