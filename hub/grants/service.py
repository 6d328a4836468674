"""Grants: how an owner shares records with a partner (ADR 0008) — made, changed, revoked, read.

An owner's admins (scope `partners:manage` or an ADMIN user) make and change grants on their own
partnerships. The partner side reads the grants made to it and gets FORBIDDEN when it tries to
change one; to anyone else a grant or partnership answers exactly like one that does not exist.

A grant's partnership, record type and kind of selection never change: changing those is a new
grant. Everything else may change, with the `version` read (optimistic concurrency), until the
grant is revoked; a revoked grant stays as it was, for the record.

Audit (under the owner, in the same transaction): `grant.created` with the terms, `grant.revoked`,
and `grant.updated` with a diff `{field: {before, after, direction}}` of what changed. Terms hold
no personal data (segment values are attributes such as a region; records are named by id).
`direction` says what the change did to the partner's reach, where that is simple to decide:

- `access`: READ < CONTRIBUTE < WRITE; lower is NARROWED, higher WIDENED.
- `fieldPolicy`: per field HIDDEN < MASKED < VISIBLE; NARROWED if every changed field went down,
  WIDENED if every one went up, else CHANGED.
- `expiresAt`: earlier, or an expiry where there was none, is NARROWED; later or none WIDENED.
- `recordIds`: only removals NARROWED, only additions WIDENED, both CHANGED.
- `segment` and `purpose`: CHANGED (another rule or purpose is neither simply narrower nor wider).

The event's own `direction` is NARROWED or WIDENED when every changed field agrees, else CHANGED.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor
from hub.access.writes import insert_owned, insert_owned_many
from hub.audit.record import EventType, record_act
from hub.cases.models import Case
from hub.customers.models import Customer
from hub.db import TenantModel
from hub.errors import Conflict, InvalidInput, UserErrorCode
from hub.grants.masking import PersonalField, combined_policy
from hub.grants.models import (
    Access,
    FieldVisibility,
    Grant,
    GrantRecord,
    Purpose,
    RecordType,
    Selection,
)
from hub.grants.segments import Condition, Segment, parse_segment
from hub.opportunities.models import Opportunity
from hub.pagination import Page, PageRequest, fetch_page
from hub.partnerships.models import Partnership, PartnershipStatus
from hub.validation import Checks
from hub.values import UNSET, Maybe

MAX_EXPLICIT_RECORDS = 500

RECORD_MODELS: dict[RecordType, type[TenantModel]] = {
    RecordType.CUSTOMERS: Customer,
    RecordType.OPPORTUNITIES: Opportunity,
    RecordType.CASES: Case,
}


@dataclass(frozen=True)
class RecordRef:
    """An explicit record as the client named it; None parts when the name was unreadable."""

    record_type: RecordType | None
    record_id: uuid.UUID | None


@dataclass(frozen=True)
class FieldRule:
    field: PersonalField
    visibility: FieldVisibility


@dataclass(frozen=True)
class CreateGrant:
    partnership_id: uuid.UUID
    record_type: RecordType
    access: Access
    selection: Selection
    purpose: Purpose
    segment: tuple[Condition, ...] | None = None
    records: tuple[RecordRef, ...] | None = None
    field_policy: tuple[FieldRule, ...] = ()
    expires_at: datetime | None = None


@dataclass(frozen=True)
class UpdateGrant:
    grant_id: uuid.UUID
    version: int
    access: Maybe[Access] = UNSET
    purpose: Maybe[Purpose] = UNSET
    segment: Maybe[tuple[Condition, ...]] = UNSET
    records: Maybe[tuple[RecordRef, ...]] = UNSET
    field_policy: Maybe[tuple[FieldRule, ...]] = UNSET
    expires_at: Maybe[datetime | None] = UNSET


@dataclass(frozen=True)
class RevokeGrant:
    grant_id: uuid.UUID


@dataclass(frozen=True)
class ExplainAccess:
    """One of the caller's records (a customer, contact, opportunity or case) and a partner."""

    model: type[TenantModel]
    record_id: uuid.UUID
    partner_org_id: uuid.UUID


@dataclass(frozen=True)
class GrantFilter:
    partnership_id: uuid.UUID | None = None
    record_type: RecordType | None = None
    live: bool | None = None


