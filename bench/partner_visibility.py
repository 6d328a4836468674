"""Partner visibility at scale: a partner lists the 50 opportunities shared out of 100,000.

ADR 0008 promises that a partner's list is served by the owner's indexes, not by a scan of the
owner's rows. This benchmark seeds one owner with 5,000 customers and 100,000 opportunities
(50 of them shared with the partner), runs the real app over HTTP with real tokens, and times
`opportunities(first: 50)` for the partner and, side by side in the same run, for the owner.
It captures the SQL the access layer issues for the partner's page and runs
`EXPLAIN (ANALYZE, BUFFERS)` on it as the application role, with the same `hub.org_id` and
`hub.grant_ids` the request had. Two ways of sharing the same 50 rows are measured:

- ASSIGNED: an ASSIGNED OPPORTUNITIES READ SALES grant; the 50 are assigned to the partnership.
- SEGMENT: the ASSIGNED grant revoked and a SEGMENT grant made instead (customer region LATAM
  and stage NEGOTIATION); only those 50 rows fit both.

Run: `.venv/bin/python -m bench.partner_visibility` (about a minute on 2 cores). It starts an
embedded PostgreSQL in a temporary directory and writes `bench/results/partner_visibility.md`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    Party,
    commit,
    copy_customers,
    copy_opportunities,
    cpu,
    create_grant,
    graphql,
    make_parties,
    make_partnerships,
    raw_connection,
    run_on_fresh_database,
    running_hub,
    server_version,
    token,
)
from hub.db import app_role_url, create_engine
from resolvers.ids import NodeType, encode_id

RESULTS = Path(__file__).parent / "results" / "partner_visibility.md"

LIST = "{ opportunities(first: 50) { edges { node { id name stage amount } } } }"
REVOKE_GRANT = """mutation ($id: ID!) { revokeGrant(input: {grantId: $id}) {
    grant { id } userErrors { field message code } } }"""

SHARED = 50
SEGMENT_REGION = "LATAM"
SEGMENT_STAGE = "NEGOTIATION"
REGIONS = ("EMEA", "AMER", "APAC")
STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")


@dataclass
class Seeded:
    owner: Party
    partner: Party
    other_partner: Party
    partnership_id: uuid.UUID
    shared: set[uuid.UUID]
    customers: int
    opportunities: int
    seconds: float


@dataclass
class Timing:
    label: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


@dataclass
class Scenario:
    name: str
    description: str
    timings: list[Timing] = field(default_factory=list)
    statements: dict[str, int] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)


# --- seeding -------------------------------------------------------------------------------


async def seed(owner_url: str, customers: int, opportunities: int) -> Seeded:
    """One owner, its partner and a second partner; customers and opportunities by COPY."""
    started = time.perf_counter()
    parties = await make_parties(owner_url, ("Bench Owner", "Bench Partner", "Bench Other Partner"))
    owner = parties["Bench Owner"]
    made = await make_partnerships(
        owner_url, owner, [parties["Bench Partner"], parties["Bench Other Partner"]]
    )
    partnerships = {"Bench Partner": made[0], "Bench Other Partner": made[1]}

    rng = random.Random(5)  # noqa: S311 - test data, not secrets
    now = datetime.now(UTC)
    customer_rows, latam = [], []
    for index in range(customers):
        # A few customers in a region of their own carry the segment scenario.
        region = SEGMENT_REGION if index < 10 else REGIONS[index % len(REGIONS)]
        customer_id = uuid.uuid4()
        if region == SEGMENT_REGION:
            latam.append(customer_id)
        customer_rows.append(
            (
                owner.org_id,
                customer_id,
                f"Customer {index:05d}",
                "CUSTOMER",
                region,
                ["SALES"],
                now - timedelta(days=rng.uniform(0, 1100)),
            )
        )
    others = [row[1] for row in customer_rows if row[4] != SEGMENT_REGION]
    ours = partnerships["Bench Partner"]
    other_partnership = partnerships["Bench Other Partner"]
    opportunity_rows, shared = [], set()
    for index in range(opportunities):
        opportunity_id = uuid.uuid4()
        if index < SHARED:
            # The 50 shared: assigned to the partnership, LATAM customers, NEGOTIATION.
            customer_id, stage, assigned = (
                latam[index % len(latam)],
                SEGMENT_STAGE,
                ours,
            )
            shared.add(opportunity_id)
        elif index < SHARED + 200:
            # LATAM deals in another stage: the segment's stage condition has work to do.
            customer_id, stage, assigned = latam[index % len(latam)], "PROSPECTING", None
        else:
            customer_id, stage = rng.choice(others), STAGES[index % len(STAGES)]
            # A tenth go to the other partner: the assignment index holds more than ours.
            assigned = other_partnership if index % 10 == 0 else None
        opportunity_rows.append(
            (
                owner.org_id,
                opportunity_id,
                customer_id,
                f"Deal {index:06d}",
                stage,
                Decimal(rng.randrange(1_000, 500_000)),
                "EUR",
                40,
                owner.user_id,
                assigned,
                "DIRECT",
                # Shared deals are spread over the whole history, not the newest rows.
                now - timedelta(days=rng.uniform(0, 1100)),
            )
        )
    async with raw_connection(owner_url) as connection:
        await copy_customers(connection, customer_rows)
        await copy_opportunities(connection, opportunity_rows)
        await connection.execute("ANALYZE")
    return Seeded(
        owner=owner,
        partner=parties["Bench Partner"],
        other_partner=parties["Bench Other Partner"],
        partnership_id=ours,
        shared=shared,
        customers=customers,
        opportunities=opportunities,
        seconds=time.perf_counter() - started,
    )


# --- requests ------------------------------------------------------------------------------


async def listed_ids(http: httpx.AsyncClient, bearer: str) -> set[str]:
    body = await graphql(http, bearer, LIST)
    return {edge["node"]["id"] for edge in body["data"]["opportunities"]["edges"]}


async def make_grant(http: httpx.AsyncClient, world: Seeded, **terms: Any) -> str:
    return await create_grant(http, world.owner.token, world.partnership_id, **terms)


async def time_side_by_side(
    http: httpx.AsyncClient, world: Seeded, runs: int, warmup: int
) -> list[Timing]:
    """The partner's and the owner's list, alternating, after a warm-up of both."""
    parties = {"partner": world.partner.token, "owner": world.owner.token}
    for _ in range(warmup):
        for bearer in parties.values():
            await graphql(http, bearer, LIST)
    samples: dict[str, list[float]] = {name: [] for name in parties}
    for _ in range(runs):
        for name, bearer in parties.items():
            started = time.perf_counter()
            await graphql(http, bearer, LIST)
            samples[name].append((time.perf_counter() - started) * 1000)
    return [Timing(f"{name} `opportunities(first: 50)`", ms) for name, ms in samples.items()]


@contextmanager
def captured_statements() -> Iterator[list[tuple[str, Sequence[Any]]]]:
    """Every statement the app sends while inside, with its parameters."""
    statements: list[tuple[str, Sequence[Any]]] = []

    def record(
        conn: object, cursor: object, statement: str, parameters: Any, *args: object
    ) -> None:
        statements.append((statement, tuple(parameters or ())))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def page_statement(http: httpx.AsyncClient, bearer: str) -> tuple[str, Sequence[Any], int]:
    """The statement that reads the page of opportunities, and how many statements in all."""
    with captured_statements() as statements:
        await graphql(http, bearer, LIST)
    pages = [
        (sql, parameters)
        for sql, parameters in statements
        if "FROM opportunities" in sql and "LIMIT" in sql
    ]
    if len(pages) != 1:
        raise RuntimeError(f"expected one page statement, found {len(pages)}")
    return pages[0][0], pages[0][1], len(statements)


async def explain(
    engine: AsyncEngine,
    sql: str,
    parameters: Sequence[Any],
    org_id: uuid.UUID,
    grant_ids: Sequence[uuid.UUID],
    runs: int,
) -> tuple[str, list[float]]:
    """EXPLAIN (ANALYZE, BUFFERS) as the application role with the request's settings; then
    the same statement `runs` times alone (milliseconds), the database's share of a request."""
    async with engine.connect() as connection, connection.begin():
        await connection.execute(
            text(
                "SELECT set_config('hub.org_id', :org, true), "
                "set_config('hub.grant_ids', :grants, true)"
            ),
            {"org": str(org_id), "grants": ",".join(str(grant) for grant in grant_ids)},
        )
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *parameters)
        plan = "\n".join(row[0] for row in rows)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            await raw.fetch(sql, *parameters)
            samples.append((time.perf_counter() - started) * 1000)
    return plan, samples


