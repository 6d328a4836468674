"""Every domain model, imported in one place so alembic and tests see the whole metadata."""

from hub.audit.models import (
    AuditChainHead,
    AuditCheckpoint,
    AuditEvent,
    AuditEventRecord,
    Disclosure,
)
from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact, Customer
from hub.db import Base
from hub.deals.models import DealRegistration
from hub.grants.models import Grant, GrantRecord
from hub.grants.shares import CaseShare, CustomerShare, OpportunityShare
from hub.keys.models import SigningKey
from hub.oauth.models import AuthorizationCode, RefreshToken, RevokedToken, TokenFamily
from hub.opportunities.models import Opportunity
from hub.orgs.models import ApiClient, Invitation, Organisation, SignInThrottle, User
from hub.partnerships.models import Partnership
from hub.privacy.models import PrivacyNotice
from hub.retention.models import RetentionPolicy

__all__ = [
    "ApiClient",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditEventRecord",
    "AuthorizationCode",
    "Base",
    "Case",
    "CaseComment",
    "CaseShare",
    "Contact",
    "Customer",
    "CustomerShare",
    "DealRegistration",
    "Disclosure",
    "Grant",
    "GrantRecord",
    "Invitation",
    "Opportunity",
    "OpportunityShare",
    "Organisation",
    "Partnership",
    "PrivacyNotice",
    "RefreshToken",
    "RetentionPolicy",
    "RevokedToken",
    "SignInThrottle",
    "SigningKey",
    "TokenFamily",
    "User",
]
