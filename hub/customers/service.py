"""Customer accounts and contacts: listing, creating, updating; all through the access layer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access
from hub.access import Actor, Scope
from hub.access.writes import insert_owned
from hub.audit.changes import record_created, record_updated, snapshot
from hub.customers.models import CompanySize, Contact, Customer, LifecycleStage, Purpose
from hub.errors import Conflict
from hub.pagination import Listing, Page, PageRequest, fetch_listing
from hub.search import contains_text
from hub.validation import Checks
from hub.values import UNSET, Maybe


@dataclass(frozen=True)
class CustomerFilter:
    owner_org_id: uuid.UUID | None = None
    region: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    search: str | None = None


@dataclass(frozen=True)
class CustomerOrder:
    field: str = "NAME"
    descending: bool = False


_ORDER_COLUMNS = {
    "NAME": Customer.name,
    "CREATED_AT": Customer.created_at,
    "UPDATED_AT": Customer.updated_at,
}


@dataclass(frozen=True)
class CreateCustomer:
    name: str
    lifecycle_stage: LifecycleStage
    domain: str | None = None
    industry: str | None = None
    region: str | None = None
    country: str | None = None
    size: CompanySize | None = None
    consent_purposes: tuple[Purpose, ...] = ()


@dataclass(frozen=True)
class UpdateCustomer:
    customer_id: uuid.UUID
    version: int
    name: Maybe[str] = UNSET
    lifecycle_stage: Maybe[LifecycleStage] = UNSET
    domain: Maybe[str | None] = UNSET
    industry: Maybe[str | None] = UNSET
    region: Maybe[str | None] = UNSET
    country: Maybe[str | None] = UNSET
    size: Maybe[CompanySize | None] = UNSET


@dataclass(frozen=True)
class AddContact:
    customer_id: uuid.UUID
    full_name: str
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None


async def list_customers(
    session: AsyncSession,
    actor: Actor,
    where: CustomerFilter,
    order: CustomerOrder,
    page: PageRequest,
) -> Page[Customer]:
    listing = await customer_listing(session, actor, where, order)
    found = await fetch_listing(session, listing, page)
    return await access.disclose_page(session, actor, Customer, found)


async def customer_listing(
    session: AsyncSession, actor: Actor, where: CustomerFilter, order: CustomerOrder
) -> Listing[Customer]:
    """The customers the actor may list, filtered, in the order asked: what a page is taken from."""
    access.require_scope(actor, Scope.CUSTOMERS_READ)
    sources = await access.select_listed(session, actor, Customer, owner=where.owner_org_id)
    conditions: list[ColumnElement[bool]] = []
    if where.region is not None:
        conditions.append(Customer.region == where.region)
    if where.lifecycle_stage is not None:
        conditions.append(Customer.lifecycle_stage == where.lifecycle_stage)
    if where.search:
        conditions.append(contains_text(Customer.name, where.search))
    return Listing(
        Customer,
        [source.where(*conditions) for source in sources],
        [_ORDER_COLUMNS[order.field]],
        order.descending,
    )


async def select_one_visible(
    session: AsyncSession, actor: Actor, record_id: uuid.UUID
) -> Select[Customer]:
    """The statement of one customer the actor may see: no row if it may not."""
    access.require_scope(actor, Scope.CUSTOMERS_READ)
    statement = await access.select_visible(session, actor, Customer)
    return statement.where(access.is_record(Customer, record_id))


async def get_many(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Customer]:
    access.require_scope(actor, Scope.CUSTOMERS_READ)
    found = await access.get_visible_many(session, actor, Customer, ids)
    return await access.disclose_by_id(session, actor, Customer, found)


async def get_contacts(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    access.require_scope(actor, Scope.CUSTOMERS_READ)
    found = await access.get_visible_many(session, actor, Contact, ids)
    return await access.disclose_by_id(session, actor, Contact, found)


async def contacts_of(
    session: AsyncSession, actor: Actor, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Contact]]:
    """Contacts of many customers in one statement, for the per-request loader."""
    access.require_scope(actor, Scope.CUSTOMERS_READ)
    statement = (
        (await access.select_visible(session, actor, Contact))
        .where(Contact.customer_id.in_(set(customer_ids)))
        .order_by(Contact.full_name, Contact.id)
    )
    contacts = await access.disclose(
        session, actor, Contact, (await session.scalars(statement)).all()
    )
    grouped: dict[uuid.UUID, list[Contact]] = defaultdict(list)
    for contact in contacts:
        grouped[contact.customer_id].append(contact)
    return grouped


def _check_customer_fields(
    checks: Checks,
    *,
    name: Maybe[str],
    domain: Maybe[str | None],
    industry: Maybe[str | None],
    region: Maybe[str | None],
    country: Maybe[str | None],
) -> None:
    if name is not UNSET:
        checks.text("name", name, max_length=200, required=True)
    if domain is not UNSET:
        checks.pattern("domain", domain, "domain")
    if industry is not UNSET:
        checks.text("industry", industry, max_length=100, required=False)
    if region is not UNSET:
        checks.text("region", region, max_length=20, required=False)
    if country is not UNSET:
        checks.pattern("country", country, "country")


async def create_customer(session: AsyncSession, actor: Actor, command: CreateCustomer) -> Customer:
    access.require_scope(actor, Scope.CUSTOMERS_WRITE)
    checks = Checks()
    _check_customer_fields(
        checks,
        name=command.name,
        domain=command.domain,
        industry=command.industry,
        region=command.region,
        country=command.country,
    )
    checks.done()
    customer = await insert_owned(
        session,
        actor,
        Customer,
        name=command.name.strip(),
        domain=command.domain,
        lifecycle_stage=command.lifecycle_stage,
        industry=command.industry,
        region=command.region,
        country=command.country,
        size=command.size,
        consent_purposes=sorted({purpose.value for purpose in command.consent_purposes}),
    )
    await record_created(session, actor, customer)
    return customer


async def update_customer(session: AsyncSession, actor: Actor, command: UpdateCustomer) -> Customer:
    access.require_scope(actor, Scope.CUSTOMERS_WRITE)
    checks = Checks()
    _check_customer_fields(
        checks,
        name=command.name,
        domain=command.domain,
        industry=command.industry,
        region=command.region,
        country=command.country,
    )
    checks.done()
    customer = await access.get_to_change(
        session, actor, Customer, command.customer_id, lock=True, field="customerId"
    )
    if customer.version != command.version:
        raise Conflict()
    before = snapshot(customer)
    changes = {
        "name": command.name,
        "lifecycle_stage": command.lifecycle_stage,
        "domain": command.domain,
        "industry": command.industry,
        "region": command.region,
        "country": command.country,
        "size": command.size,
    }
    for attribute, value in changes.items():
        if value is not UNSET:
            setattr(customer, attribute, value)
    customer.version += 1
    await session.flush()
    await session.refresh(customer)
    await record_updated(session, actor, customer, before)
    return customer


async def add_contact(session: AsyncSession, actor: Actor, command: AddContact) -> Contact:
    access.require_scope(actor, Scope.CUSTOMERS_WRITE)
    checks = Checks()
    checks.text("fullName", command.full_name, max_length=200, required=True)
    checks.text("email", command.email, max_length=320, required=False)
    checks.pattern("email", command.email, "email")
    checks.text("phone", command.phone, max_length=40, required=False)
    checks.text("jobTitle", command.job_title, max_length=120, required=False)
    checks.done()
    await access.get_to_change(session, actor, Customer, command.customer_id, field="customerId")
    contact = await insert_owned(
        session,
        actor,
        Contact,
        customer_id=command.customer_id,
        full_name=command.full_name.strip(),
        email=command.email,
        phone=command.phone,
        job_title=command.job_title,
    )
    await record_created(session, actor, contact)
    return contact
