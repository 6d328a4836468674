"""Engine, sessions and the declarative base shared by every domain model."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

APP_ROLE = "hub_app"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantModel(Base):
    """A row owned by one organisation: `org_id` leads the primary key and every index.

    Leading with `org_id` keeps each tenant's rows together in every index and lets the
    schema be distributed by organisation later (Citus) without rewriting keys.
    """

    __abstract__ = True

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-20)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-19)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), sort_order=90
    )


def async_url(url: str) -> str:
    """The same database URL spelled for SQLAlchemy's asyncpg driver."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def app_role_url(owner_url: str, password: str | None) -> str:
    """The owner's URL with the application role as user: same server, same database."""
    parsed = make_url(async_url(owner_url)).set(username=APP_ROLE, password=password)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """A pool of `pool_size` connections to `url`, kept open; a request finding them all in use
    waits for one. (A pool that opened more under load and closed them as they came back would
    start a PostgreSQL backend, and the driver's type introspection on it, for a request at a
    time: under 32 concurrent readers that churn cost more than the reads.)

    `pre_ping` tests each connection as it leaves the pool: one more round trip on every use.
    The API's pool goes without (DESIGN 8) and starts a request over once when its first
    statement finds the connection gone (`hub.graphql_http`); short-lived tools keep it.
    """
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=0, pool_pre_ping=pre_ping
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
