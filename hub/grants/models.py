"""Grant and its explicit records (ADR 0008). Owned by the owner organisation (`org_id`)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from hub.customers.models import Purpose
from hub.db import TenantModel

__all__ = [
    "Access",
    "FieldVisibility",
    "Grant",
    "GrantRecord",
    "Purpose",
    "RecordType",
    "Selection",
]


class RecordType(enum.StrEnum):
    CUSTOMERS = "CUSTOMERS"
    OPPORTUNITIES = "OPPORTUNITIES"
    CASES = "CASES"


class Access(enum.StrEnum):
    """READ; CONTRIBUTE = read + comment and update the fields partners may touch; WRITE."""

    READ = "READ"
    CONTRIBUTE = "CONTRIBUTE"
    WRITE = "WRITE"

    def includes(self, needed: Access) -> bool:
        """Each access allows what the lower ones do (`hub_access_at_least` in SQL)."""
        ranks = list(Access)
        return ranks.index(self) >= ranks.index(needed)


class Selection(enum.StrEnum):
    """Which records: assigned to (or raised by) the partner, a segment rule, or named ones."""

    ASSIGNED = "ASSIGNED"
    SEGMENT = "SEGMENT"
    EXPLICIT = "EXPLICIT"


class FieldVisibility(enum.StrEnum):
    """Per personal-data field; ordered from least to most visible."""

    HIDDEN = "HIDDEN"
    MASKED = "MASKED"
    VISIBLE = "VISIBLE"


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20)


class Grant(TenantModel):
    __tablename__ = "grants"
    __table_args__ = (
        # The partner named here is the partnership's partner, enforced by PostgreSQL.
        ForeignKeyConstraint(
            ["org_id", "partnership_id", "partner_org_id"],
            ["partnerships.org_id", "partnerships.id", "partnerships.partner_org_id"],
        ),
        CheckConstraint(
            "(selection = 'SEGMENT') = (segment IS NOT NULL)", name="segment_only_for_segments"
        ),
        CheckConstraint(
            "revoked_at IS NULL OR revoked_at >= created_at", name="revoked_after_granted"
        ),
        Index("ix_grants_org_id_partnership_id", "org_id", "partnership_id"),
        Index("ix_grants_partner_org_id_record_type", "partner_org_id", "record_type"),
    )

    partnership_id: Mapped[uuid.UUID]
    partner_org_id: Mapped[uuid.UUID]
    record_type: Mapped[RecordType] = mapped_column(_enum(RecordType))
    access: Mapped[Access] = mapped_column(_enum(Access))
    selection: Mapped[Selection] = mapped_column(_enum(Selection))
    # SQL NULL, not JSON `null`, for "no segment": the check constraint tests `IS NOT NULL`.
    segment: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    purpose: Mapped[Purpose] = mapped_column(_enum(Purpose))
    field_policy: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Not a column: whether the grant lets data flow now, computed by PostgreSQL when the access
    # layer reads the grant (`hub.access.grants.select_grants`), never cached in between.
    live: Mapped[bool | None] = query_expression()


class GrantRecord(TenantModel):
    """A record named by an EXPLICIT grant; `id` is this row's, `record_id` the shared one."""

    __tablename__ = "grant_records"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "grant_id"], ["grants.org_id", "grants.id"]),
        Index(
            "uq_grant_records_org_id_grant_id_record_id",
            "org_id",
            "grant_id",
            "record_id",
            unique=True,
        ),
        Index("ix_grant_records_org_id_record_id", "org_id", "record_id"),
    )

    grant_id: Mapped[uuid.UUID]
    record_id: Mapped[uuid.UUID]
