"""A remembered caller's compiled read on the driver connection alone (ADR 0020).

A request whose token was judged live before (`auth.resource.ResourceServer.admitted`) and
whose read has a statement kept (`hub.reads.prepared`) needs no session: in one transaction on
a pooled connection it runs the request's entry (`hub.access.entry.driver_entry`) and, only
where the entry answers as when the caller was judged, the kept statement. Otherwise nothing
is read or recorded, the transaction is rolled back, and the request goes the usual way
(`NotAdmitted`), where the changed standing or grants are judged.

Nothing here decides what is visible: the statement is the one the usual way built, and
row-level security holds it to the organisation and grants the entry sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hub.access import Actor
from hub.access.entry import Admission
from hub.driver_sql import DriverStatement
from hub.pagination import PageRequest
from hub.reads.prepared import PREPARED
from hub.reads.run import Read, ReadPage, entries_of, page_of, page_read, record_of, record_read
from hub.reads.shape import Shape


class Unkept(Exception):
    """The read has no statement kept, or one whose crossings it does not record itself."""


class NotAdmitted(Exception):
    """The entry no longer answers as when the caller was judged: nothing was read."""


class Connection(Protocol):
    """What of a driver connection (asyncpg's) a direct read uses."""

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    async def fetch(self, query: str, *args: Any) -> Sequence[Mapping[str, Any]]: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...


@dataclass(frozen=True)
class DirectReads:
    """The compiled reads of one request of a remembered caller."""

    connection: Connection
    actor: Actor
    admission: Admission
    entry: DriverStatement

    async def page(self, key: Hashable, page: PageRequest, shape: Shape, cursors: bool) -> ReadPage:
        read = page_read(self.actor, self.admission.grants, key, page, shape, cursors)
        return page_of(await self._run(read), page.first)

    async def record(
        self, key: Hashable, record_id: uuid.UUID, shape: Shape
    ) -> dict[str, Any] | None:
        read = record_read(self.actor, self.admission.grants, key, record_id, shape)
        return record_of(await self._run(read))

    async def _run(self, read: Read) -> list[list[Any]]:
        prepared = PREPARED.kept(read.key)
        if prepared is None or not read.self_recording:
            raise Unkept
        connection, entry = self.connection, self.entry
        async with connection.transaction():
            rows = await connection.fetch(entry.sql, *entry.arguments(self.admission.values))
            if not self.admission.admits(rows):
                raise NotAdmitted  # rolls the transaction back: nothing was read
            text = await connection.fetchval(prepared.sql, *prepared.arguments(read.values))
        return entries_of(text)