async def live_grant_ids(owner_url: str, partner: uuid.UUID) -> list[uuid.UUID]:
    async with raw_connection(owner_url) as connection:
        rows = await connection.fetch(
            "SELECT id FROM grants WHERE partner_org_id = $1 AND revoked_at IS NULL ORDER BY id",
            partner,
        )
    return [row["id"] for row in rows]


# --- the run -------------------------------------------------------------------------------


async def measure(
    http: httpx.AsyncClient,
    app_engine: AsyncEngine,
    owner_engine: AsyncEngine,
    owner_url: str,
    world: Seeded,
    scenario: Scenario,
    runs: int,
    warmup: int,
) -> None:
    expected = {encode_id(NodeType.OPPORTUNITY, record) for record in world.shared}
    seen = await listed_ids(http, world.partner.token)
    if seen != expected:
        raise RuntimeError(f"{scenario.name}: the partner sees {len(seen)} rows, not the 50")
    scenario.timings = await time_side_by_side(http, world, runs, warmup)
    grants = await live_grant_ids(owner_url, world.partner.org_id)
    for who, party, grant_ids in (
        ("partner", world.partner, grants),
        ("owner", world.owner, []),
    ):
        sql, parameters, count = await page_statement(http, party.token)
        plan, samples = await explain(app_engine, sql, parameters, party.org_id, grant_ids, runs)
        scenario.statements[who] = count
        scenario.sql[who] = _with_parameters(sql, parameters)
        scenario.plans[who] = plan
        scenario.timings.append(Timing(f"{who} page SQL alone (asyncpg)", samples))
        if who == "partner":
            # Diagnosis: the same statement and settings as the table owner, whom row-level
            # security does not bind: what the first wall's predicate costs on its own.
            plan, samples = await explain(
                owner_engine, sql, parameters, party.org_id, grant_ids, runs
            )
            scenario.plans["partner, row-level security bypassed"] = plan
            label = "partner page SQL as the table owner (no row-level security)"
            scenario.timings.append(Timing(label, samples))
    partner_plan = scenario.plans["partner"]
    if "Seq Scan on opportunities" in partner_plan:
        scenario.findings.append("The partner's plan scans the opportunities table sequentially.")
    else:
        scenario.findings.append("No sequential scan of opportunities in the partner's plan.")
    timing = {entry.label: entry.median for entry in scenario.timings}
    with_rls = timing["partner page SQL alone (asyncpg)"]
    without = timing["partner page SQL as the table owner (no row-level security)"]
    scenario.findings.append(
        f"The partner's page SQL takes {with_rls:.1f} ms under row-level security and "
        f"{without:.1f} ms without it ({with_rls / without:.0f}x); the owner's takes "
        f"{timing['owner page SQL alone (asyncpg)']:.1f} ms."
    )
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", partner_plan))
    scenario.findings.append(
        f"Rows of the owner's read and then thrown away by a filter in the partner's plan: "
        f"{removed:,} (for the {SHARED} returned)."
    )


