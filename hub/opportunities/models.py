"""Opportunity: a deal with a customer, with money as numeric + ISO currency."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel


class OpportunityStage(enum.StrEnum):
    PROSPECTING = "PROSPECTING"
    QUALIFICATION = "QUALIFICATION"
    PROPOSAL = "PROPOSAL"
    NEGOTIATION = "NEGOTIATION"
    CLOSED_WON = "CLOSED_WON"
    CLOSED_LOST = "CLOSED_LOST"


class OpportunitySource(enum.StrEnum):
    DIRECT = "DIRECT"
    PARTNER_REGISTERED = "PARTNER_REGISTERED"


class Opportunity(TenantModel):
    __tablename__ = "opportunities"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"]),
        ForeignKeyConstraint(["org_id", "owner_user_id"], ["users.org_id", "users.id"]),
        ForeignKeyConstraint(
            ["org_id", "assigned_partnership_id"], ["partnerships.org_id", "partnerships.id"]
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_percent"),
        Index("ix_opportunities_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_opportunities_org_id_stage", "org_id", "stage"),
        Index("ix_opportunities_org_id_customer_id", "org_id", "customer_id"),
        Index("ix_opportunities_org_id_owner_user_id", "org_id", "owner_user_id"),
        # A partner's ASSIGNED grant lists its opportunities from here (ADR 0008).
        Index(
            "ix_opportunities_org_id_assigned_partnership_id",
            "org_id",
            "assigned_partnership_id",
        ),
        Index(
            "ix_opportunities_org_id_name_trgm",
            "org_id",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    customer_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[OpportunityStage] = mapped_column(
        Enum(OpportunityStage, native_enum=False, length=20)
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    probability: Mapped[int]
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    owner_user_id: Mapped[uuid.UUID | None]
    assigned_partnership_id: Mapped[uuid.UUID | None]
    source: Mapped[OpportunitySource] = mapped_column(
        Enum(OpportunitySource, native_enum=False, length=30)
    )
    next_step: Mapped[str | None] = mapped_column(String(500))
    internal_notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(server_default="1")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
