"""Every domain model, imported in one place so alembic and tests see the whole metadata."""

from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact, Customer
from hub.db import Base
from hub.keys.models import SigningKey
from hub.opportunities.models import Opportunity
from hub.orgs.models import ApiClient, Organisation, User
from hub.partnerships.models import Partnership

__all__ = [
    "ApiClient",
    "Base",
    "Case",
    "CaseComment",
    "Contact",
    "Customer",
    "Opportunity",
    "Organisation",
    "Partnership",
    "SigningKey",
    "User",
]
