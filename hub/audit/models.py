"""The audit ledger's tables: events, each organisation's chain head, checkpoints, disclosures,
the index of events by the records they concern, and the disclosures waiting to be sealed.

Events that no organisation can be trusted to own (a forged token, an unknown client) are kept
under `HUB_ORG`, the hub's own id, so every event still has an `org_id` to lead its key.
Rows are written only by the ledger's functions (`hub_audit_append`, migration
20261127_audit_ledger, and the sealers of waiting disclosures, 20261206_disclosure_sealing),
never through these classes; they are here to be read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, TenantModel

HUB_ORG = uuid.UUID(int=0)


class AuditEvent(TenantModel):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_audit_events_org_id_type_created_at", "org_id", "type", "created_at"),
        Index("uq_audit_events_org_id_seq", "org_id", "seq", unique=True),
        Index("ix_audit_events_actor_org_id_created_at_id", "actor_org_id", "created_at", "id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(BYTEA)
    type: Mapped[str] = mapped_column(String(60))
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_client_id: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_address: Mapped[str | None] = mapped_column(INET)
    record_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), server_default=text("'{}'::uuid[]")
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class AuditChainHead(Base):
    """Where an organisation's chain ends: the row its appends lock, one organisation at a time."""

    __tablename__ = "audit_chain_heads"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(BYTEA)


class AuditCheckpoint(Base):
    """The chain's hash at a retention cut: verifying resumes from here after older events go."""

    __tablename__ = "audit_checkpoints"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(BYTEA)
    cut_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )


class Disclosure(Base):
    """One field of one subject as one partner received it under one grant: first, last, times.

    The disclosure report reads these, never the ledger; each disclosure event updates them in
    the transaction that appends it.
    """

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_org_id_customer_id", "org_id", "customer_id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    partner_org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(String(80), primary_key=True)
    customer_id: Mapped[uuid.UUID]
    subject_kind: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    times: Mapped[int] = mapped_column(BigInteger)


class AuditEventRecord(Base):
    """One record an event concerns: the events of a record, newest first, for `auditEvents`.

    `audit_events.record_ids @> ...` cannot be served by an index for the application role:
    `@>` is not leakproof, so under row-level security PostgreSQL checks it only after the
    policy, row by row (its GIN index went for that, ADR 0021). This table answers the same
    question with equality on a B-tree. A trigger on
    `audit_events` (migration 20261128_audit_events_api) fills it as events are appended and
    empties it as retention deletes them; nothing else writes it.
    """

    __tablename__ = "audit_event_records"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class PendingDisclosure(Base):
    """A disclosure event recorded by a read, waiting for the sealer to chain it (ADR 0016).

    The application role inserts only `document`, the event's canonical text; a trigger takes
    the owner (`org_id`), the actor, the event id and the time from it and computes `digest`,
    the SHA-256 the chain link will be made of. Nothing updates a row; the sealer deletes it
    as it appends the event to the owner's chain (migration 20261206_disclosure_sealing).
    """

    __tablename__ = "audit_pending_disclosures"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    actor_org_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    document: Mapped[str] = mapped_column(Text)
    digest: Mapped[bytes] = mapped_column(BYTEA)
