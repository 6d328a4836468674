"""What an actor may do: scopes, the scopes each user role permits, and admin rights."""

from __future__ import annotations

from hub.access.actor import Actor, Role
from hub.access.scopes import Scope
from hub.errors import Forbidden

# What a signed-in user may hold, by role (DESIGN 3: token scopes are requested ∩ client's
# allowed ∩ this). Owner-side privacy and partner management stay with those who run them.
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.MANAGER: frozenset(Scope) - {Scope.PRIVACY_MANAGE},
    Role.SALES: frozenset(
        {
            Scope.CUSTOMERS_READ,
            Scope.CUSTOMERS_WRITE,
            Scope.OPPORTUNITIES_READ,
            Scope.OPPORTUNITIES_WRITE,
            Scope.DEALS_REGISTER,
            Scope.CASES_READ,
            Scope.PARTNERS_READ,
        }
    ),
    Role.SUPPORT: frozenset(
        {
            Scope.CUSTOMERS_READ,
            Scope.OPPORTUNITIES_READ,
            Scope.CASES_READ,
            Scope.CASES_WRITE,
            Scope.PARTNERS_READ,
        }
    ),
}


def require_scope(actor: Actor, scope: Scope) -> None:
    """Refuse the operation unless the token carries `scope` (DESIGN 3: checked on every use)."""
    if not actor.has_scope(scope):
        raise Forbidden(f"This operation needs the scope '{scope.value}'.")


def require_admin(actor: Actor) -> None:
    """Managing the organisation's clients and users: scope `partners:manage` or an ADMIN user."""
    if actor.has_scope(Scope.PARTNERS_MANAGE) or actor.role is Role.ADMIN:
        return
    raise Forbidden("This operation needs the scope 'partners:manage' or an ADMIN user.")


def grantable_scopes(actor: Actor) -> frozenset[Scope]:
    """What an admin may hand on to a new client or a new user's role: no more than it holds.

    Otherwise a token with only `partners:manage` could register a client with every scope
    (or invite an ADMIN) and so raise itself. An ADMIN user holds every scope its role allows,
    whatever the token in hand asked for.
    """
    if actor.role is not None and actor.user_id is not None:
        return ROLE_SCOPES[actor.role]
    return actor.scopes
