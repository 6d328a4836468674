"""Reading and setting an organisation's retention policy (who may: `access.retention`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access.actor import Actor
from hub.audit.record import EventType, record_act
from hub.errors import UserErrorCode
from hub.retention.models import MAX_DAYS, MIN_DAYS, RetentionPolicy
from hub.validation import Checks

# The input field each period is set through, as the API names it.
_FIELDS = {"audit_events_days": "auditEventsDays", "closed_records_days": "closedRecordsDays"}
_WHAT = {"audit_events_days": "audit events", "closed_records_days": "closed records"}


@dataclass(frozen=True)
class RetentionSettings:
    """The policy as the API shows it; `updated_at` is None while nothing was ever set."""

    org_id: uuid.UUID
    audit_events_days: int | None
    closed_records_days: int | None
    updated_at: datetime | None
    updated_by_user_id: uuid.UUID | None
    updated_by_client_id: str | None


@dataclass(frozen=True)
class SetRetentionPolicy:
    """New periods; a period not in `given` stays as it is, a given None means keep forever."""

    audit_events_days: object = None
    closed_records_days: object = None
    given: frozenset[str] = frozenset(_FIELDS)


async def get_policy(session: AsyncSession, actor: Actor) -> RetentionSettings:
    access.require_retention_admin(actor)
    row = await session.get(RetentionPolicy, actor.org_id)
    return _settings(actor.org_id, row)


async def set_policy(
    session: AsyncSession, actor: Actor, command: SetRetentionPolicy
) -> RetentionSettings:
    """Change the periods; records `retention.changed` with what changed, from and to.

    Shortening a period deletes nothing by itself: the next `hub retention run` does, so an
    admin who set a wrong number has until then to set it right (the change is in the trail).
    """
    access.require_retention_admin(actor)
    wanted = _checked(command)
    existing = await session.get(RetentionPolicy, actor.org_id)
    if all(getattr(existing, name, None) == value for name, value in wanted.items()):
        return _settings(actor.org_id, existing)
    await session.execute(
        insert(RetentionPolicy)
        .values(org_id=actor.org_id)
        .on_conflict_do_nothing(index_elements=["org_id"])
    )
    row = (
        await session.scalars(
            select(RetentionPolicy)
            .where(RetentionPolicy.org_id == actor.org_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    changes = {
        name: {"from": getattr(row, name), "to": value}
        for name, value in wanted.items()
        if getattr(row, name) != value
    }
    if changes:
        for name, value in wanted.items():
            setattr(row, name, value)
        row.updated_by_user_id = actor.user_id
        row.updated_by_client_id = actor.client_id
        row.updated_at = datetime.now(UTC)
        await session.flush()
        await record_act(session, actor, EventType.RETENTION_CHANGED, changes)
    return _settings(actor.org_id, row)


def _checked(command: SetRetentionPolicy) -> dict[str, int | None]:
    checks = Checks()
    wanted: dict[str, int | None] = {}
    for name, field in _FIELDS.items():
        if name not in command.given:
            continue
        value = getattr(command, name)
        if value is None:
            wanted[name] = None
        elif not isinstance(value, int) or isinstance(value, bool):
            checks.fail(field, UserErrorCode.INVALID, "Give a whole number of days, or null.")
        elif not MIN_DAYS <= value <= MAX_DAYS:
            checks.fail(
                field,
                UserErrorCode.OUT_OF_RANGE,
                f"Keep {_WHAT[name]} between {MIN_DAYS} and {MAX_DAYS:,} days, "
                "or give null to keep them forever.",
            )
        else:
            wanted[name] = value
    checks.done()
    return wanted


def _settings(org_id: uuid.UUID, row: RetentionPolicy | None) -> RetentionSettings:
    if row is None:
        return RetentionSettings(org_id, None, None, None, None, None)
    return RetentionSettings(
        org_id,
        row.audit_events_days,
        row.closed_records_days,
        row.updated_at,
        row.updated_by_user_id,
        row.updated_by_client_id,
    )
