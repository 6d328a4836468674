"""The /graphql endpoint: authenticate, open the request's one transaction, run strawberry.

Order matters: the token is verified before any database work; the transaction starts
with the row-level-security setting; it commits only when the operation raised nothing
unexpected, and before the response leaves, so a client never reads its own stale write.
A request is atomic: when something unexpected stops it after a mutation succeeded, nothing
is written and the response claims no success (`data` is null, HTTP 500).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from cross_web import HTTPException
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from auth.resource import MissingToken, ResourceServer
from auth.tokens import InvalidToken
from hub.access.actor import Actor
from hub.access.entry import driver_entry
from hub.access.rls import enter_organisation
from hub.audit.record import Event, EventType, record
from hub.reads.direct import DirectReads
from resolvers.compiled import Direct
from resolvers.context import RequestContext
from schema.compiled import CompiledReads

log = logging.getLogger("hub.graphql")

GRAPHQL_RESPONSE_MEDIA_TYPE = "application/graphql-response+json"


class _SubResponse(Response):
    """Carries the media type the client asked for to `create_response`."""

    wants_graphql_response: bool = False


def unauthenticated(message: str, *, invalid_token: bool) -> JSONResponse:
    """401 with a Bearer challenge (RFC 6750 §3) and a GraphQL-shaped body."""
    challenge = 'Bearer realm="partner-hub"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def _is_request_error(response_data: Mapping[str, object]) -> bool:
    errors = response_data.get("errors")
    if response_data.get("data") is not None or not isinstance(errors, list) or not errors:
        return False
    return all(
        isinstance(error, dict)
        and error.get("extensions", {}).get("code") == "GRAPHQL_VALIDATION_FAILED"
        for error in errors
    )


def _bad_request(reason: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400
    )


def _not_committed(request_id: str) -> JSONResponse:
    return JSONResponse(
        {
            "data": None,
            "errors": [
                {
                    "message": "The request could not be completed; nothing was written.",
                    "extensions": {"code": "INTERNAL", "requestId": request_id},
                }
            ],
        },
        status_code=500,
    )


def _nothing_written(response: Response) -> Response:
    """The response of a rolled-back request that had mutated: errors kept, results withdrawn."""
    body = json.loads(bytes(response.body))
    return JSONResponse(
        {"data": None, "errors": body.get("errors", [])},
        status_code=500,
        media_type=response.headers.get("content-type", "application/json"),
    )


async def _refuse(
    session: AsyncSession,
    request: Request,
    error: InvalidToken,
    *,
    org_id: uuid.UUID | None,
    message: str,
) -> Response:
    """Every refused token is audited: under its organisation once the signature proved it."""
    await session.rollback()
    async with session.begin():
        if org_id is not None:
            await enter_organisation(session, org_id)
        await record(
            session,
            Event(
                type=EventType.TOKEN_REFUSED,
                org_id=org_id,
                request_id=getattr(request.state, "request_id", None),
                source_address=request.client.host if request.client else None,
                details={"reason": str(error)[:200], "endpoint": "graphql"},
            ),
        )
    return unauthenticated(message, invalid_token=True)


# NUL itself, or a GraphQL string escape for it (`\u0000`, `\u{0}`) in the document.
_NUL_ESCAPE = re.compile(r"\x00|\\u(?:0000|\{0+\})")


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class HubGraphQL(GraphQL[RequestContext, None]):
    """strawberry's ASGI view with GraphQL-over-HTTP media types."""

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = _SubResponse()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        accept = request.headers.get("accept", "")
        sub_response.wants_graphql_response = GRAPHQL_RESPONSE_MEDIA_TYPE in accept
        return sub_response

    def create_response(
        self, response_data: Mapping[str, object] | list[Any], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)  # type: ignore[arg-type]
        if isinstance(sub_response, _SubResponse) and sub_response.wants_graphql_response:
            response.headers["content-type"] = GRAPHQL_RESPONSE_MEDIA_TYPE
            # GraphQL-over-HTTP: a request error (the document never ran) is a 4xx for this type.
            if isinstance(response_data, Mapping) and _is_request_error(response_data):
                response.status_code = 400
        return response

    def decode_json(self, data: str | bytes) -> object:
        """orjson: several times faster than `json`, and it refuses what PostgreSQL could not
        store anyway (a lone surrogate), as a bad request."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        """Compact UTF-8, as the compiled reads write it too (`schema.compiled`)."""
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A body must be a JSON object (or a batch list), not a bare scalar."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def parse_http_body(self, request: Any) -> Any:
        """PostgreSQL stores no NUL character in text: a request carrying one is refused whole,
        before anything runs, rather than failing mid-way in the database."""
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if _NUL_ESCAPE.search(item.query or "") or _holds_nul(item.variables):
                raise HTTPException(400, "Text may not contain the NUL character (U+0000).")
        return data


def _plain_accept(accept: str) -> bool:
    """An Accept header a single JSON answer satisfies, as strawberry would send it."""
    if not accept:
        return True
    kinds = {part.partition(";")[0].strip().lower() for part in accept.split(",")}
    return not kinds - {"*/*", "application/json", GRAPHQL_RESPONSE_MEDIA_TYPE}


async def _plain_post(request: Request) -> tuple[str, str | None, dict[str, Any] | None] | None:
    """The document, operation name and variables of a plain JSON POST that a single JSON
    answer satisfies; None for anything else (strawberry reads it, and says what is wrong)."""
    if request.method != "POST":
        return None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" or not _plain_accept(request.headers.get("accept", "")):
        return None
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.keys() - {"query", "operationName", "variables"}:
        return None
    query, name, variables = body.get("query"), body.get("operationName"), body.get("variables")
    if not isinstance(query, str) or not isinstance(name, str | None):
        return None
    if not isinstance(variables, dict | None) or _holds_nul(variables):
        return None
    return query, name, variables


def _answer(request: Request, data: dict[str, Any]) -> Response:
    wants_graphql = GRAPHQL_RESPONSE_MEDIA_TYPE in request.headers.get("accept", "")
    return Response(
        orjson.dumps({"data": data}),
        media_type=GRAPHQL_RESPONSE_MEDIA_TYPE if wants_graphql else "application/json",
    )


class _ConnectionGone(Exception):
    """The request's first statement found its pooled connection closed by the server."""


