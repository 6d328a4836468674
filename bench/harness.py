"""What every benchmark does around its measurement: a database, its parties, the machine.

Most benchmarks start their own embedded PostgreSQL in a temporary directory, migrate it, run
their measurement against it and write the report they render, so no figure depends on what a
developer's database happens to hold. A benchmark whose dataset takes minutes to seed keeps it
in a data directory of its own instead (`persistent_database`) and seeds it once; a copy of
the database as seeded (`keep_as_seeded`) is what every later run starts from, so no run
inherits the ledger, the bloat or the dirty pages the runs before it left.

The parties (organisations with an admin and an API client, partnerships between them) are
made here, and grants through the hub's own API, so every benchmark seeds them alike.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from hub.access.actor import Role
from hub.access.scopes import ALL_SCOPES
from hub.app import create_app
from hub.db import create_engine, session_factory
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade
from hub.orgs.clients import ClientCredentials, register_client
from hub.orgs.models import Organisation, User
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus
from hub.settings import Settings
from resolvers.ids import NodeType, encode_id

Measurement = Callable[[str], Coroutine[Any, Any, str]]


def run_on_fresh_database(output: Path, measure: Measurement) -> int:
    """Run `measure(owner_url)` against a new migrated database; write and print its report."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as data_dir:
        server = EmbeddedPostgres(Path(data_dir))
        try:
            upgrade(server.owner_url)  # runs its own event loop, so before ours
            report = asyncio.run(measure(server.owner_url))
        finally:
            server.stop()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    print(report)
    print(f"\nwritten to {output}", file=sys.stderr)
    return 0


@contextmanager
def persistent_database(data_dir: Path, preload: Sequence[str] = ()) -> Iterator[str]:
    """An embedded PostgreSQL kept in `data_dir` between runs, migrated; yields the owner URL.

    `preload` names libraries for `shared_preload_libraries` (pg_stat_statements,
    auto_explain): set with ALTER SYSTEM, so they stay in the data directory, and the server
    restarts once when they were not loaded yet.
    """
    server = EmbeddedPostgres(data_dir)
    try:
        if preload:
            setting = asyncio.run(_setting(server.owner_url, "shared_preload_libraries"))
            loaded = {name.strip().strip('"') for name in setting.split(",")}
            if not set(preload) <= loaded:
                listed = ", ".join(f"'{name}'" for name in preload)
                statement = f"ALTER SYSTEM SET shared_preload_libraries = {listed}"
                asyncio.run(_execute(server.owner_url, statement))
                server.stop()
                server = EmbeddedPostgres(data_dir)
        asyncio.run(_start_as_seeded(server.owner_url))
        upgrade(server.owner_url)  # runs its own event loop, so before the caller's
        yield server.owner_url
    finally:
        server.stop()


def keep_as_seeded(owner_url: str) -> None:
    """Keep a copy of the database as it is now: later runs of `persistent_database` start
    from it. Nothing may be connected to the database meanwhile."""

    async def copy() -> None:
        name = _database(owner_url)
        async with raw_connection(_maintenance_url(owner_url)) as connection:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}{_SEEDED}"')
            await connection.execute(
                f'CREATE DATABASE "{name}{_SEEDED}" TEMPLATE "{name}" STRATEGY FILE_COPY'
            )

    asyncio.run(copy())


# The suffix of the seeded copy's name (`keep_as_seeded`).
_SEEDED = "_seeded"


async def _start_as_seeded(owner_url: str) -> None:
    """Replace the database by its seeded copy, where there is one (`keep_as_seeded`)."""
    name = _database(owner_url)
    async with raw_connection(_maintenance_url(owner_url)) as connection:
        kept = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", name + _SEEDED
        )
        if kept:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{name}{_SEEDED}" STRATEGY FILE_COPY'
            )


def _database(owner_url: str) -> str:
    name = make_url(owner_url).database
    if not name:
        raise ValueError("the owner URL names no database")
    return name


def _maintenance_url(owner_url: str) -> str:
    """The same server's `postgres` database: where databases are dropped and made."""
    return make_url(owner_url).set(database="postgres").render_as_string(hide_password=False)


async def _setting(url: str, name: str) -> str:
    async with raw_connection(url) as connection:
        value: str = await connection.fetchval("SELECT current_setting($1)", name)
    return value


async def _execute(url: str, statement: str) -> None:
    async with raw_connection(url) as connection:
        await connection.execute(statement)


