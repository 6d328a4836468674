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


def parse_scopes(text: str | None) -> frozenset[Scope]:
    """Known scopes in a space-separated string; unknown words are dropped, never trusted."""
    if not text:
        return frozenset()
    return frozenset(Scope(word) for word in text.split() if word in ALL_SCOPES)
