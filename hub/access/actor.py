"""Who is calling: built once per request from a verified token, then passed to every service."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from hub.access.scopes import Scope


class Role(enum.StrEnum):
    """A user's role inside its own organisation (DESIGN 1)."""

    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    SALES = "SALES"
    SUPPORT = "SUPPORT"


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal of one request.

    `org_id` is the tenant whose data the request may touch; it is what row-level security
    is keyed on. An API client acting on its own has no `user_id`.
    """

    org_id: uuid.UUID
    scopes: frozenset[Scope]
    client_id: str
    request_id: str
    user_id: uuid.UUID | None = None
    role: Role | None = None
    # Where the request came from, for the audit trail.
    source_address: str | None = None

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scopes
