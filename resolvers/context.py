"""RequestContext: the actor, the request's one transaction, and its loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import Actor
from hub.errors import FieldError, InvalidInput, NotFound, UserErrorCode
from resolvers.outcome import Outcome

if TYPE_CHECKING:
    from resolvers.loaders import Loaders

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")


@dataclass
class RequestContext:
    """Everything a resolver may use. One session, used by one coroutine at a time.

    GraphQL resolves sibling fields concurrently, but a database connection runs one
    statement at a time; `call` and `mutate` take turns on the session. When one field fails,
    graphql-core cancels its siblings; a statement cancelled mid-flight would leave the
    connection unusable, so each turn is shielded and runs to its end, and `settle` waits for
    the turns still running before the request's transaction ends.
    """

    session: AsyncSession
    actor: Actor
    max_page_size: int
    # The hub's public base URL (the token issuer), for links a payload hands out.
    issuer: str
    unexpected_error: bool = False
    wrote: bool = False
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loaders: Loaders | None = None
    _running: set[asyncio.Future[Any]] = field(default_factory=set)

    @property
    def request_id(self) -> str:
        return self.actor.request_id

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from resolvers.loaders import Loaders

            self._loaders = Loaders(self)
        return self._loaders

    async def call(
        self,
        service: Callable[Concatenate[AsyncSession, Actor, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a service function with this request's session and actor."""
        return await self._take_turn(service(self.session, self.actor, *args, **kwargs))

    async def mutate(
        self,
        service: Callable[[AsyncSession, Actor, C], Awaitable[T]],
        build_command: Callable[[], C],
    ) -> Outcome[T]:
        """Decode the input, run the service in a savepoint; a refusal undoes every write."""
        return await self._take_turn(self._mutate(service, build_command))

    async def settle(self) -> None:
        """Wait for turns whose field was cancelled: the session is free once this returns."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _take_turn(self, work: Awaitable[T]) -> T:
        async def in_turn() -> T:
            async with self._turn:
                return await work

        task = asyncio.ensure_future(in_turn())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _mutate(
        self,
        service: Callable[[AsyncSession, Actor, C], Awaitable[T]],
        build_command: Callable[[], C],
    ) -> Outcome[T]:
        savepoint = await self.session.begin_nested()
        try:
            result = await service(self.session, self.actor, build_command())
        except InvalidInput as error:
            await savepoint.rollback()
            return Outcome.failed(error.errors)
        except NotFound as error:
            await savepoint.rollback()
            return Outcome.failed(
                [FieldError((error.field,), "No such record.", UserErrorCode.NOT_FOUND)]
            )
        except BaseException:
            await savepoint.rollback()
            raise
        await savepoint.commit()
        self.wrote = True
        return Outcome.ok(result)
