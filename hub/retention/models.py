"""An organisation's retention policy: one row, NULL periods meaning keep forever."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKeyConstraint, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

# Shorter than a month would let a retention run erase the trail of an incident before anyone
# looked; longer than a century is a typo. The database refuses both as well.
MIN_DAYS = 30
MAX_DAYS = 36_500


class RetentionPolicy(Base):
    __tablename__ = "retention_policies"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        CheckConstraint(
            f"audit_events_days BETWEEN {MIN_DAYS} AND {MAX_DAYS}", name="audit_events_days"
        ),
        CheckConstraint(
            f"closed_records_days BETWEEN {MIN_DAYS} AND {MAX_DAYS}", name="closed_records_days"
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    audit_events_days: Mapped[int | None] = mapped_column(Integer)
    closed_records_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_user_id: Mapped[uuid.UUID | None]
    updated_by_client_id: Mapped[str | None] = mapped_column(String(64))
