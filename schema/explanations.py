"""`explainAccess`: which grants give a partner one of the owner's records, or why none does.

Who may ask (the owner's admins) and what counts as the caller's record are decided by the grant
service and the access layer; a record or partner that is not the caller's answers null, exactly
like a missing one, as `node` does.
"""

from __future__ import annotations

from typing import TypeVar

import strawberry

from hub import access
from hub.cases.models import Case
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.grants import service
from hub.opportunities.models import Opportunity
from resolvers import grants as resolve
from resolvers.ids import NodeType, decode_accepted
from schema.base import Info
from schema.enums import AccessReason, PartnershipStatus
from schema.grants import FieldRule, Grant

T = TypeVar("T")

# The records explainAccess takes, by the type in their global id.
_EXPLAINED: dict[NodeType, type[TenantModel]] = {
    NodeType.CUSTOMER: Customer,
    NodeType.CONTACT: Contact,
    NodeType.OPPORTUNITY: Opportunity,
    NodeType.CASE: Case,
}
_PARTNER = {NodeType.ORGANISATION: NodeType.ORGANISATION}


@strawberry.type(description="One grant judged for one record.")
class GrantVerdict:
    grant: Grant
    covers: bool = strawberry.field(
        description="This grant gives the partner the record now: `reasons` is empty."
    )
    reasons: list[AccessReason] = strawberry.field(
        description="Every reason it does not: REVOKED, EXPIRED, PARTNERSHIP_NOT_ACTIVE (see "
        "`partnershipStatus`), NOT_SELECTED (outside its ASSIGNED, SEGMENT or EXPLICIT "
        "selection), CONSENT_MISSING (the customer has not consented to its purpose)."
    )
    partnership_status: PartnershipStatus = strawberry.field(
        description="The status of the grant's partnership now; only ACTIVE lets data flow."
    )

    @staticmethod
    def from_verdict(verdict: access.GrantVerdict) -> GrantVerdict:
        return GrantVerdict(
            grant=Grant.from_record(verdict.grant),
            covers=verdict.covers,
            reasons=list(verdict.reasons),
            partnership_status=verdict.partnership_status,
        )


@strawberry.type(
    description="Whether a partner receives one of your records, under which grants and with "
    "which personal fields, or why not; decided by the rules the partner's own reads apply."
)
class AccessExplanation:
    visible: bool = strawberry.field(
        description="Some grant covers the record now, so the partner's reads return it (to a "
        "token of the partner with the scope that reads the record's type)."
    )
    verdicts: list[GrantVerdict] = strawberry.field(
        description="Every grant you made to the partner for the record's type (CUSTOMERS for a "
        "contact, judged by its customer), live or not, oldest first."
    )
    fields: list[FieldRule] = strawberry.field(
        description="How each personal field of the record's contacts (a customer's, or the "
        "contact itself) reaches the partner: the most visible over the covering grants, HIDDEN "
        "when none covers. Empty for opportunities and cases, which hold no personal fields."
    )
    reasons: list[AccessReason] = strawberry.field(
        description="Why the record is not visible: NO_GRANT when there is no grant of its type, "
        "else every reason the grants give. Empty when visible."
    )

    @staticmethod
    def from_explanation(explanation: access.AccessExplanation) -> AccessExplanation:
        return AccessExplanation(
            visible=explanation.visible,
            verdicts=[GrantVerdict.from_verdict(verdict) for verdict in explanation.verdicts],
            fields=[
                FieldRule(field=field, visibility=seen)
                for field, seen in explanation.fields.items()
            ],
            reasons=list(explanation.reasons),
        )


def _command(record_id: str, partner_id: str) -> service.ExplainAccess:
    model, record = decode_accepted(
        record_id, _EXPLAINED, "recordId", "one of your customers, contacts, opportunities or cases"
    )
    _, partner = decode_accepted(partner_id, _PARTNER, "partnerId", "an Organisation")
    return service.ExplainAccess(model=model, record_id=record, partner_org_id=partner)


@strawberry.type
class ExplanationQuery:
    @strawberry.field(
        description="Owner side, for admins (`partners:manage` or an ADMIN user): which live "
        "grants give the partner organisation `partnerId` your record `recordId` (a Customer, "
        "Contact, Opportunity or Case) and with which fields, or why not. Null when the record "
        "is not yours or the organisation is not your partner, exactly as for a missing one."
    )
    async def explain_access(
        self, info: Info, record_id: strawberry.ID, partner_id: strawberry.ID
    ) -> AccessExplanation | None:
        explanation = await resolve.explain_access(info.context, _command(record_id, partner_id))
        return AccessExplanation.from_explanation(explanation) if explanation else None
