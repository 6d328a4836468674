"""The domain's enums, exposed to GraphQL under their own names.

`strawberry.enum` attaches its definition to the class itself, so the schema annotates fields with
the domain enums directly and there is one enum per concept, not a GraphQL twin of each.
"""

from __future__ import annotations

import strawberry

from hub.access.actor import Role
from hub.access.explain import AccessReason
from hub.access.partnerships import Side
from hub.cases.models import CasePriority, CaseStatus, CommentVisibility
from hub.customers.models import CompanySize, LifecycleStage, Purpose
from hub.deals.conflicts import ConflictKind
from hub.deals.models import DealStatus
from hub.deals.service import Decision
from hub.errors import UserErrorCode
from hub.grants.masking import PersonalField
from hub.grants.models import Access, FieldVisibility, RecordType, Selection
from hub.opportunities.models import OpportunitySource, OpportunityStage
from hub.orgs.client_admin import GrantType
from hub.partnerships.models import PartnerRole, PartnershipStatus

for _enum in (
    AccessReason,
    Role,
    CasePriority,
    CaseStatus,
    CommentVisibility,
    CompanySize,
    DealStatus,
    FieldVisibility,
    GrantType,
    LifecycleStage,
    Purpose,
    UserErrorCode,
    OpportunitySource,
    OpportunityStage,
    PartnerRole,
    PartnershipStatus,
    PersonalField,
    RecordType,
):
    strawberry.enum(_enum)
# `Side`, `Access` or `Selection` alone would say nothing in a schema of many types.
strawberry.enum(Side, name="PartnershipSide")
strawberry.enum(Access, name="GrantAccess")
strawberry.enum(Selection, name="GrantSelection")
strawberry.enum(Decision, name="DealDecision")
strawberry.enum(ConflictKind, name="DealConflictKind")

__all__ = [
    "Access",
    "AccessReason",
    "CasePriority",
    "CaseStatus",
    "CommentVisibility",
    "CompanySize",
    "ConflictKind",
    "DealStatus",
    "Decision",
    "FieldVisibility",
    "GrantType",
    "LifecycleStage",
    "OpportunitySource",
    "OpportunityStage",
    "PartnerRole",
    "PartnershipStatus",
    "PersonalField",
    "Purpose",
    "RecordType",
    "Role",
    "Selection",
    "Side",
    "UserErrorCode",
]
