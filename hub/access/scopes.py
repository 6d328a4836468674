"""OAuth scopes (DESIGN 3): the only place scope strings exist."""

from __future__ import annotations

import enum


class Scope(enum.StrEnum):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    OPPORTUNITIES_READ = "opportunities:read"
    OPPORTUNITIES_WRITE = "opportunities:write"
    DEALS_REGISTER = "deals:register"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    PARTNERS_READ = "partners:read"
    PARTNERS_MANAGE = "partners:manage"
    AUDIT_READ = "audit:read"
    PRIVACY_MANAGE = "privacy:manage"


ALL_SCOPES: frozenset[str] = frozenset(scope.value for scope in Scope)

# Each scope in plain words, for the consent page a person reads before approving.
SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.CUSTOMERS_READ: "See customers and their contacts",
    Scope.CUSTOMERS_WRITE: "Create and change customers and contacts",
    Scope.OPPORTUNITIES_READ: "See opportunities",
    Scope.OPPORTUNITIES_WRITE: "Create and change opportunities",
    Scope.DEALS_REGISTER: "Register deals",
    Scope.CASES_READ: "See support cases and their shared comments",
    Scope.CASES_WRITE: "Raise support cases, change them and comment on them",
    Scope.PARTNERS_READ: "See partnerships",
    Scope.PARTNERS_MANAGE: "Manage partners, their access, API clients and users",
    Scope.AUDIT_READ: "Read the audit trail",
    Scope.PRIVACY_MANAGE: "Export and erase personal data",
}


def parse_scopes(text: str | None) -> frozenset[Scope]:
    """Known scopes in a space-separated string; unknown words are dropped, never trusted."""
    if not text:
        return frozenset()
    return frozenset(Scope(word) for word in text.split() if word in ALL_SCOPES)
