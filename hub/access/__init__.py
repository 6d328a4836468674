"""The access layer: the one door every read and write of tenant data goes through."""

from hub.access.actor import Actor, Role
from hub.access.policy import ROLE_SCOPES, grantable_scopes, require_admin, require_scope
from hub.access.scopes import Scope
from hub.access.visibility import get_visible, get_visible_many, select_visible

__all__ = [
    "ROLE_SCOPES",
    "Actor",
    "Role",
    "Scope",
    "get_visible",
    "get_visible_many",
    "grantable_scopes",
    "require_admin",
    "require_scope",
    "select_visible",
]
