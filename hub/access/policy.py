"""What an actor may do: scope checks today, role and grant access levels as sharing arrives."""

from __future__ import annotations

from hub.access.actor import Actor
from hub.access.scopes import Scope
from hub.errors import Forbidden


def require_scope(actor: Actor, scope: Scope) -> None:
    """Refuse the operation unless the token carries `scope` (DESIGN 3: checked on every use)."""
    if not actor.has_scope(scope):
        raise Forbidden(f"This operation needs the scope '{scope.value}'.")