def _with_parameters(sql: str, parameters: Sequence[Any]) -> str:
    listed = "\n".join(f"-- ${index} = {value!r}" for index, value in enumerate(parameters, 1))
    return f"{sql}\n{listed}"


async def run(owner_url: str, customers: int, opportunities: int, runs: int, warmup: int) -> str:
    world = await seed(owner_url, customers, opportunities)
    app_url = app_role_url(owner_url, None)
    app_engine = create_engine(app_url, pool_size=1)
    owner_engine = create_engine(owner_url, pool_size=1)
    scenarios = [
        Scenario(
            "ASSIGNED",
            "OPPORTUNITIES ASSIGNED READ SALES; the 50 are assigned to the partnership.",
        ),
        Scenario(
            "SEGMENT",
            f"The ASSIGNED grant revoked; OPPORTUNITIES SEGMENT READ SALES with region "
            f"{SEGMENT_REGION} and stage {SEGMENT_STAGE}: the same 50 rows fit.",
        ),
    ]
    try:
        async with running_hub(app_url) as http:
            for party in (world.owner, world.partner):
                party.token = await token(http, party.client)
            assigned = await make_grant(http, world, selection="ASSIGNED")
            await measure(
                http, app_engine, owner_engine, owner_url, world, scenarios[0], runs, warmup
            )
            await graphql(http, world.owner.token, REVOKE_GRANT, {"id": assigned})
            await make_grant(
                http,
                world,
                selection="SEGMENT",
                segment=[
                    {"attribute": "region", "values": [SEGMENT_REGION]},
                    {"attribute": "stage", "values": [SEGMENT_STAGE]},
                ],
            )
            await measure(
                http, app_engine, owner_engine, owner_url, world, scenarios[1], runs, warmup
            )
    finally:
        await app_engine.dispose()
        await owner_engine.dispose()
    return render(world, scenarios, runs, warmup, await server_version(owner_url))


