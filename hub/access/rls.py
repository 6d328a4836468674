"""Row-level security settings, set at the start of every transaction.

`set_config(..., true)` is `SET LOCAL`: the value dies with the transaction, so a pooled
connection never carries one organisation's setting into another's request.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ORG_SETTING = "hub.org_id"

_SET_ORG = text("SELECT set_config('hub.org_id', :org_id, true)")


async def enter_organisation(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Key every policy of this transaction on `org_id`."""
    await session.execute(_SET_ORG, {"org_id": str(org_id)})
