"""Whose personal data: a customer (with its contacts) or one contact, of the caller's own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.privacy import get_privacy_subject
from hub.customers.models import Contact, Customer
from hub.errors import NotFound


@dataclass(frozen=True)
class PrivacySubject:
    """What the caller names: a customer or a contact by id."""

    model: type[Customer] | type[Contact]
    subject_id: uuid.UUID

    @property
    def kind(self) -> str:
        return self.model.__name__


@dataclass(frozen=True)
class ResolvedSubject:
    """The subject found among the owner's records, with everything that is about it.

    A customer is about itself and each of its contacts; a contact only about itself (its
    customer's other records are the company's, not the person's).
    """

    org_id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    customer_id: uuid.UUID
    contact_ids: tuple[uuid.UUID, ...]

    @property
    def is_customer(self) -> bool:
        return self.kind == Customer.__name__

    @property
    def record_ids(self) -> tuple[uuid.UUID, ...]:
        """The subject and its contacts: the ids events and disclosures name it by."""
        return (self.subject_id, *(c for c in self.contact_ids if c != self.subject_id))


async def resolve_subject(
    session: AsyncSession, actor: Actor, subject: PrivacySubject, *, lock: bool = False
) -> ResolvedSubject:
    """The owned subject (`NotFound` otherwise), checked by the access layer."""
    if subject.model is Customer:
        customer = await get_privacy_subject(
            session, actor, Customer, subject.subject_id, lock=lock
        )
        contacts = await session.scalars(
            select(Contact.id)
            .where(Contact.org_id == customer.org_id, Contact.customer_id == customer.id)
            .order_by(Contact.id)
        )
        return ResolvedSubject(
            customer.org_id, subject.kind, customer.id, customer.id, tuple(contacts.all())
        )
    contact = await get_privacy_subject(session, actor, Contact, subject.subject_id, lock=lock)
    return ResolvedSubject(
        contact.org_id, subject.kind, contact.id, contact.customer_id, (contact.id,)
    )


async def subject_by_id(
    session: AsyncSession, actor: Actor, record_id: uuid.UUID
) -> PrivacySubject:
    """A bare id (as an operator pastes it) named as the customer or contact it is; `NotFound`
    when the actor's organisation owns neither."""
    try:
        await get_privacy_subject(session, actor, Customer, record_id)
    except NotFound:
        await get_privacy_subject(session, actor, Contact, record_id)
        return PrivacySubject(Contact, record_id)
    return PrivacySubject(Customer, record_id)
