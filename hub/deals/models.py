"""Deal registration (DESIGN 1): owned by the owner it is made to, naming the partner that made it.

`org_id` is the owner, as for grants: the registration sits in the owner's queue and belongs to
the owner's data. `partner_org_id` repeats the partnership's partner so row-level security can
let the partner read its own registrations without a join; a composite foreign key to
`partnerships (org_id, id, partner_org_id)` keeps the two equal.

The conflict rule compares names and domains through two SQL functions of the migration
`20261125_deal_registrations` (`hub_company_key`, `hub_company_domain`); the expression indexes
below serve it, including two on `customers` that exist only for deal conflicts.
"""

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
    Integer,
    Numeric,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.customers.models import Customer
from hub.db import TenantModel

MAX_NAME_LENGTH = 200
MAX_DOMAIN_LENGTH = 253
MAX_PRODUCT_LENGTH = 200
MAX_REASON_LENGTH = 1000


class DealStatus(enum.StrEnum):
    """PENDING until the owner reviews it; APPROVED and REJECTED are final."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class DealRegistration(TenantModel):
    __tablename__ = "deal_registrations"
    __table_args__ = (
        # The partner named here is the partnership's partner, enforced by PostgreSQL.
        ForeignKeyConstraint(
            ["org_id", "partnership_id", "partner_org_id"],
            ["partnerships.org_id", "partnerships.id", "partnerships.partner_org_id"],
        ),
        ForeignKeyConstraint(
            ["org_id", "opportunity_id"], ["opportunities.org_id", "opportunities.id"]
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("status IN ('PENDING', 'APPROVED', 'REJECTED')", name="status_allowed"),
        # An approval always links an opportunity and starts a protection period; a rejection
        # always says why; only a pending registration is unreviewed.
        CheckConstraint(
            "(status = 'APPROVED') = (opportunity_id IS NOT NULL AND protected_until IS NOT NULL)",
            name="approved_links_and_protects",
        ),
        CheckConstraint(
            "(status = 'REJECTED') = (rejection_reason IS NOT NULL)", name="rejected_with_reason"
        ),
        CheckConstraint(
            "(status = 'PENDING') = (reviewed_at IS NULL AND reviewed_by IS NULL)",
            name="reviewed_unless_pending",
        ),
        # The owner's queue, oldest first (first to register is first in line).
        Index("ix_deal_registrations_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_deal_registrations_org_id_status", "org_id", "status"),
        # A partner lists its own registrations across every owner it registers with.
        Index(
            "ix_deal_registrations_partner_org_id_created_at_id",
            "partner_org_id",
            "created_at",
            "id",
        ),
        Index("ix_deal_registrations_org_id_partnership_id", "org_id", "partnership_id"),
        Index("ix_deal_registrations_org_id_opportunity_id", "org_id", "opportunity_id"),
        # Stored normalised (lower case, no `www.`), so equality finds the same domain.
        Index("ix_deal_registrations_org_id_customer_domain", "org_id", "customer_domain"),
    )

    partnership_id: Mapped[uuid.UUID]
    partner_org_id: Mapped[uuid.UUID]
    customer_name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    customer_domain: Mapped[str | None] = mapped_column(String(MAX_DOMAIN_LENGTH))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[date] = mapped_column(Date)
    product: Mapped[str] = mapped_column(String(MAX_PRODUCT_LENGTH))
    status: Mapped[DealStatus] = mapped_column(Enum(DealStatus, native_enum=False, length=20))
    rejection_reason: Mapped[str | None] = mapped_column(String(MAX_REASON_LENGTH))
    opportunity_id: Mapped[uuid.UUID | None]
    protected_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    registered_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)


# Trigram indexes on the normalised company name, for the `%` prefilter of the conflict rule.
Index(
    "ix_deal_registrations_org_id_customer_key_trgm",
    DealRegistration.org_id,
    func.hub_company_key(DealRegistration.customer_name).label("customer_key"),
    postgresql_using="gin",
    postgresql_ops={"customer_key": "gin_trgm_ops"},
)
Index(
    "ix_customers_org_id_company_key_trgm",
    Customer.org_id,
    func.hub_company_key(Customer.name).label("company_key"),
    postgresql_using="gin",
    postgresql_ops={"company_key": "gin_trgm_ops"},
)
Index(
    "ix_customers_org_id_company_domain",
    Customer.org_id,
    func.hub_company_domain(Customer.domain),
)