class GraphQLEndpoint:
    def __init__(
        self,
        schema: BaseSchema,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        resource_server: Callable[[], ResourceServer],
        *,
        max_page_size: int,
        graphiql: bool = True,
        planner: CompiledReads | None = None,
        engine: Callable[[], AsyncEngine] | None = None,
    ) -> None:
        self.view = HubGraphQL(schema, graphql_ide="graphiql" if graphiql else None)
        self.planner = planner
        self.engine = engine
        self.sessions = sessions
        self.resource_server = resource_server
        self.max_page_size = max_page_size

    async def handle(self, request: Request) -> Response:
        if self._wants_ide(request):
            return await self.view.render_graphql_ide(request)
        direct = await self._direct(request)
        if direct is not None:
            return direct
        try:
            return await self._in_session(request, first_try=True)
        except _ConnectionGone:
            # The pool handed out a connection the server had closed (a restart, an idle
            # timeout). Nothing ran on it, and the pool has dropped every connection as old as
            # it: the request starts over, once, on a fresh one.
            log.warning("database connection was gone; the request starts over")
            return await self._in_session(request, first_try=False)

    async def _in_session(self, request: Request, *, first_try: bool) -> Response:
        async with self.sessions()() as session:
            try:
                return await self._execute(session, request, first_try=first_try)
            except BaseException:
                await session.rollback()
                raise

    async def _execute(
        self, session: AsyncSession, request: Request, *, first_try: bool
    ) -> Response:
        try:
            actor = await self._authenticate(session, request)
        except DBAPIError as error:
            if first_try and error.connection_invalidated:
                raise _ConnectionGone from error
            raise
        if isinstance(actor, Response):
            return actor
        return await self._run(session, request, actor)

    async def _authenticate(self, session: AsyncSession, request: Request) -> Actor | Response:
        """The request's actor, or the response refusing it (the refusal audited)."""
        try:
            claims = await self.resource_server().verify(
                session, request.headers.get("authorization")
            )
        except MissingToken:
            return unauthenticated("Authentication required.", invalid_token=False)
        except InvalidToken as error:
            return await _refuse(
                session,
                request,
                error,
                org_id=None,
                message="The access token is invalid or expired.",
            )
        try:
            return await self.resource_server().actor(
                session,
                claims,
                request.state.request_id,
                request.client.host if request.client else None,
            )
        except InvalidToken as error:
            return await _refuse(
                session,
                request,
                error,
                org_id=claims.org_id,
                message="The access token was revoked.",
            )

    async def _run(self, session: AsyncSession, request: Request, actor: Actor) -> Response:
        context = RequestContext(
            session=session,
            actor=actor,
            max_page_size=self.max_page_size,
            issuer=self.resource_server().issuer,
        )
        response = await self._planned(request, context)
        if response is None:
            try:
                response = await self.view.run(request, context=context)
            except HTTPException as error:
                await context.settle()
                await session.rollback()
                return _bad_request(error.reason)
        await context.settle()
        if not context.unexpected_error:
            try:
                await session.commit()
            except SQLAlchemyError:
                # Nothing was written, the audit events of the work included: the response
                # must not go out as if it had been (no unaudited disclosure, no lost write).
                log.exception("commit failed", extra={"request_id": actor.request_id})
                await session.rollback()
                return _not_committed(actor.request_id)
            return response
        await session.rollback()
        return _nothing_written(response) if context.wrote else response

    async def _planned(self, request: Request, context: RequestContext) -> Response | None:
        """The answer to a plain JSON POST of a document planned before (ADR 0018), made
        without strawberry's pipeline; None leaves the request to strawberry, which reads the
        same body (starlette keeps it) and answers anything unusual as it always has."""
        if self.planner is None:
            return None
        asked = await _plain_post(request)
        if asked is None:
            return None
        try:
            data = await self.planner.answer_planned(context, *asked)
        except Exception:
            log.exception("compiled read failed", extra={"request_id": context.request_id})
            context.unexpected_error = True
            return _not_committed(context.request_id)
        return None if data is None else _answer(request, data)

    async def _direct(self, request: Request) -> Response | None:
        """The answer to a planned document of a caller judged live before, read on a pooled
        driver connection with no session (ADR 0020); None sends the request the usual way (a
        caller not remembered or not admitted, a read with no statement kept, anything to
        refuse)."""
        if self.planner is None or self.engine is None:
            return None
        asked = await _plain_post(request)
        if asked is None:
            return None
        request_id: str = request.state.request_id
        resource_server = self.resource_server()
        authorization = request.headers.get("authorization")
        admitted = resource_server.admitted(
            authorization, request_id, request.client.host if request.client else None
        )
        if admitted is None:
            return None
        actor, admission = admitted
        entry = driver_entry(admission.shape)
        if entry is None:
            return None
        pooled = await self.engine().raw_connection()
        if pooled.driver_connection is None:
            pooled.close()
            return None
        try:
            reads = DirectReads(pooled.driver_connection, actor, admission, entry)
            reader = Direct(reads, self.max_page_size)
            data = await self.planner.answer_directly(reader, *asked)
        except (OSError, asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError):
            # The pooled connection was gone before anything ran: the usual way retries.
            pooled.invalidate()
            return None
        except Exception:
            log.exception("compiled read failed", extra={"request_id": request_id})
            return _not_committed(request_id)
        finally:
            pooled.close()
        if data is None:
            resource_server.forget(authorization)
            return None
        return _answer(request, data)

    def _wants_ide(self, request: Request) -> bool:
        if self.view.graphql_ide is None or request.method not in ("GET", "HEAD"):
            return False
        accept = request.headers.get("accept", "")
        return "text/html" in accept and "query" not in request.query_params
