"""Cases as the API shows them (`hub.exposure`).

Every plain field of a case reaches a partner it is shared with; what does not is relational
and stays with the access layer's redaction: the assignee (the owner's people) and who raised a
case another partner raised. A subject and a description may name a person: personal. A
partner rates a case it may contribute to (besides adding SHARED comments), and changes
nothing else.
"""

from __future__ import annotations

from hub.access.scopes import Scope
from hub.cases.models import Case
from hub.customers.exposure import CUSTOMER
from hub.exposure import Exposed, Exposure, ToOne, Value

CASE = Exposure(
    type_name="Case",
    model=Case,
    read_scope=Scope.CASES_READ,
    fields={
        "id": Exposed("id", Value.ID),
        "subject": Exposed("subject", Value.TEXT, personal=True),
        "description": Exposed("description", Value.TEXT, personal=True),
        "priority": Exposed("priority", Value.ENUM),
        "status": Exposed("status", Value.ENUM),
        "firstResponseDueAt": Exposed("first_response_due_at", Value.TIMESTAMP),
        "resolutionDueAt": Exposed("resolution_due_at", Value.TIMESTAMP),
        "firstRespondedAt": Exposed("first_responded_at", Value.TIMESTAMP),
        "resolvedAt": Exposed("resolved_at", Value.TIMESTAMP),
        "closedAt": Exposed("closed_at", Value.TIMESTAMP),
        "satisfactionScore": Exposed("satisfaction_score", Value.INT, partner_writable=True),
        "version": Exposed("version", Value.INT),
        "createdAt": Exposed("created_at", Value.TIMESTAMP),
        "updatedAt": Exposed("updated_at", Value.TIMESTAMP),
    },
    relations={"customer": ToOne(CUSTOMER, "customer_id")},
    # Its customer, and what the redaction of a case raised by another partner looks at.
    noted=("customer_id", "raised_by_org_id", "raised_by_user_id", "raised_by_client_id"),
)
