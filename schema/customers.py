"""Customers and contacts: types, inputs, payloads, and the Query/Mutation fields."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry

from hub.customers import consent, service
from hub.customers.exposure import CUSTOMER
from hub.customers.models import Contact as ContactRecord
from hub.customers.models import Customer as CustomerRecord
from resolvers import customers as resolve
from resolvers.ids import NodeType, decode_id, encode_id
from schema.base import (
    Connection,
    Info,
    Node,
    OrderDirection,
    UserError,
    to_connection,
    user_errors,
)
from schema.enums import CompanySize, LifecycleStage, Purpose
from schema.exposed_fields import PlainFields
from schema.inputs import OWNER_FILTER, maybe, owner_filter

PERSONAL = (
    "Personal data. On a contact another organisation shares with the caller it follows the "
    "grant's field policy: VISIBLE as is, MASKED as a hint ({mask}), HIDDEN as null."
)


@strawberry.type(
    description="A person at a customer. Shared with a partner only under a CUSTOMERS grant, "
    "each personal field per that grant's field policy."
)
class Contact(Node):
    full_name: str | None = strawberry.field(
        description=PERSONAL.format(mask="initials, e.g. 'A. L.'")
    )
    email: str | None = strawberry.field(
        description=PERSONAL.format(mask="first letter and domain, e.g. 'a•••@example.com'")
    )
    phone: str | None = strawberry.field(
        description=PERSONAL.format(mask="the last two digits, e.g. '•••••••42'")
    )
    job_title: str | None = strawberry.field(description=PERSONAL.format(mask="'•••'"))
    created_at: datetime

    @staticmethod
    def from_record(record: ContactRecord) -> Contact:
        return Contact(
            id=strawberry.ID(encode_id(NodeType.CONTACT, record.id)),
            full_name=record.full_name,
            email=record.email,
            phone=record.phone,
            job_title=record.job_title,
            created_at=record.created_at,
        )


@strawberry.type
class Customer(Node):
    name: str
    domain: str | None
    lifecycle_stage: LifecycleStage
    industry: str | None
    region: str | None
    country: str | None
    size: CompanySize | None
    consent_purposes: list[Purpose]
    version: int
    created_at: datetime
    updated_at: datetime
    record_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def contacts(self, info: Info) -> list[Contact]:
        contacts = await info.context.loaders.contacts_of_customer.load(self.record_id)
        return [Contact.from_record(contact) for contact in contacts]

    @staticmethod
    def from_record(record: CustomerRecord) -> Customer:
        return Customer(**_PLAIN_FIELDS.of(record), record_id=record.id)


_PLAIN_FIELDS = PlainFields(Customer, CUSTOMER)


@strawberry.enum
class CustomerOrderField(enum.Enum):
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.input
class CustomerOrder:
    field: CustomerOrderField = CustomerOrderField.NAME
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input
class CustomerFilter:
    owner: strawberry.ID | None = strawberry.field(default=None, description=OWNER_FILTER)
    region: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    search: str | None = strawberry.field(default=None, description="Part of the name.")


@strawberry.input
class CreateCustomerInput:
    name: str
    lifecycle_stage: LifecycleStage = LifecycleStage.PROSPECT
    domain: str | None = None
    industry: str | None = None
    region: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2.")
    size: CompanySize | None = None
    consent_purposes: list[Purpose] = strawberry.field(default_factory=list)

    def to_command(self) -> service.CreateCustomer:
        return service.CreateCustomer(
            name=self.name,
            lifecycle_stage=self.lifecycle_stage,
            domain=self.domain,
            industry=self.industry,
            region=self.region,
            country=self.country,
            size=self.size,
            consent_purposes=tuple(self.consent_purposes),
        )


@strawberry.input
class UpdateCustomerInput:
    customer_id: strawberry.ID
    version: int = strawberry.field(description="The version you read; a stale one is refused.")
    name: str | None = strawberry.UNSET
    lifecycle_stage: LifecycleStage | None = strawberry.UNSET
    domain: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    region: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    size: CompanySize | None = strawberry.UNSET

    def to_command(self) -> service.UpdateCustomer:
        return service.UpdateCustomer(
            customer_id=decode_id(self.customer_id, NodeType.CUSTOMER, field="customerId"),
            version=self.version,
            name=maybe(self.name, "name", nullable=False),
            lifecycle_stage=maybe(self.lifecycle_stage, "lifecycleStage", nullable=False),
            domain=maybe(self.domain),
            industry=maybe(self.industry),
            region=maybe(self.region),
            country=maybe(self.country),
            size=maybe(self.size),
        )


@strawberry.input
class AddContactInput:
    customer_id: strawberry.ID
    full_name: str
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None

    def to_command(self) -> service.AddContact:
        return service.AddContact(
            customer_id=decode_id(self.customer_id, NodeType.CUSTOMER, field="customerId"),
            full_name=self.full_name,
            email=self.email,
            phone=self.phone,
            job_title=self.job_title,
        )


@strawberry.input
class SetConsentInput:
    customer_id: strawberry.ID
    purpose: Purpose
    given: bool = strawberry.field(description="true records consent; false withdraws it.")

    def to_command(self) -> consent.SetConsent:
        return consent.SetConsent(
            customer_id=decode_id(self.customer_id, NodeType.CUSTOMER, field="customerId"),
            purpose=self.purpose,
            given=self.given,
        )


@strawberry.type
class CustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class AddContactPayload:
    contact: Contact | None
    user_errors: list[UserError]


def customer_list_arguments(
    filter: CustomerFilter | None, order_by: CustomerOrder | None
) -> tuple[service.CustomerFilter, service.CustomerOrder]:
    """The list's arguments as the service takes them (also for the compiled read)."""
    where = filter or CustomerFilter()
    order = order_by or CustomerOrder()
    return (
        service.CustomerFilter(
            owner_org_id=owner_filter(where.owner),
            region=where.region,
            lifecycle_stage=where.lifecycle_stage,
            search=where.search,
        ),
        service.CustomerOrder(order.field.value, order.direction is OrderDirection.DESC),
    )


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        description="Customers of the caller's organisation, and those owners share with it "
        "as their partner under a live grant."
    )
    async def customers(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder | None = None,
    ) -> Connection[Customer]:
        where, order = customer_list_arguments(filter, order_by)
        page = await resolve.list_customers(info.context, where, order, first, after)
        return to_connection(page, Customer.from_record)


