"""Customers as the API shows them (`hub.exposure`).

A customer's name and domain name a person as easily as a contact's (a sole trader, a family
business): personal. A partner changes no customer.
"""

from __future__ import annotations

from hub.access.scopes import Scope
from hub.customers.models import Customer
from hub.exposure import Exposed, Exposure, Value

CUSTOMER = Exposure(
    type_name="Customer",
    model=Customer,
    read_scope=Scope.CUSTOMERS_READ,
    fields={
        "id": Exposed("id", Value.ID),
        "name": Exposed("name", Value.TEXT, personal=True),
        "domain": Exposed("domain", Value.TEXT, personal=True),
        "lifecycleStage": Exposed("lifecycle_stage", Value.ENUM),
        "industry": Exposed("industry", Value.TEXT),
        "region": Exposed("region", Value.TEXT),
        "country": Exposed("country", Value.TEXT),
        "size": Exposed("size", Value.ENUM),
        "consentPurposes": Exposed("consent_purposes", Value.TEXT_LIST),
        "version": Exposed("version", Value.INT),
        "createdAt": Exposed("created_at", Value.TIMESTAMP),
        "updatedAt": Exposed("updated_at", Value.TIMESTAMP),
    },
)
