"""Case and case comment: support work raised by an owner's team or by a partner."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel


class CasePriority(enum.StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class CaseStatus(enum.StrEnum):
    NEW = "NEW"
    OPEN = "OPEN"
    PENDING_PARTNER = "PENDING_PARTNER"
    PENDING_CUSTOMER = "PENDING_CUSTOMER"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class CommentVisibility(enum.StrEnum):
    """INTERNAL comments never reach a partner."""

    SHARED = "SHARED"
    INTERNAL = "INTERNAL"


class Case(TenantModel):
    __tablename__ = "cases"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "customer_id"], ["customers.org_id", "customers.id"]),
        ForeignKeyConstraint(["org_id", "assignee_user_id"], ["users.org_id", "users.id"]),
        ForeignKeyConstraint(["raised_by_org_id"], ["organisations.id"]),
        CheckConstraint(
            "satisfaction_score IS NULL OR satisfaction_score BETWEEN 1 AND 5",
            name="satisfaction_score_range",
        ),
        Index("ix_cases_org_id_created_at_id", "org_id", "created_at", "id"),
        Index("ix_cases_org_id_status", "org_id", "status"),
        Index("ix_cases_org_id_customer_id", "org_id", "customer_id"),
        # A partner's ASSIGNED grant lists the cases it raised from here (ADR 0008).
        Index("ix_cases_org_id_raised_by_org_id", "org_id", "raised_by_org_id"),
        Index(
            "ix_cases_org_id_subject_trgm",
            "org_id",
            "subject",
            postgresql_using="gin",
            postgresql_ops={"subject": "gin_trgm_ops"},
        ),
    )

    customer_id: Mapped[uuid.UUID]
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[CasePriority] = mapped_column(Enum(CasePriority, native_enum=False, length=20))
    status: Mapped[CaseStatus] = mapped_column(Enum(CaseStatus, native_enum=False, length=20))
    raised_by_org_id: Mapped[uuid.UUID]
    raised_by_user_id: Mapped[uuid.UUID | None]
    raised_by_client_id: Mapped[str | None] = mapped_column(String(64))
    assignee_user_id: Mapped[uuid.UUID | None]
    first_response_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction_score: Mapped[int | None]
    version: Mapped[int] = mapped_column(server_default="1")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CaseComment(TenantModel):
    __tablename__ = "case_comments"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "case_id"], ["cases.org_id", "cases.id"]),
        ForeignKeyConstraint(["author_org_id"], ["organisations.id"]),
        Index("ix_case_comments_org_id_case_id_created_at", "org_id", "case_id", "created_at"),
    )

    case_id: Mapped[uuid.UUID]
    author_org_id: Mapped[uuid.UUID]
    author_user_id: Mapped[uuid.UUID | None]
    author_client_id: Mapped[str | None] = mapped_column(String(64))
    visibility: Mapped[CommentVisibility] = mapped_column(
        Enum(CommentVisibility, native_enum=False, length=20)
    )
    body: Mapped[str] = mapped_column(Text)
