"""The floor of `bench.read_path`: hand-written SQL behind starlette and asyncpg, no GraphQL.

It serves the read path's queries the way the least a server could do would: one transaction
per request as the application role `hub_app`, the same row-level-security settings the hub
sets (`hub.org_id`; for a partner, `hub.grant_ids` set to its live grants, read in the same
transaction), then one statement that takes the page from the tenant's index and builds the
response JSON in PostgreSQL, in the shape the hub answers the same GraphQL query with. Python
only passes bytes along.

It is the floor, not a product: the caller is named by a trusted header (`X-Hub-Org`), there
is no token, no parsing, no disclosure record. Row-level security still decides what a partner
sees: the partner's statement states only the grant's conditions on the opportunity's own
columns (owner, stage, assignment), so the planner can use the owner's indexes, and the policies
re-check every row, customer, consent and segment included.

Run by `bench.read_path` in a process of its own:
`python -m bench.raw_endpoint --port 8001 --database-url postgresql://hub_app@/hub?host=...`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["create_app", "partner_page_sql"]

ORG_HEADER = "x-hub-org"
PAGE_SIZE = 50
JSON = "application/json"

# The hub's global id, base64url of `Opportunity:<uuid>` (resolvers/ids.py), made in SQL.
_OPPORTUNITY_ID = (
    "translate(encode(convert_to('Opportunity:' || o.id::text, 'UTF8'), 'base64'), '+/', '-_')"
)

# One opportunity as the hub's `Opportunity` answers `id name stage amount customer { name }`:
# the customer is null when row-level security hides it from the caller.
_NODE = f"""json_build_object(
    'id', {_OPPORTUNITY_ID},
    'name', o.name,
    'stage', o.stage,
    'amount', o.amount::text,
    'customer', CASE WHEN c.id IS NULL THEN NULL ELSE json_build_object('name', c.name) END
)"""

# Every piece of SQL here is a constant of this module; values travel as parameters.
_LIST_TEMPLATE = f"""
SELECT json_build_object('data', json_build_object('opportunities', json_build_object(
    'edges', coalesce(
        json_agg(json_build_object('node', {_NODE}) ORDER BY o.created_at DESC, o.id DESC),
        '[]'::json
    )
)))::text
FROM ({{page}}) AS o
LEFT JOIN customers c ON c.org_id = o.org_id AND c.id = o.customer_id
"""  # noqa: S608

_PAGE_COLUMNS = "o.org_id, o.id, o.customer_id, o.name, o.stage, o.amount, o.created_at"

# Limit first, then join: the page comes from (org_id, created_at, id) alone.
OWNER_LIST = _LIST_TEMPLATE.format(
    page=f"SELECT {_PAGE_COLUMNS} FROM opportunities o WHERE o.org_id = $1 "  # noqa: S608
    f"ORDER BY o.created_at DESC, o.id DESC LIMIT {PAGE_SIZE}"
)

OWNER_ONE = f"""
SELECT json_build_object('data', json_build_object('node', (
    SELECT {_NODE}
    FROM opportunities o
    LEFT JOIN customers c ON c.org_id = o.org_id AND c.id = o.customer_id
    WHERE o.org_id = $1 AND o.id = $2
)))::text
"""  # noqa: S608

_SET_ORG = "SELECT set_config('hub.org_id', $1, true)"

# The partner's live grants, as the hub's access layer reads them (hub_live_grants): set as
# `hub.grant_ids` for the policies and returned for the page's conditions.
_LIVE_GRANTS = """
WITH live AS (
    SELECT g.id, g.org_id, g.partnership_id, g.record_type, g.selection, g.segment
    FROM grants g
    WHERE g.partner_org_id = $1
        AND g.revoked_at IS NULL
        AND (g.expires_at IS NULL OR g.expires_at > now())
        AND EXISTS (
            SELECT FROM partnerships p
            WHERE p.org_id = g.org_id AND p.id = g.partnership_id AND p.status = 'ACTIVE'
        )
)
SELECT
    set_config('hub.grant_ids', coalesce((SELECT string_agg(id::text, ',') FROM live), ''), true),
    coalesce((SELECT json_agg(live) FROM live), '[]'::json)::text
