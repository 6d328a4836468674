"""The share index: which partner each live-able grant shares each record with (ADR 0017).

A grant's selection, its purpose against the customer's consent, and a segment's customer rule
are decided when a record, a customer or a grant changes, not when a partner reads: PostgreSQL
keeps one row per (owner, record, partner) naming the owner's unrevoked grants to that partner
that select the record. Whether those grants are live (not expired, partnership ACTIVE) is still
asked on every read, so expiry and suspension bite at once without touching this index.

A partner's list is read from here in its order (the record's `created_at`, or a customer's
`name`, copied into the row), so its cost follows the page, not the size of what is shared; the
partner wall in row-level security asks one primary-key lookup per row. Only the definer
functions of migration 20261206_share_index write these tables; the application role reads its
own rows (as owner or as partner) and nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, String, Uuid
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

__all__ = ["CaseShare", "CustomerShare", "OpportunityShare"]


class _Share(Base):
    """What every share row holds: whose record, which partner, under which grants, and the
    record's creation time (the order key of partner lists)."""

    __abstract__ = True

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-20)
    partner_org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-18)
    grant_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OpportunityShare(_Share):
    __tablename__ = "opportunity_shares"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "opportunity_id"],
            ["opportunities.org_id", "opportunities.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_opportunity_shares_partner_org_id_created_at_opportunity_id",
            "partner_org_id",
            "created_at",
            "opportunity_id",
        ),
        Index(
            "ix_opportunity_shares_partner_org_id_opportunity_id",
            "partner_org_id",
            "opportunity_id",
        ),
    )

    opportunity_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-19)


class CaseShare(_Share):
    __tablename__ = "case_shares"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "case_id"], ["cases.org_id", "cases.id"], ondelete="CASCADE"
        ),
        Index(
            "ix_case_shares_partner_org_id_created_at_case_id",
            "partner_org_id",
            "created_at",
            "case_id",
        ),
        Index("ix_case_shares_partner_org_id_case_id", "partner_org_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-19)


class CustomerShare(_Share):
    __tablename__ = "customer_shares"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        Index(
            "ix_customer_shares_partner_org_id_name_customer_id",
            "partner_org_id",
            "name",
            "customer_id",
        ),
        Index(
            "ix_customer_shares_partner_org_id_created_at_customer_id",
            "partner_org_id",
            "created_at",
            "customer_id",
        ),
        Index("ix_customer_shares_partner_org_id_customer_id", "partner_org_id", "customer_id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-19)
    # The customer's name: the order key of a partner's customer list.
    name: Mapped[str] = mapped_column(String(200))
