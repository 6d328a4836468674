"""Customer accounts and their contacts, owned by one organisation."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, Enum, ForeignKeyConstraint, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel


class LifecycleStage(enum.StrEnum):
    """The ladder of loyalty, lowest rung first."""

    SUSPECT = "SUSPECT"
    PROSPECT = "PROSPECT"
    CUSTOMER = "CUSTOMER"
    CLIENT = "CLIENT"
    SUPPORTER = "SUPPORTER"
    ADVOCATE = "ADVOCATE"


class CompanySize(enum.StrEnum):
    SMALL = "SMALL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"
    ENTERPRISE = "ENTERPRISE"


class Purpose(enum.StrEnum):
    """Why data may cross to a partner; consent is recorded per purpose."""

    SALES = "SALES"
    SERVICE = "SERVICE"
    MARKETING = "MARKETING"


class Customer(TenantModel):
    __tablename__ = "customers"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        Index("ix_customers_org_id_name", "org_id", "name"),
        Index("ix_customers_org_id_region", "org_id", "region"),
        Index(
            "ix_customers_org_id_name_trgm",
            "org_id",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    lifecycle_stage: Mapped[LifecycleStage] = mapped_column(
        Enum(LifecycleStage, native_enum=False, length=20)
    )
    industry: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    size: Mapped[CompanySize | None] = mapped_column(
        Enum(CompanySize, native_enum=False, length=20)
    )
    consent_purposes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    version: Mapped[int] = mapped_column(server_default="1")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Contact(TenantModel):
    """A person at a customer: personal data, masked or hidden when shared (DESIGN 1)."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"]),
        Index("ix_contacts_org_id_customer_id", "org_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID]
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    job_title: Mapped[str | None] = mapped_column(String(120))