@asynccontextmanager
async def raw_connection(url: str) -> AsyncIterator[Any]:
    """The asyncpg connection under an engine of one: COPY and plain statements."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            yield raw
            await connection.commit()
    finally:
        await engine.dispose()


async def server_version(owner_url: str) -> str:
    async with raw_connection(owner_url) as connection:
        version: str = await connection.fetchval("SELECT version()")
    return version


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def commit() -> str:
    """The commit the figures were measured at."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- bulk rows -----------------------------------------------------------------------------

# What a seeded customer or opportunity row holds, in order; every other column keeps its default.
CUSTOMER_COLUMNS = (
    "org_id",
    "id",
    "name",
    "lifecycle_stage",
    "region",
    "consent_purposes",
    "created_at",
)
OPPORTUNITY_COLUMNS = (
    "org_id",
    "id",
    "customer_id",
    "name",
    "stage",
    "amount",
    "currency",
    "probability",
    "owner_user_id",
    "assigned_partnership_id",
    "source",
    "created_at",
)


async def copy_customers(connection: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Customer rows (CUSTOMER_COLUMNS) by COPY, as the database owner."""
    await connection.copy_records_to_table(
        "customers", records=rows, columns=list(CUSTOMER_COLUMNS)
    )


async def copy_opportunities(connection: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Opportunity rows (OPPORTUNITY_COLUMNS) by COPY, as the database owner."""
    await connection.copy_records_to_table(
        "opportunities", records=rows, columns=list(OPPORTUNITY_COLUMNS)
    )


# --- parties -------------------------------------------------------------------------------


@dataclass
class Party:
    """An organisation with an admin user and an API client holding every scope."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    client: ClientCredentials
    token: str = ""


async def make_parties(owner_url: str, names: Sequence[str]) -> dict[str, Party]:
    """One organisation per name, each with an admin and a client-credentials API client."""
    engine = create_engine(owner_url, pool_size=1)
    parties: dict[str, Party] = {}
    try:
        async with session_factory(engine)() as session, session.begin():
            for name in names:
                slug = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
                organisation = Organisation(name=name, slug=slug)
                session.add(organisation)
                await session.flush()
                user = User(
                    org_id=organisation.id,
                    email=f"admin@{slug}.example",
                    display_name="Admin",
                    role=Role.ADMIN,
                )
                session.add(user)
                await session.flush()
                client = await register_client(
                    session, organisation.id, "bench", sorted(ALL_SCOPES)
                )
                parties[name] = Party(organisation.id, user.id, client)
    finally:
        await engine.dispose()
    return parties


async def make_partnerships(
    owner_url: str, owner: Party, partners: Sequence[Party]
) -> list[uuid.UUID]:
    """An ACTIVE distributor partnership from `owner` to each partner, in order."""
    engine = create_engine(owner_url, pool_size=1)
    made = []
    try:
        async with session_factory(engine)() as session, session.begin():
            for partner in partners:
                row = Partnership(
                    org_id=owner.org_id,
                    partner_org_id=partner.org_id,
                    role=PartnerRole.DISTRIBUTOR,
                    status=PartnershipStatus.ACTIVE,
                )
                session.add(row)
                await session.flush()
                made.append(row.id)
    finally:
        await engine.dispose()
    return made


# --- the hub's API -------------------------------------------------------------------------


@asynccontextmanager
async def running_hub(app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in this process, over httpx's ASGI transport: seeding and diagnosis."""
    settings = Settings(issuer="http://bench.local", audience="partner-hub")
    application = create_app(settings, app_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


CREATE_GRANT = """mutation ($input: CreateGrantInput!) { createGrant(input: $input) {
    grant { id } userErrors { field message code } } }"""


async def token(http: httpx.AsyncClient, client: ClientCredentials) -> str:
    """A bearer token by the client-credentials grant, as any API client gets one."""
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret),
    )
    response.raise_for_status()
    value: str = response.json()["access_token"]
    return value


async def graphql(
    http: httpx.AsyncClient, bearer: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(body)
    return body


async def create_grant(
    http: httpx.AsyncClient, owner_token: str, partnership_id: uuid.UUID, **terms: Any
) -> str:
    """A READ SALES grant on OPPORTUNITIES unless `terms` say otherwise; its global id."""
    values = {
        "partnershipId": encode_id(NodeType.PARTNERSHIP, partnership_id),
        "recordType": "OPPORTUNITIES",
        "access": "READ",
        "purpose": "SALES",
        **terms,
    }
    body = await graphql(http, owner_token, CREATE_GRANT, {"input": values})
    payload = body["data"]["createGrant"]
    if payload["userErrors"]:
        raise RuntimeError(payload)
    grant_id: str = payload["grant"]["id"]
    return grant_id