class Direction(enum.StrEnum):
    """What a change did to a partner's reach (see the module notes)."""

    NARROWED = "NARROWED"
    WIDENED = "WIDENED"
    CHANGED = "CHANGED"


@dataclass(frozen=True)
class Terms:
    """A grant's changeable terms, validated; `field_policy` names all four fields."""

    access: Access
    purpose: Purpose
    segment: Segment | None
    record_ids: frozenset[uuid.UUID]
    field_policy: dict[PersonalField, FieldVisibility]
    expires_at: datetime | None

    def columns(self) -> dict[str, Any]:
        """The terms as `grants` columns (explicit records live in `grant_records`)."""
        return {
            "access": self.access,
            "purpose": self.purpose,
            "segment": self.segment.to_json() if self.segment is not None else None,
            "field_policy": {field.value: seen.value for field, seen in self.field_policy.items()},
            "expires_at": self.expires_at,
        }

    def view(self) -> dict[str, Any]:
        """The terms as JSON under their API names, for the audit trail."""
        return {
            "access": self.access.value,
            "purpose": self.purpose.value,
            "segment": self.segment.to_json() if self.segment is not None else None,
            "recordIds": sorted(str(record_id) for record_id in self.record_ids),
            "fieldPolicy": {field.value: seen.value for field, seen in self.field_policy.items()},
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
        }


# --- reading --------------------------------------------------------------------------------


async def list_grants(
    session: AsyncSession, actor: Actor, where: GrantFilter, page: PageRequest
) -> Page[Grant]:
    """Grants the organisation made and grants made to it, oldest first."""
    access.require_partnership_reader(actor)
    statement = access.select_grants(actor)
    if where.partnership_id is not None:
        statement = statement.where(Grant.partnership_id == where.partnership_id)
    if where.record_type is not None:
        statement = statement.where(Grant.record_type == where.record_type)
    if where.live is not None:
        live = access.is_live()
        statement = statement.where(live if where.live else ~live)
    return await fetch_page(session, Grant, statement, [Grant.created_at], False, page)


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Grant]:
    """Grants by id for `node(id:)`, from either side."""
    access.require_partnership_reader(actor)
    return await access.get_grants_many(session, actor, ids)


