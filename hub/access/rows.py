"""Rows by id from a statement that already carries the caller's visibility."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import TenantModel

M = TypeVar("M", bound=TenantModel)


async def rows_by_id(
    session: AsyncSession, visible: Select[M], model: type[M], record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, M]:
    """The rows of `visible` with these ids, in one statement; other ids are simply missing."""
    ids = list(set(record_ids))
    if not ids:
        return {}
    rows = await session.scalars(visible.where(model.id.in_(ids)))
    return {row.id: row for row in rows}
