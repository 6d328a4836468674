"""Organisations (the tenants), their people and their registered API clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, Enum, ForeignKeyConstraint, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hub.access.actor import Role
from hub.db import Base, TenantModel


class Organisation(Base):
    """A company on the hub; every tenant row points back here through `org_id`."""

    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(TenantModel):
    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        Index("uq_users_org_id_email", "org_id", "email", unique=True),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiClient(TenantModel):
    """An OAuth client an organisation registered: a portal or an integration.

    `client_id` is public and globally unique; the secret is only ever stored as an
    argon2 hash and shown once, when it is made.
    """

    __tablename__ = "api_clients"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        Index("uq_api_clients_client_id", "client_id", unique=True),
    )

    client_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(Text)
    allowed_scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
