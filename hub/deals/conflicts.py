"""Possible conflicts of a deal registration, and the first-to-register rule (ADR 0009).

"Looks like the same company" is one rule, kept in PostgreSQL by the migration
`20261125_deal_registrations` so that every caller, the SECURITY DEFINER function that answers
the registering partner included, applies the same one:

- the same normalised domain (`hub_company_domain`: lower case, no `www.`, no trailing dot), or
- normalised names (`hub_company_key`: lower case, punctuation as spaces, legal forms such as
  Ltd, Corp, GmbH dropped) whose pg_trgm `similarity` is at least `hub_deal_name_similarity()`
  (0.5). "Acme Corp" and "ACME Corporation Ltd" are both "acme" (1.0); "Acme" and "Acme Tools"
  score 0.45 and are not the same.

A pending registration's possible conflicts, shown to the owner's reviewer, are the owner's
customers that look like the same company, the open opportunities (not CLOSED_WON or CLOSED_LOST)
of such customers, and the PENDING or APPROVED registrations of the same company by other
partners. A registration is *claimed* when another partner's registration of the same company
holds the deal: PENDING and registered earlier, or APPROVED and protected now
(`hub_deal_claimed_by_another`). A claimed registration cannot be approved.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Select,
    String,
    Text,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.deals import reads_owner_queue, select_owner_queue, select_registrations
from hub.access.scopes import Scope
from hub.access.visibility import select_owned
from hub.customers.models import Customer
from hub.deals.models import DealRegistration, DealStatus
from hub.opportunities.models import Opportunity, OpportunityStage

# At most this many matches of each kind per registration, best first: a reviewer needs the
# likely ones, and a page of registrations must stay one bounded statement.
MAX_MATCHES_PER_KIND = 10

CLOSED_STAGES = (OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST)


class ConflictKind(enum.StrEnum):
    CUSTOMER = "CUSTOMER"
    OPPORTUNITY = "OPPORTUNITY"
    REGISTRATION = "REGISTRATION"


@dataclass(frozen=True)
class Conflict:
    """One record that looks like the registered deal; `record_id` is the matched record's."""

    registration_id: uuid.UUID
    kind: ConflictKind
    record_id: uuid.UUID
    name: str
    domain: str | None
    similarity: float
    same_domain: bool


def company_key(name: Any) -> ColumnElement[str]:
    return func.hub_company_key(name, type_=String)


def company_domain(domain: Any) -> ColumnElement[str]:
    return func.hub_company_domain(domain, type_=String)


def same_company(name_a: Any, domain_a: Any, name_b: Any, domain_b: Any) -> ColumnElement[bool]:
    """The conflict rule itself (see the module notes)."""
    return func.hub_same_company(name_a, domain_a, name_b, domain_b, type_=Boolean)


