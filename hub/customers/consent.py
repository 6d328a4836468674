"""Consent: for which purposes a customer's data may cross to partners (DESIGN 1 and 4).

A grant shares a record only for a purpose the customer consented to, so recording or
withdrawing consent changes what partners see on their very next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Scope
from hub.audit.record import EventType, record_act
from hub.customers.models import Customer, Purpose


@dataclass(frozen=True)
class SetConsent:
    customer_id: uuid.UUID
    purpose: Purpose
    given: bool


async def set_consent(session: AsyncSession, actor: Actor, command: SetConsent) -> Customer:
    """Give or withdraw consent for one purpose.

    No `version`: adding or removing one purpose under the row lock composes with any other
    change, so it cannot lose anyone's edit. The customer's version still moves when consent
    does, because what the record allows changed. Asking for what is already so writes nothing.
    """
    access.require_scope(actor, Scope.CUSTOMERS_WRITE)
    # Consent is recorded by the organisation that owns the customer, never by a partner.
    customer = await access.get_owned(
        session, actor, Customer, command.customer_id, lock=True, field="customerId"
    )
    purposes = set(customer.consent_purposes)
    if (command.purpose.value in purposes) == command.given:
        return customer
    if command.given:
        purposes.add(command.purpose.value)
    else:
        purposes.discard(command.purpose.value)
    customer.consent_purposes = sorted(purposes)
    customer.version += 1
    await session.flush()
    await session.refresh(customer)
    await record_act(
        session,
        actor,
        EventType.CONSENT_CHANGED,
        {"customer_id": str(customer.id), "purpose": command.purpose.value, "given": command.given},
        record_ids=[customer.id],
    )
    return customer