# --- the report ----------------------------------------------------------------------------


def render(world: Seeded, scenarios: list[Scenario], runs: int, warmup: int, version: str) -> str:
    lines = [
        "# Partner visibility at scale",
        "",
        "`.venv/bin/python -m bench.partner_visibility` — one owner with "
        f"{world.customers:,} customers (all consenting to SALES) and {world.opportunities:,} "
        f"opportunities; {SHARED} of them shared with the partner, spread over three years of "
        "`created_at`; a tenth assigned to a second partner. Seeded by COPY as the owner role, "
        f"then ANALYZE ({world.seconds:.1f} s). Requests go through the real app over HTTP "
        "(httpx ASGI transport, real client-credentials tokens, one process, pool of 10); "
        f"{warmup} warm-up requests per side, then {runs} timed requests per side, partner "
        "and owner alternating. The page SQL is captured from the app and run alone as the "
        "application role with the request's `hub.org_id` and `hub.grant_ids`.",
        "",
        "Query: `" + LIST + "`",
        "",
        "## Machine",
        "",
        f"- {cpu()} ({os.cpu_count()} cores), {platform.platform()}",
        f"- Python {platform.python_version()}; {version.split(',')[0]} (embedded)",
        f"- commit {commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    for scenario in scenarios:
        lines += [
            f"## {scenario.name}",
            "",
            scenario.description,
            "",
            "| measured | median ms | p95 ms | mean ms |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {timing.label} | {timing.median:.2f} | {timing.p95:.2f} | {timing.mean:.2f} |"
            for timing in scenario.timings
        ]
        lines += [
            "",
            f"Statements per request: partner {scenario.statements['partner']}, "
            f"owner {scenario.statements['owner']}.",
            "",
            *(f"- {finding}" for finding in scenario.findings),
            "",
        ]
        for who in scenario.plans:
            lines += [
                f"### Page of the {who}: EXPLAIN (ANALYZE, BUFFERS)",
                "",
                "```",
                scenario.plans[who],
                "```",
                "",
            ]
            if who in scenario.sql:
                lines += [
                    "<details><summary>SQL</summary>",
                    "",
                    "```sql",
                    scenario.sql[who],
                    "```",
                    "",
                    "</details>",
                    "",
                ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return run_on_fresh_database(
        args.output,
        lambda url: run(url, args.customers, args.opportunities, args.runs, args.warmup),
    )


if __name__ == "__main__":
    raise SystemExit(main())
