"""Partnership: an owner organisation and one partner, with the partner's role and lifecycle."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Enum, ForeignKeyConstraint, Index, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel


class PartnerRole(enum.StrEnum):
    VENDOR = "VENDOR"
    SUPPLIER = "SUPPLIER"
    DISTRIBUTOR = "DISTRIBUTOR"
    RESELLER = "RESELLER"


class PartnershipStatus(enum.StrEnum):
    """INVITED → ACTIVE ⇄ SUSPENDED → ENDED; only ACTIVE lets data flow."""

    INVITED = "INVITED"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ENDED = "ENDED"


class Partnership(TenantModel):
    """Owned by the owner organisation (`org_id`); the partner sees it through `partner_org_id`."""

    __tablename__ = "partnerships"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        ForeignKeyConstraint(["partner_org_id"], ["organisations.id"]),
        CheckConstraint("org_id <> partner_org_id", name="not_self"),
        Index("uq_partnerships_org_id_partner_org_id", "org_id", "partner_org_id", unique=True),
        Index("ix_partnerships_partner_org_id", "partner_org_id"),
        # Grants name (partnership, partner) together; this lets a foreign key keep them equal.
        Index(
            "uq_partnerships_org_id_id_partner_org_id",
            "org_id",
            "id",
            "partner_org_id",
            unique=True,
        ),
    )

    partner_org_id: Mapped[uuid.UUID]
    role: Mapped[PartnerRole] = mapped_column(Enum(PartnerRole, native_enum=False, length=20))
    status: Mapped[PartnershipStatus] = mapped_column(
        Enum(PartnershipStatus, native_enum=False, length=20)
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
