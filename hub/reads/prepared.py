"""Compiled reads' statements, built and compiled once per shape of request (ADR 0018).

Building a statement with SQLAlchemy and compiling it costs far more than running it (the
profile of the owner's list put two thirds of the hub's time there). A compiled read's
statement depends only on a few things: the planned document, the arguments other than the
cursor, the caller's organisation, scopes and live grants. Those make the key; the statement
built the first time is compiled to the driver's SQL, and every later request with the same
key runs that SQL directly on the request's connection, in the request's transaction.

What changes between such requests is bound by name (`AFTER_ID`, `RECORD_ID`); every other
parameter is a value of the key and is sent as the first build computed it. When `verify` is
on (the test suite turns it on), every request with a known key builds its statement again
and checks that the SQL and the parameters are the ones kept: a key that missed something the
construction reads fails the tests instead of answering with another request's values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import RECORD_ID
from hub.driver_sql import DriverStatement, Slot, driver_statement
from hub.pagination import AFTER_ID

# The names of the values a statement takes from the request rather than from its key.
_PER_REQUEST = frozenset({AFTER_ID, RECORD_ID})

# Keys are per organisation (its id and grants are among the values), so a hub with many
# partners keeps many statements of the same text: the text is kept once, and each entry costs
# little more than its parameters' values.
_CACHE_SIZE = 8192


# Wraps a compiled statement's SQL in more SQL; `parameter(name)` places a per-request value.
Wrap = Callable[[str, Callable[[str], str]], str]


@dataclass(frozen=True)
class Composed:
    """A statement whose SQL `wrap` extends (what SQLAlchemy does not build: a data-modifying
    common table expression written as SQL, say)."""

    statement: Select[Any]
    wrap: Wrap


class Prepared(DriverStatement):
    """A kept statement as the driver runs it."""

    async def scalar(self, session: AsyncSession, values: Mapping[str, Any]) -> Any:
        """The statement's one value, run on the request's connection and transaction (as
        driver SQL: nothing is built or compiled, and statement events still see it)."""
        connection = await session.connection()
        result = await connection.exec_driver_sql(self.sql, tuple(self.arguments(values)))
        return result.scalar()


class PreparedStatements:
    """The prepared statements of a process, by key; the least recently used make room."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._texts: dict[str, str] = {}
        self.verify = False

    async def get(
        self,
        session: AsyncSession,
        key: Hashable,
        build: Callable[[], Awaitable[Select[Any] | Composed]],
    ) -> Prepared:
        """The statement kept for `key`, or the one `build` makes, compiled and kept."""
        kept = self._kept.get(key)
        if kept is not None and not self.verify:
            self._kept.move_to_end(key)
            return kept
        prepared = _compiled(session, await build())
        if len(self._texts) >= self._size:
            self._texts.clear()
        prepared = Prepared(self._texts.setdefault(prepared.sql, prepared.sql), prepared.slots)
        if kept is not None and not kept.same_as(prepared):
            raise AssertionError(f"the statement of {key!r} changed under the same key")
        self._kept[key] = prepared
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return prepared

    def kept(self, key: Hashable) -> Prepared | None:
        """The statement kept for `key`, if any; nothing is built."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
        return kept


def _compiled(session: AsyncSession, built: Select[Any] | Composed) -> Prepared:
    statement = built.statement if isinstance(built, Composed) else built
    compiled = driver_statement(
        statement, session.get_bind().dialect, lambda bind: bind.key in _PER_REQUEST
    )
    if not isinstance(built, Composed):
        return Prepared(compiled.sql, compiled.slots)
    slots = list(compiled.slots)
    placed: dict[str, str] = {}

    def parameter(name: str) -> str:
        if name not in placed:
            slots.append(Slot(name, None, None, per_request=True))
            placed[name] = f"${len(slots)}"
        return placed[name]

    sql = built.wrap(compiled.sql, parameter)
    return Prepared(sql, tuple(slots))


PREPARED = PreparedStatements()
