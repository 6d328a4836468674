"""Opportunities as the API shows them (`hub.exposure`).

Internal notes never reach a partner; nor does the owner's user (`owner`, not compiled), which
the access layer's redaction withholds. An opportunity is often named after its customer, and
its next step and notes are free text: personal. A partner moves the deal along (stage, next
step, close date) and nothing else.
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
        "name": Exposed("name", Value.TEXT, personal=True),
        "stage": Exposed("stage", Value.ENUM, partner_writable=True),
        "amount": Exposed("amount", Value.DECIMAL),
        "currency": Exposed("currency", Value.TEXT),
        "probability": Exposed("probability", Value.INT),
        "expectedCloseDate": Exposed("expected_close_date", Value.DATE, partner_writable=True),
        "source": Exposed("source", Value.ENUM),
        "nextStep": Exposed("next_step", Value.TEXT, personal=True, partner_writable=True),
        "internalNotes": Exposed("internal_notes", Value.TEXT, crosses=False, personal=True),
        "version": Exposed("version", Value.INT),
        "createdAt": Exposed("created_at", Value.TIMESTAMP),
        "updatedAt": Exposed("updated_at", Value.TIMESTAMP),
    },
    relations={"customer": ToOne(CUSTOMER, "customer_id")},
    noted=("customer_id", "assigned_partnership_id"),
)
