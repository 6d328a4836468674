"""The access layer: the one door every read and write of tenant data goes through."""

from hub.access.actor import Actor, Role
from hub.access.changes import Creation, creating_for, get_to_change, partner_may_change
from hub.access.coverage import grants_for
from hub.access.disclosure import (
    Crossing,
    covering_grants,
    crossing_items,
    customer_column,
    disclose,
    disclose_by_id,
    disclose_page,
    note_crossed,
    purposes_of,
)
from hub.access.explain import AccessExplanation, AccessReason, GrantVerdict, explain_access
from hub.access.grants import (
    get_grant,
    get_grant_to_change,
    get_grants_many,
    is_live,
    select_grant_records,
    select_grants,
)
from hub.access.partnerships import (
    Side,
    get_owned_partnership,
    get_partnership,
    get_partnerships_many,
    require_partnership_reader,
    select_counterpart_ids,
    select_partnerships,
    side_of,
)
from hub.access.policy import ROLE_SCOPES, grantable_scopes, require_admin, require_scope
from hub.access.received import ReceivedGrant, received_grants
from hub.access.retention import require_retention_admin
from hub.access.scopes import Scope
from hub.access.visibility import (
    RECORD_ID,
    get_owned,
    get_owned_many,
    get_visible,
    get_visible_many,
    is_record,
    select_listed,
    select_owned,
    select_visible,
    visibility_key,
)

__all__ = [
    "RECORD_ID",
    "ROLE_SCOPES",
    "AccessExplanation",
    "AccessReason",
    "Actor",
    "Creation",
    "Crossing",
    "GrantVerdict",
    "ReceivedGrant",
    "Role",
    "Scope",
    "Side",
    "covering_grants",
    "creating_for",
    "crossing_items",
    "customer_column",
    "disclose",
    "disclose_by_id",
    "disclose_page",
    "explain_access",
    "get_grant",
    "get_grant_to_change",
    "get_grants_many",
    "get_owned",
    "get_owned_many",
    "get_owned_partnership",
    "get_partnership",
    "get_partnerships_many",
    "get_to_change",
    "get_visible",
    "get_visible_many",
    "grantable_scopes",
    "grants_for",
    "is_live",
    "is_record",
    "note_crossed",
    "partner_may_change",
    "purposes_of",
    "received_grants",
    "require_admin",
    "require_partnership_reader",
    "require_retention_admin",
    "require_scope",
    "select_counterpart_ids",
    "select_grant_records",
    "select_grants",
    "select_listed",
    "select_owned",
    "select_partnerships",
    "select_visible",
    "side_of",
    "visibility_key",
]
