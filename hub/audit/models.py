"""Audit events. The ledger issue chains them by hash; this table is where they land.

Events that no organisation can be trusted to own (a forged token, an unknown client) are kept
under `HUB_ORG`, the hub's own id, so every event still has an `org_id` to lead its key.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel

HUB_ORG = uuid.UUID(int=0)


class AuditEvent(TenantModel):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_audit_events_org_id_type_created_at", "org_id", "type", "created_at"),
    )

    type: Mapped[str] = mapped_column(String(60))
    actor_client_id: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_address: Mapped[str | None] = mapped_column(INET)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