async def records_of(
    session: AsyncSession, actor: Actor, grant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The explicit records of many grants in one statement, for the per-request loader.

    The partner side gets them too: they are the records it was given.
    """
    access.require_partnership_reader(actor)
    grouped: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for grant_id, record_id in await session.execute(access.select_grant_records(actor, grant_ids)):
        grouped[grant_id].append(record_id)
    return grouped


async def explain_access(
    session: AsyncSession, actor: Actor, command: ExplainAccess
) -> access.AccessExplanation:
    """Which grants give a partner one of the caller's records and with which fields, or why not.

    For the owner's admins (scope `partners:manage` or an ADMIN user), as making and changing
    grants is: the answer lays out everything the organisation shares with that partner for the
    record's type, and the customer's consent, so it is for those who decide what is shared.
    Only the owner asks: anyone else's record, or one merely shared with the caller, and a
    partner it has no partnership with, answer like absent ones. Nothing crosses to a partner,
    so nothing is disclosed and nothing audited.
    """
    access.require_admin(actor)
    return await access.explain_access(
        session, actor, command.model, command.record_id, command.partner_org_id
    )


# --- changing -------------------------------------------------------------------------------


async def create_grant(session: AsyncSession, actor: Actor, command: CreateGrant) -> Grant:
    """Share records of one type with the partner of one of the caller's partnerships.

    INVITED and SUSPENDED partnerships take grants too (data flows once, or again, it is
    ACTIVE); an ENDED one does not.
    """
    access.require_admin(actor)
    partnership = await _owned_partnership(session, actor, command.partnership_id)
    checks = Checks()
    terms = Terms(
        access=command.access,
        purpose=command.purpose,
        segment=_check_segment(checks, command.selection, command.record_type, command.segment),
        record_ids=await _check_records(
            session, actor, checks, command.selection, command.record_type, command.records
        ),
        field_policy=_check_field_policy(checks, command.field_policy),
        expires_at=_check_expiry(checks, command.expires_at),
    )
    checks.done()
    grant = await insert_owned(
        session,
        actor,
        Grant,
        partnership_id=partnership.id,
        partner_org_id=partnership.partner_org_id,
        record_type=command.record_type,
        selection=command.selection,
        granted_by=actor_reference(actor),
        version=1,
        **terms.columns(),
    )
    await _add_records(session, actor, grant, terms.record_ids)
    await _audit(session, actor, EventType.GRANT_CREATED, grant, **terms.view())
    return await access.get_grant(session, actor, grant.id)


async def update_grant(session: AsyncSession, actor: Actor, command: UpdateGrant) -> Grant:
    """Change the terms of a grant that is not revoked, if nobody did since `version` was read.

    A change that changes nothing writes nothing: no new version, no audit event.
    """
    access.require_admin(actor)
    grant = await access.get_grant_to_change(session, actor, command.grant_id, field="grantId")
    _refuse_if_revoked(grant)
    if grant.version != command.version:
        raise Conflict()
    before = await _terms_of(session, actor, grant)
    after = await _changed_terms(session, actor, grant, before, command)
    changes = _changes(before, after)
    if not changes:
        return grant
    for column, value in after.columns().items():
        setattr(grant, column, value)
    grant.version += 1
    await _remove_records(session, grant, before.record_ids - after.record_ids)
    await _add_records(session, actor, grant, after.record_ids - before.record_ids)
    await session.flush()
    direction = _overall(Direction(change["direction"]) for change in changes.values())
    await _audit(
        session,
        actor,
        EventType.GRANT_UPDATED,
        grant,
        changes=changes,
        direction=direction.value,
        version=grant.version,
    )
    return await access.get_grant(session, actor, grant.id)


async def revoke_grant(session: AsyncSession, actor: Actor, command: RevokeGrant) -> Grant:
    """End a grant for good; the partner loses what it was given on its very next request."""
    access.require_admin(actor)
    grant = await access.get_grant_to_change(session, actor, command.grant_id, field="grantId")
    _refuse_if_revoked(grant)
    # The database's clock, like the one that decides expiry and `created_at`.
    await session.execute(
        update(Grant)
        .where(Grant.org_id == grant.org_id, Grant.id == grant.id)
        .values(revoked_at=func.now(), revoked_by=actor_reference(actor), version=Grant.version + 1)
    )
    revoked = await access.get_grant(session, actor, grant.id)
    await _audit(session, actor, EventType.GRANT_REVOKED, revoked, version=revoked.version)
    return revoked


async def revoke_grants_of(
    session: AsyncSession, actor: Actor, partnership: Partnership, reason: str
) -> list[uuid.UUID]:
    """Revoke every grant still standing under a partnership the owner is reopening.

    An ENDED partnership keeps its grants (they cannot flow while it is ended); reopening it
    must not bring them back to life unasked, so they end here, each one audited.
    """
    revoked = await session.scalars(
        update(Grant)
        .where(
            Grant.org_id == actor.org_id,
            Grant.partnership_id == partnership.id,
            Grant.revoked_at.is_(None),
        )
        .values(revoked_at=func.now(), revoked_by=actor_reference(actor), version=Grant.version + 1)
        .returning(Grant)
    )
    grants = list(revoked)
    for grant in grants:
        await _audit(session, actor, EventType.GRANT_REVOKED, grant, reason=reason)
    return [grant.id for grant in grants]


def actor_reference(actor: Actor) -> str:
    """Who acted, as `granted_by`/`revoked_by` keep it: the person if any, else the client."""
    if actor.user_id is not None:
        return f"user:{actor.user_id}"
    return f"client:{actor.client_id}"


# --- rules ----------------------------------------------------------------------------------


async def _owned_partnership(
    session: AsyncSession, actor: Actor, partnership_id: uuid.UUID
) -> Partnership:
    """The caller's partnership as owner, open to new grants (locked: it cannot end meanwhile)."""
    partnership = await access.get_owned_partnership(
        session, actor, partnership_id, lock=True, field="partnershipId"
    )
    if partnership.status is PartnershipStatus.ENDED:
        raise InvalidInput.on(
            "partnershipId",
            UserErrorCode.INVALID_TRANSITION,
            "An ENDED partnership takes no grants; invite the partner again first.",
        )
    return partnership


def _refuse_if_revoked(grant: Grant) -> None:
    if grant.revoked_at is not None:
        raise InvalidInput.on(
            "grantId",
            UserErrorCode.INVALID_TRANSITION,
            "This grant is revoked; a revoked grant never changes. Make a new one.",
        )


async def _changed_terms(
    session: AsyncSession, actor: Actor, grant: Grant, before: Terms, command: UpdateGrant
) -> Terms:
    """`before` with the command's changes, each checked as on creation; all problems at once."""
    checks = Checks()
    after = before
    if command.access is not UNSET:
        after = replace(after, access=command.access)
    if command.purpose is not UNSET:
        after = replace(after, purpose=command.purpose)
    if command.segment is not UNSET:
        segment = _check_segment(checks, grant.selection, grant.record_type, command.segment)
        after = replace(after, segment=segment)
    if command.records is not UNSET:
        record_ids = await _check_records(
            session, actor, checks, grant.selection, grant.record_type, command.records
        )
        after = replace(after, record_ids=record_ids)
    if command.field_policy is not UNSET:
        after = replace(after, field_policy=_check_field_policy(checks, command.field_policy))
    if command.expires_at is not UNSET:
        after = replace(after, expires_at=_check_expiry(checks, command.expires_at))
    checks.done()
    return after


def _check_segment(
    checks: Checks,
    selection: Selection,
    record_type: RecordType,
    conditions: Sequence[Condition] | None,
) -> Segment | None:
    """A SEGMENT grant needs a valid rule; any other kind of grant takes none."""
    if selection is not Selection.SEGMENT:
        if conditions is not None:
            checks.fail("segment", UserErrorCode.INVALID, "Only a SEGMENT grant has a segment.")
        return None
    if conditions is None:
        checks.fail("segment", UserErrorCode.REQUIRED, "A SEGMENT grant needs a segment.")
        return None
    return parse_segment(checks, "segment", record_type, conditions)


async def _check_records(
    session: AsyncSession,
    actor: Actor,
    checks: Checks,
    selection: Selection,
    record_type: RecordType,
    records: Sequence[RecordRef] | None,
) -> frozenset[uuid.UUID]:
    """An EXPLICIT grant names 1 to 500 of the organisation's own records of its type.

    A record of another type or organisation, or one that does not exist, is NOT_FOUND at its
    index in the list, in the same words: naming records cannot probe for others' ids.
    """
    if selection is not Selection.EXPLICIT:
        if records is not None:
            checks.fail("recordIds", UserErrorCode.INVALID, "Only an EXPLICIT grant names records.")
        return frozenset()
    if records is None:
        checks.fail("recordIds", UserErrorCode.REQUIRED, "An EXPLICIT grant names its records.")
        return frozenset()
    if not 1 <= len(records) <= MAX_EXPLICIT_RECORDS:
        checks.fail(
            "recordIds",
            UserErrorCode.OUT_OF_RANGE,
            f"Name between 1 and {MAX_EXPLICIT_RECORDS} records.",
        )
        return frozenset()
    wanted = [ref.record_id if ref.record_type is record_type else None for ref in records]
    # Only the organisation's own records: records shared with it are not its to share.
    found = await access.get_owned_many(
        session,
        actor,
        RECORD_MODELS[record_type],
        [record_id for record_id in wanted if record_id is not None],
    )
    seen: set[uuid.UUID] = set()
    for index, record_id in enumerate(wanted):
        if record_id is None or record_id not in found:
            checks.fail_item("recordIds", index, UserErrorCode.NOT_FOUND, "No such record.")
        elif record_id in seen:
            checks.fail_item("recordIds", index, UserErrorCode.DUPLICATE, "This entry is repeated.")
        else:
            seen.add(record_id)
    return frozenset(seen)


def _check_field_policy(
    checks: Checks, rules: Sequence[FieldRule]
) -> dict[PersonalField, FieldVisibility]:
    """One rule per field at most; a field without one is HIDDEN (ADR 0008)."""
    checks.distinct("fieldPolicy", [rule.field for rule in rules])
    policy = dict.fromkeys(PersonalField, FieldVisibility.HIDDEN)
    policy.update({rule.field: rule.visibility for rule in rules})
    return policy


def _check_expiry(checks: Checks, expires_at: datetime | None) -> datetime | None:
    """An expiry is a moment in the future, with its time zone (a bare time means nothing)."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        checks.fail("expiresAt", UserErrorCode.INVALID, "Give a time zone, such as Z or +01:00.")
        return None
    try:
        # 9999-12-31T23:59:59-12:00 is past the last moment Python and the driver can hold.
        expires_at = expires_at.astimezone(UTC)
    except OverflowError:
        checks.fail("expiresAt", UserErrorCode.OUT_OF_RANGE, "The expiry is too far ahead.")
        return None
    if expires_at <= datetime.now(UTC):
        checks.fail("expiresAt", UserErrorCode.OUT_OF_RANGE, "The expiry must be in the future.")
    return expires_at


# --- stored terms, explicit records, diffs ---------------------------------------------------


async def _terms_of(session: AsyncSession, actor: Actor, grant: Grant) -> Terms:
    record_ids: frozenset[uuid.UUID] = frozenset()
    if grant.selection is Selection.EXPLICIT:
        rows = await session.execute(access.select_grant_records(actor, [grant.id]))
        record_ids = frozenset(record_id for _, record_id in rows)
    return Terms(
        access=grant.access,
        purpose=grant.purpose,
        segment=Segment.from_json(grant.segment) if grant.segment is not None else None,
        record_ids=record_ids,
        field_policy=combined_policy([grant.field_policy]),
        expires_at=grant.expires_at,
    )


async def _add_records(
    session: AsyncSession, actor: Actor, grant: Grant, record_ids: Iterable[uuid.UUID]
) -> None:
    rows = [{"grant_id": grant.id, "record_id": record_id} for record_id in sorted(record_ids)]
    await insert_owned_many(session, actor, GrantRecord, rows)


async def _remove_records(
    session: AsyncSession, grant: Grant, record_ids: frozenset[uuid.UUID]
) -> None:
    if record_ids:
        await session.execute(
            delete(GrantRecord).where(
                GrantRecord.org_id == grant.org_id,
                GrantRecord.grant_id == grant.id,
                GrantRecord.record_id.in_(record_ids),
            )
        )


def _changes(before: Terms, after: Terms) -> dict[str, dict[str, Any]]:
    """`{field: {before, after, direction}}` for each term that differs."""
    old, new = before.view(), after.view()
    return {
        name: {
            "before": old[name],
            "after": new[name],
            "direction": _direction(name, before, after).value,
        }
        for name in old
        if old[name] != new[name]
    }


def _direction(name: str, before: Terms, after: Terms) -> Direction:
    if name == "access":
        return _by_rank(list(Access).index(before.access), list(Access).index(after.access))
    if name == "fieldPolicy":
        ranks = list(FieldVisibility)
        return _overall(
            _by_rank(ranks.index(before.field_policy[field]), ranks.index(seen))
            for field, seen in after.field_policy.items()
            if seen is not before.field_policy[field]
        )
    if name == "expiresAt":
        if before.expires_at is None or after.expires_at is None:
            return Direction.WIDENED if after.expires_at is None else Direction.NARROWED
        return Direction.NARROWED if after.expires_at < before.expires_at else Direction.WIDENED
    if name == "recordIds":
        directions = []
        if after.record_ids - before.record_ids:
            directions.append(Direction.WIDENED)
        if before.record_ids - after.record_ids:
            directions.append(Direction.NARROWED)
        return _overall(directions)
    return Direction.CHANGED


def _by_rank(before: int, after: int) -> Direction:
    return Direction.NARROWED if after < before else Direction.WIDENED


def _overall(directions: Iterable[Direction]) -> Direction:
    """The one direction all agree on, else CHANGED."""
    distinct = set(directions)
    return distinct.pop() if len(distinct) == 1 else Direction.CHANGED


async def _audit(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    grant: Grant,
    **details: object,
) -> None:
    """Which grant, to whom, of what; the owner's trail only (as for partnerships)."""
    await record_act(
        session,
        actor,
        event_type,
        {
            "grant_id": str(grant.id),
            "partnership_id": str(grant.partnership_id),
            "partner_org_id": str(grant.partner_org_id),
            "record_type": grant.record_type.value,
            "selection": grant.selection.value,
            **details,
        },
    )
