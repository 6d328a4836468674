"""Privacy notices: an owner telling a partner that personal data it once received was erased.

A notice belongs to the owner (`org_id`), whose data it is about, and names the partner
(`partner_org_id`) it is addressed to, as grants and deal registrations do. The application
role never inserts one: `hub_privacy_notify` (migration 20261206_privacy), a definer function,
writes them only for partners the owner's disclosure index says received the subject's data.
A partner may read its own and set only `acknowledged_at`/`acknowledged_by`, once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel

MAX_ACTOR_REFERENCE_LENGTH = 100


class PrivacyNotice(TenantModel):
    __tablename__ = "privacy_notices"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        ForeignKeyConstraint(["partner_org_id"], ["organisations.id"]),
        # One notice per subject and partner: erasing again never tells a partner twice.
        Index(
            "uq_privacy_notices_org_id_subject_id_partner_org_id",
            "org_id",
            "subject_id",
            "partner_org_id",
            unique=True,
        ),
        # The owner's notices sent, and a partner's received, newest first.
        Index("ix_privacy_notices_org_id_created_at_id", "org_id", "created_at", "id"),
        Index(
            "ix_privacy_notices_partner_org_id_created_at_id",
            "partner_org_id",
            "created_at",
            "id",
        ),
    )

    partner_org_id: Mapped[uuid.UUID]
    subject_id: Mapped[uuid.UUID]
    subject_kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID]
    # What the partner had received, from the disclosure index: `Kind.field`, never a value.
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(MAX_ACTOR_REFERENCE_LENGTH))