async def claims(
    session: AsyncSession, actor: Actor, registration_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """Whether each readable registration is claimed by another partner's, in one statement.

    The partner that made a registration may ask too: the answer is one bit, never which
    registration or partner holds the deal (the database function sees what the partner
    cannot, and tells it only that).
    """
    ids = list(set(registration_ids))
    if not ids:
        return {}
    statement = (
        select_registrations(actor)
        .with_only_columns(
            DealRegistration.id,
            func.hub_deal_claimed_by_another(
                DealRegistration.org_id, DealRegistration.id, type_=Boolean
            ),
        )
        .where(DealRegistration.id.in_(ids))
    )
    return {
        registration_id: bool(claimed)
        for registration_id, claimed in await session.execute(statement)
    }


async def is_claimed(session: AsyncSession, registration: DealRegistration) -> bool:
    """Whether another partner's registration holds this one's deal, by PostgreSQL's `now()`."""
    claimed = await session.scalar(
        select(
            func.hub_deal_claimed_by_another(registration.org_id, registration.id, type_=Boolean)
        )
    )
    return bool(claimed)


async def protected_for_another(
    session: AsyncSession, actor: Actor, opportunity_id: uuid.UUID, partnership_id: uuid.UUID
) -> bool:
    """Whether an approved registration of another partnership still protects this opportunity."""
    statement = (
        select_owned(actor, DealRegistration)
        .with_only_columns(DealRegistration.id)
        .where(
            DealRegistration.opportunity_id == opportunity_id,
            DealRegistration.partnership_id != partnership_id,
            DealRegistration.status == DealStatus.APPROVED,
            DealRegistration.protected_until > func.now(),
        )
        .limit(1)
    )
    return (await session.scalar(statement)) is not None


async def lock_reviews(session: AsyncSession, owner_org_id: uuid.UUID) -> None:
    """Make the owner's reviews take turns until this transaction ends.

    Without it, a registration committed late (its `created_at` is its transaction's start) and
    a conflicting one could each be approved by two concurrent reviews that cannot see each
    other's approval. With it, every review reads the registrations after the previous review
    committed (READ COMMITTED: each statement sees what was committed before it started), so an
    APPROVED, protected registration always stops the next approval. One owner's reviews wait for
    each other; other owners' do not.
    """
    key = func.hashtextextended(literal(f"hub.deal_reviews:{owner_org_id}"), 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def conflicts_of(
    session: AsyncSession, actor: Actor, registration_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Conflict]]:
    """The possible conflicts of the owner's pending registrations among these ids.

    One statement for the whole batch, plus the trigram threshold for this transaction, which
    lets the `%` operator take candidates from the trigram indexes (the rule itself is
    `hub_same_company`). Customers are listed only to a token that may read customers; a
    partner's registrations are never in its owner's queue from the partner's side, so it gets
    nothing.
    """
    ids = list(set(registration_ids))
    if not ids or not reads_owner_queue(actor):
        return {}
    queue = select_owner_queue(actor, ids).subquery("registration")
    kinds = [_opportunities(actor, queue), _registrations(actor, queue)]
    if actor.has_scope(Scope.CUSTOMERS_READ):
        kinds.insert(0, _customers(actor, queue))
    await session.execute(
        select(
            func.set_config(
                "pg_trgm.similarity_threshold", cast(func.hub_deal_name_similarity(), Text), True
            )
        )
    )
    grouped: dict[uuid.UUID, list[Conflict]] = defaultdict(list)
    for row in await session.execute(union_all(*kinds)):
        grouped[row.registration_id].append(
            Conflict(
                registration_id=row.registration_id,
                kind=ConflictKind(row.kind),
                record_id=row.record_id,
                name=row.name,
                domain=row.domain,
                similarity=round(float(row.similarity), 4),
                same_domain=bool(row.same_domain),
            )
        )
    order = list(ConflictKind)
    for conflicts in grouped.values():
        conflicts.sort(
            key=lambda c: (order.index(c.kind), -c.same_domain, -c.similarity, c.name, c.record_id)
        )
    return grouped


def _candidate(queue: Any, name: Any, domain: Any, domain_key: Any) -> ColumnElement[bool]:
    """Candidates the indexes find (trigram `%` on the name key, or the same domain key), kept
    only if the rule holds. `domain_key` is the normalised domain as its index holds it."""
    similar_key = company_key(name).bool_op("%")(company_key(queue.c.customer_name))
    candidate = or_(similar_key, domain_key == queue.c.customer_domain)
    return and_(
        candidate, same_company(queue.c.customer_name, queue.c.customer_domain, name, domain)
    )


def _scores(queue: Any, name: Any, domain_key: Any) -> tuple[ColumnElement[Any], ...]:
    similarity = cast(
        func.similarity(company_key(name), company_key(queue.c.customer_name)), Float
    ).label("similarity")
    same_domain = func.coalesce(domain_key == queue.c.customer_domain, False).label("same_domain")
    return similarity, same_domain


def _best_first(similarity: Any, same_domain: Any, record_id: Any) -> list[Any]:
    return [same_domain.desc(), similarity.desc(), record_id]


def _as_rows(queue: Any, kind: ConflictKind, matches: Any) -> Select[Any]:
    return select(
        queue.c.id.label("registration_id"),
        literal(kind.value).label("kind"),
        matches.c.record_id,
        matches.c.name,
        matches.c.domain,
        matches.c.similarity,
        matches.c.same_domain,
    ).select_from(queue.join(matches, true()))


def _customers(actor: Actor, queue: Any) -> Select[Any]:
    domain_key = company_domain(Customer.domain)
    similarity, same_domain = _scores(queue, Customer.name, domain_key)
    matches = (
        select_owned(actor, Customer)
        .with_only_columns(
            Customer.id.label("record_id"),
            Customer.name.label("name"),
            Customer.domain.label("domain"),
            similarity,
            same_domain,
        )
        .where(
            Customer.org_id == queue.c.org_id,
            _candidate(queue, Customer.name, Customer.domain, domain_key),
        )
        .order_by(*_best_first(similarity, same_domain, Customer.id))
        .limit(MAX_MATCHES_PER_KIND)
        .lateral("customer_match")
    )
    return _as_rows(queue, ConflictKind.CUSTOMER, matches)


def _opportunities(actor: Actor, queue: Any) -> Select[Any]:
    """Open opportunities of customers that look like the registered one."""
    domain_key = company_domain(Customer.domain)
    similarity, same_domain = _scores(queue, Customer.name, domain_key)
    matches = (
        select_owned(actor, Opportunity)
        .with_only_columns(
            Opportunity.id.label("record_id"),
            Opportunity.name.label("name"),
            Customer.domain.label("domain"),
            similarity,
            same_domain,
        )
        .join(
            Customer,
            (Customer.org_id == Opportunity.org_id) & (Customer.id == Opportunity.customer_id),
        )
        .where(
            Opportunity.org_id == queue.c.org_id,
            Opportunity.stage.not_in(CLOSED_STAGES),
            _candidate(queue, Customer.name, Customer.domain, domain_key),
        )
        .order_by(*_best_first(similarity, same_domain, Opportunity.id))
        .limit(MAX_MATCHES_PER_KIND)
        .lateral("opportunity_match")
    )
    return _as_rows(queue, ConflictKind.OPPORTUNITY, matches)


def _registrations(actor: Actor, queue: Any) -> Select[Any]:
    """Other partners' PENDING or APPROVED registrations of what looks like the same company."""
    other = DealRegistration
    # Registrations store their domain normalised: the column is its own key.
    similarity, same_domain = _scores(queue, other.customer_name, other.customer_domain)
    matches = (
        select_owned(actor, other)
        .with_only_columns(
            other.id.label("record_id"),
            other.customer_name.label("name"),
            other.customer_domain.label("domain"),
            similarity,
            same_domain,
        )
        .where(
            other.org_id == queue.c.org_id,
            other.partner_org_id != queue.c.partner_org_id,
            other.status.in_([DealStatus.PENDING, DealStatus.APPROVED]),
            _candidate(queue, other.customer_name, other.customer_domain, other.customer_domain),
        )
        .order_by(*_best_first(similarity, same_domain, other.id))
        .limit(MAX_MATCHES_PER_KIND)
        .lateral("registration_match")
    )
    return _as_rows(queue, ConflictKind.REGISTRATION, matches)
