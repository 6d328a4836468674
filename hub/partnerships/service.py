"""Partnerships: an owner invites a partner organisation, then each side moves it along.

The lifecycle is INVITED → ACTIVE ⇄ SUSPENDED → ENDED (DESIGN 1). The owner invites, suspends
and resumes; the partner accepts; either side ends (the partner declines an invitation or
leaves). Each side manages its end through its admins. Both sides read partnerships through the
access layer, and a partnership of others answers exactly like one that does not exist.

Audit: every change is recorded under the organisation that acted, with the partnership id and
both organisation ids, and under that organisation only. The other side learns of the change
from the partnership itself (its `status` and `updatedAt`), which both sides can read. Writing
into the other organisation's trail would need row-level security to let one tenant append to
another's ledger (policy `append_own_or_hub` allows only its own); that would let any partner
plant events in an owner's hash chain, which is worse than each trail holding only its own acts.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Side
from hub.access.writes import insert_owned_or_reopen
from hub.audit.record import EventType, record_act
from hub.errors import Forbidden, InvalidInput, UserErrorCode
from hub.grants.service import revoke_grants_of
from hub.orgs.lookup import find_organisation_by_slug
from hub.pagination import Page, PageRequest, fetch_page
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus
from hub.validation import Checks

MAX_SLUG_LENGTH = 80

S = PartnershipStatus


@dataclass(frozen=True)
class InvitePartner:
    partner_slug: str
    role: PartnerRole


class PartnershipAction(enum.StrEnum):
    ACCEPT = "ACCEPT"
    SUSPEND = "SUSPEND"
    RESUME = "RESUME"
    END = "END"


@dataclass(frozen=True)
class ChangePartnership:
    partnership_id: uuid.UUID
    action: PartnershipAction


@dataclass(frozen=True)
class PartnershipFilter:
    side: Side | None = None
    status: PartnershipStatus | None = None


@dataclass(frozen=True)
class Move:
    """Which side may make a move, from which statuses, to what, and the event it records."""

    sides: frozenset[Side]
    sources: frozenset[PartnershipStatus]
    target: PartnershipStatus
    event: EventType


MOVES: dict[PartnershipAction, Move] = {
    PartnershipAction.ACCEPT: Move(
        frozenset({Side.PARTNER}), frozenset({S.INVITED}), S.ACTIVE, EventType.PARTNERSHIP_ACCEPTED
    ),
    PartnershipAction.SUSPEND: Move(
        frozenset({Side.OWNER}), frozenset({S.ACTIVE}), S.SUSPENDED, EventType.PARTNERSHIP_SUSPENDED
    ),
    PartnershipAction.RESUME: Move(
        frozenset({Side.OWNER}), frozenset({S.SUSPENDED}), S.ACTIVE, EventType.PARTNERSHIP_RESUMED
    ),
    PartnershipAction.END: Move(
        frozenset(Side),
        frozenset({S.INVITED, S.ACTIVE, S.SUSPENDED}),
        S.ENDED,
        EventType.PARTNERSHIP_ENDED,
    ),
}


async def list_partnerships(
    session: AsyncSession, actor: Actor, where: PartnershipFilter, page: PageRequest
) -> Page[Partnership]:
    """The organisation's partnerships on both sides (or one), oldest first, ended included."""
    access.require_partnership_reader(actor)
    statement = access.select_partnerships(actor, where.side)
    if where.status is not None:
        statement = statement.where(Partnership.status == where.status)
    return await fetch_page(session, Partnership, statement, [Partnership.created_at], False, page)


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Partnership]:
    """Partnerships by id for `node(id:)`, from either side."""
    access.require_partnership_reader(actor)
    return await access.get_partnerships_many(session, actor, ids)


async def invite_partner(
    session: AsyncSession, actor: Actor, command: InvitePartner
) -> Partnership:
    """Invite the organisation with this slug to partner with the caller's, in `role`.

    An unknown slug gets NOT_FOUND and nothing more, so inviting cannot be used to learn about
    organisations. One partnership row exists per pair: an ENDED one is reopened as INVITED
    with the new role (same id, its history in the audit trail) and its old grants revoked, so
    sharing starts again only from grants made anew; any other is a DUPLICATE.
    """
    access.require_admin(actor)
    checks = Checks()
    checks.text("partnerSlug", command.partner_slug, max_length=MAX_SLUG_LENGTH, required=True)
    checks.done()
    partner = await find_organisation_by_slug(session, command.partner_slug.strip())
    if partner is None:
        raise InvalidInput.on(
            "partnerSlug", UserErrorCode.NOT_FOUND, "No organisation has this slug."
        )
    if partner.id == actor.org_id:
        raise InvalidInput.on(
            "partnerSlug", UserErrorCode.INVALID, "An organisation cannot partner with itself."
        )
    opened = await insert_owned_or_reopen(
        session,
        actor,
        Partnership,
        ["partner_org_id"],
        reopen={"role": command.role, "status": S.INVITED, "updated_at": func.now()},
        reopenable=Partnership.status == S.ENDED,
        partner_org_id=partner.id,
        role=command.role,
        status=S.INVITED,
    )
    if opened is None:
        raise InvalidInput.on(
            "partnerSlug",
            UserErrorCode.DUPLICATE,
            "You already have a partnership with this organisation; end it first.",
        )
    partnership, created = opened
    await _audit(session, actor, EventType.PARTNERSHIP_INVITED, partnership, reopened=not created)
    if not created:
        await revoke_grants_of(session, actor, partnership, reason="partnership_reopened")
    return partnership


async def change_partnership(
    session: AsyncSession, actor: Actor, command: ChangePartnership
) -> Partnership:
    """Accept, suspend, resume or end a partnership, as `MOVES` allows for the caller's side.

    A move the caller's side may never make is FORBIDDEN; a move its side may make but not
    from the current status is INVALID_TRANSITION. Both are answered only to the two sides: to
    anyone else the partnership does not exist. The row is locked, so two concurrent moves are
    decided one after the other against the status each finds.
    """
    access.require_admin(actor)
    partnership = await access.get_partnership(session, actor, command.partnership_id, lock=True)
    move = MOVES[command.action]
    side = access.side_of(actor, partnership.org_id)
    if side not in move.sides:
        raise Forbidden(
            f"The {side.value.lower()} side of a partnership cannot "
            f"{command.action.value.lower()} it."
        )
    before = partnership.status
    if before not in move.sources:
        raise InvalidInput.on(
            "id",
            UserErrorCode.INVALID_TRANSITION,
            f"A partnership that is {before.value} cannot be moved to {move.target.value}.",
        )
    partnership.status = move.target
    await session.flush()
    await session.refresh(partnership)
    await _audit(
        session,
        actor,
        move.event,
        partnership,
        side=side.value,
        previous_status=before.value,
    )
    return partnership


async def _audit(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    partnership: Partnership,
    **details: object,
) -> None:
    """Who changed which partnership, under the acting organisation (see the module notes)."""
    await record_act(
        session,
        actor,
        event_type,
        {
            "partnership_id": str(partnership.id),
            "owner_org_id": str(partnership.org_id),
            "partner_org_id": str(partnership.partner_org_id),
            "role": partnership.role.value,
            "status": partnership.status.value,
            **details,
        },
    )