@strawberry.type
class CustomerMutation:
    @strawberry.mutation
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        outcome = await resolve.create_customer(info.context, input.to_command)
        customer = Customer.from_record(outcome.value) if outcome.value else None
        return CustomerPayload(customer=customer, user_errors=user_errors(outcome.errors))

    @strawberry.mutation
    async def update_customer(self, info: Info, input: UpdateCustomerInput) -> CustomerPayload:
        outcome = await resolve.update_customer(info.context, input.to_command)
        customer = Customer.from_record(outcome.value) if outcome.value else None
        return CustomerPayload(customer=customer, user_errors=user_errors(outcome.errors))

    @strawberry.mutation
    async def add_contact(self, info: Info, input: AddContactInput) -> AddContactPayload:
        outcome = await resolve.add_contact(info.context, input.to_command)
        contact = Contact.from_record(outcome.value) if outcome.value else None
        return AddContactPayload(contact=contact, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Record or withdraw the customer's consent to share its data with partners "
        "for one purpose; partners see the effect on their next request."
    )
    async def set_consent(self, info: Info, input: SetConsentInput) -> CustomerPayload:
        outcome = await resolve.set_consent(info.context, input.to_command)
        customer = Customer.from_record(outcome.value) if outcome.value else None
        return CustomerPayload(customer=customer, user_errors=user_errors(outcome.errors))