"""


def partner_page_sql(grants: Sequence[dict[str, Any]]) -> tuple[str, list[Any]]:
    """The partner's page: one branch per OPPORTUNITIES grant, each from the owner's index.

    Only conditions on the opportunity's own columns are stated (owner, assignment, stage, named
    records); row-level security decides the rest. Each branch keeps its own newest rows, the
    union keeps the newest of those: the same page as one ordered scan of every shared row.
    """
    branches: list[str] = []
    arguments: list[Any] = []

    def argument(value: Any) -> str:
        arguments.append(value)
        return f"${len(arguments)}"

    for grant in grants:
        if grant["record_type"] != "OPPORTUNITIES":
            continue
        conditions = [f"o.org_id = {argument(uuid.UUID(grant['org_id']))}::uuid"]
        if grant["selection"] == "ASSIGNED":
            partnership = argument(uuid.UUID(grant["partnership_id"]))
            conditions.append(f"o.assigned_partnership_id = {partnership}::uuid")
        elif grant["selection"] == "EXPLICIT":
            conditions.append(
                "o.id IN (SELECT r.record_id FROM grant_records r "  # noqa: S608
                f"WHERE r.org_id = o.org_id AND r.grant_id = {argument(uuid.UUID(grant['id']))})"
            )
        else:
            segment = grant["segment"] or {}
            included = segment.get("include", {}).get("stage")
            excluded = segment.get("exclude", {}).get("stage")
            if included:
                conditions.append(f"o.stage = ANY ({argument(included)}::text[])")
            if excluded:
                conditions.append(f"o.stage <> ALL ({argument(excluded)}::text[])")
        branches.append(
            f"(SELECT {_PAGE_COLUMNS} FROM opportunities o WHERE {' AND '.join(conditions)} "  # noqa: S608
            f"ORDER BY o.created_at DESC, o.id DESC LIMIT {PAGE_SIZE})"
        )
    if not branches:
        page = f"SELECT {_PAGE_COLUMNS} FROM opportunities o WHERE false"  # noqa: S608
    else:
        page = (
            f"SELECT * FROM ({' UNION '.join(branches)}) AS o "  # noqa: S608
            f"ORDER BY o.created_at DESC, o.id DESC LIMIT {PAGE_SIZE}"
        )
    return _LIST_TEMPLATE.format(page=page), arguments


def _caller(request: Request) -> str:
    return str(uuid.UUID(request.headers[ORG_HEADER]))


def _opportunity_id(global_id: str) -> uuid.UUID | None:
    try:
        raw = base64.urlsafe_b64decode(global_id.encode("ascii")).decode()
        kind, _, value = raw.partition(":")
        return uuid.UUID(value) if kind == "Opportunity" else None
    except (ValueError, UnicodeError, binascii.Error):
        return None


async def _keep_session(connection: Any) -> None:
    """Nothing to reset between requests: every setting is transaction-local (`set_config(...,
    true)`), so asyncpg's default reset query would only add a round trip per request."""


def create_app(database_url: str, pool_size: int = 10) -> Starlette:
    """The raw endpoint as an ASGI app over a pool of `pool_size` connections as `hub_app`."""
    pool: Any = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            database_url, min_size=pool_size, max_size=pool_size, reset=_keep_session
        )
        try:
            yield
        finally:
            await pool.close()

    async def owner_list(request: Request) -> Response:
        org = _caller(request)
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(_SET_ORG, org)
            body = await connection.fetchval(OWNER_LIST, uuid.UUID(org))
        return Response(body, media_type=JSON)

    async def owner_one(request: Request) -> Response:
        org = _caller(request)
        record = _opportunity_id(request.path_params["global_id"])
        if record is None:
            return Response('{"data":{"node":null}}', media_type=JSON)
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(_SET_ORG, org)
            body = await connection.fetchval(OWNER_ONE, uuid.UUID(org), record)
        return Response(body, media_type=JSON)

    async def partner_list(request: Request) -> Response:
        org = _caller(request)
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(_SET_ORG, org)
            row = await connection.fetchrow(_LIVE_GRANTS, uuid.UUID(org))
            sql, arguments = partner_page_sql(json.loads(row[1]))
            body = await connection.fetchval(sql, *arguments)
        return Response(body, media_type=JSON)

    return Starlette(
        routes=[
            Route("/owner/opportunities", owner_list),
            Route("/owner/opportunities/{global_id}", owner_one),
            Route("/partner/opportunities", partner_list),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="as the application role")
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.database_url, args.pool_size),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
