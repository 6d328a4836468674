"""Opportunities as the API shows them (`hub.exposure`).

Internal notes never reach a partner; nor does the owner's user (`owner`, not compiled).
"""

from __future__ import annotations

from hub.access.scopes import Scope
from hub.customers.exposure import CUSTOMER
from hub.exposure import Exposed, Exposure, ToOne, Value
from hub.opportunities.models import Opportunity

OPPORTUNITY = Exposure(
    type_name="Opportunity",
    model=Opportunity,
    read_scope=Scope.OPPORTUNITIES_READ,
    fields={
        "id": Exposed("id", Value.ID),
        "name": Exposed("name", Value.TEXT),
        "stage": Exposed("stage", Value.ENUM),
        "amount": Exposed("amount", Value.DECIMAL),
        "currency": Exposed("currency", Value.TEXT),
        "probability": Exposed("probability", Value.INT),
        "expectedCloseDate": Exposed("expected_close_date", Value.DATE),
        "source": Exposed("source", Value.ENUM),
        "nextStep": Exposed("next_step", Value.TEXT),
        "internalNotes": Exposed("internal_notes", Value.TEXT, crosses=False),
        "version": Exposed("version", Value.INT),
        "createdAt": Exposed("created_at", Value.TIMESTAMP),
        "updatedAt": Exposed("updated_at", Value.TIMESTAMP),
    },
    relations={"customer": ToOne(CUSTOMER, "customer_id")},
    noted=("customer_id", "assigned_partnership_id"),
)
