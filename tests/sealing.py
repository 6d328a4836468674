"""Sealing what waits for given chains, as the readers of the trail do before they answer.

The shared test app runs no background sealer (tests/conftest.py), so a test that reads a
chain or the disclosure index straight from SQL seals the chains it reads first.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.access.rls import enter_organisation
from hub.audit.sealer import seal_own


async def seal(sessions: async_sessionmaker[AsyncSession], *org_ids: uuid.UUID) -> int:
    """Seal every disclosure waiting in these organisations' chains (or made by them)."""
    sealed = 0
    for org_id in org_ids:
        async with sessions() as session, session.begin():
            await enter_organisation(session, org_id)
            sealed += await seal_own(session)
    return sealed
