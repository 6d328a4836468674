"""Running authlib's synchronous server code against our async database.

authlib's server core is synchronous (DESIGN 3). Each OAuth request runs it in a worker thread;
its storage hooks hop back onto the event loop with `anyio.from_thread` and use the one session
of that request, found through a context variable (anyio copies the context into the worker).
Everything one OAuth request changes therefore commits together, including what a refusal must
keep: a revoked token family, a counted sign-in failure, an audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

import anyio.from_thread
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.record import Event, EventType, record
from hub.orgs.clients import ClientForAuthentication

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class OAuthCall:
    """One OAuth request: its transaction and who it turned out to come from."""

    session: AsyncSession
    request_id: str
    source_address: str | None
    now: datetime
    client: ClientForAuthentication | None = None

    @property
    def org_id(self) -> uuid.UUID | None:
        return self.client.org_id if self.client else None

    async def audit(
        self, session: AsyncSession, /, event_type: EventType, **details: object
    ) -> None:
        """Record an event of this request (called on the loop, in this request's session)."""
        user_id = details.pop("user_id", None)
        await record(
            session,
            Event(
                type=event_type,
                org_id=self.org_id,
                client_id=self.client.client_id if self.client else None,
                user_id=user_id if isinstance(user_id, uuid.UUID) else None,
                request_id=self.request_id,
                source_address=self.source_address,
                details={key: value for key, value in details.items() if value is not None},
            ),
        )


_current: ContextVar[OAuthCall] = ContextVar("oauth_call")


@contextmanager
def serving(call: OAuthCall) -> Iterator[OAuthCall]:
    """Make `call` the current OAuth request for the worker thread started inside."""
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def current() -> OAuthCall:
    return _current.get()


def on_loop(
    function: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """From authlib's worker thread: await `function(session, ...)` on the event loop."""
    session = _current.get().session

    async def run() -> T:
        return await function(session, *args, **kwargs)

    return anyio.from_thread.run(run)


def audit(event_type: EventType, **details: object) -> None:
    """From the worker thread: record an audit event in this request's transaction."""
    call = _current.get()
    on_loop(call.audit, event_type, **details)
