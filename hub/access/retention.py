"""Who may read and set an organisation's retention policy."""

from __future__ import annotations

from hub.access.actor import Actor, Role
from hub.access.policy import require_scope
from hub.access.scopes import Scope
from hub.errors import Forbidden


def require_retention_admin(actor: Actor) -> None:
    """`privacy:manage`, and an ADMIN when a person acts.

    A retention policy decides when audit events and closed records are destroyed: a storage
    limitation rule of data protection, so it sits with the scope that already exports and
    erases personal data, which only the ADMIN role may hold (not MANAGER). `partners:manage`
    is about who sees the data, `audit:read` only reads the trail; neither should be enough to
    shorten it. A token of another organisation always acts on its own organisation's policy,
    so this is the whole rule; row-level security keeps the row to the caller's organisation.
    """
    require_scope(actor, Scope.PRIVACY_MANAGE)
    if actor.user_id is not None and actor.role is not Role.ADMIN:
        raise Forbidden("This operation needs an ADMIN user.")
