"""Organisations (the tenants), their people and their registered API clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    func,
    text,
)
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
    # Empty for a public client (a single-page portal): it proves itself with PKCE alone.
    secret_hash: Mapped[str] = mapped_column(Text)
    allowed_scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    grant_types: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{client_credentials}'")
    )
    redirect_uris: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    # Web origins (scheme://host[:port]) whose pages may call the hub with this client's
    # tokens: the browser's CORS checks (`hub.cors`).
    allowed_origins: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    public: Mapped[bool] = mapped_column(server_default=text("false"))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(TenantModel):
    """Failed sign-ins per (organisation, e-mail), kept whether or not such a user exists.

    Counting by the address typed rather than by user means an unknown address slows down
    and locks exactly like a real one, so the throttle reveals nothing.
    """

    __tablename__ = "sign_in_throttles"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        Index("uq_sign_in_throttles_org_id_email", "org_id", "email", unique=True),
    )

    email: Mapped[str] = mapped_column(String(320))
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(TenantModel):
    """A one-time link for an invited user to choose a password."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "user_id"], ["users.org_id", "users.id"]),
        Index("uq_invitations_org_id_token_hash", "org_id", "token_hash", unique=True),
    )

    user_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
