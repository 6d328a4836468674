"""The disclosure report for a customer disclosed 10,000 times, beside the ledger it summarises.

`disclosureReport` reads the disclosure index, never the ledger (DESIGN 4: answerable fast,
without scanning the whole ledger). This benchmark seeds one owner with 2,000 customers and two
partners, then appends, through the ledger's own `hub_audit_append` as each partner, 10,000
disclosure events naming one customer and three of its contacts, and 20,000 more spread over
the other customers, so the index holds many rows besides the target's. It times the owner's
`disclosureReport(subjectId:)` over HTTP with a real token, and the report's SQL alone with its
EXPLAIN, and, for scale, what the same answer costs computed from the ledger's events.

Run: `.venv/bin/python -m bench.disclosure_report` (about a minute on 2 cores). It starts an
embedded PostgreSQL in a temporary directory and writes `bench/results/disclosure_report.md`.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import (
    commit,
    cpu,
    graphql,
    raw_connection,
    run_on_fresh_database,
    running_hub,
    server_version,
    token,
)
from bench.partner_visibility import (
    seed,
)
from hub.audit.chain import canonical, envelope
from hub.db import app_role_url
from resolvers.ids import NodeType, encode_id

RESULTS = Path(__file__).parent / "results" / "disclosure_report.md"

REPORT = """query ($id: ID!) { disclosureReport(subjectId: $id) {
    firstAt lastAt partners { name }
    entries { partner { name } subjectId grantId purpose field firstAt lastAt times } } }"""
REPORT_SQL = (
    "SELECT * FROM disclosures WHERE org_id = $1 AND customer_id = $2"
    " ORDER BY partner_org_id, subject_kind DESC, subject_id, field, grant_id"
)
FROM_LEDGER_SQL = """
    SELECT e.actor_org_id, count(*), min(e.created_at), max(e.created_at)
    FROM audit_events e
    WHERE e.org_id = $1 AND e.type = 'disclosure' AND e.record_ids @> ARRAY[$2::uuid]
    GROUP BY e.actor_org_id
"""
BATCH = 200


def disclosure(
    owner: uuid.UUID,
    partner: uuid.UUID,
    grant: uuid.UUID,
    customer: uuid.UUID,
    contacts: Sequence[uuid.UUID],
    at: datetime,
) -> str:
    """One disclosure event as the ledger stores it: a customer and its contacts crossed."""
    return canonical(
        envelope(
            org_id=owner,
            id=uuid.uuid4(),
            type="disclosure",
            actor_org_id=partner,
            actor_user_id=None,
            actor_client_id="bench",
            request_id=uuid.uuid4().hex,
            source_address=None,
            record_ids=[customer, *contacts],
            details={
                "partner_org_id": str(partner),
                "grants": [
                    {
                        "grant_id": str(grant),
                        "purpose": "SALES",
                        "records": [
                            {
                                "kind": "Customer",
                                "fields": ["id", "name", "region"],
                                "ids": [str(customer)],
                                "customer_ids": [str(customer)],
                            },
                            {
                                "kind": "Contact",
                                "fields": ["email (masked)", "fullName"],
                                "ids": [str(contact) for contact in contacts],
                                "customer_ids": [str(customer)] * len(contacts),
                            },
                        ],
                    }
                ],
            },
            created_at=at,
        )
    )


async def append_all(app_url: str, owner: uuid.UUID, events: list[tuple[uuid.UUID, str]]) -> float:
    """Append (partner, document) pairs as each partner would, BATCH per transaction."""
    started = time.perf_counter()
    async with raw_connection(app_url) as connection:
        for index in range(0, len(events), BATCH):
            chunk = events[index : index + BATCH]
            for partner in {partner for partner, _ in chunk}:
                async with connection.transaction():
                    await connection.execute(
                        "SELECT set_config('hub.org_id', $1, true)", str(partner)
                    )
                    await connection.execute(
                        "SELECT hub_audit_append($1, $2::text[])",
                        owner,
                        [document for who, document in chunk if who == partner],
                    )
    return time.perf_counter() - started


async def run(owner_url: str, target_disclosures: int, others: int, runs: int) -> str:
    world = await seed(owner_url, 2_000, 2_000)
    app_url = app_role_url(owner_url, None)
    owner, partners = world.owner.org_id, [world.partner.org_id, world.other_partner.org_id]
    async with raw_connection(owner_url) as connection:
        customers: list[uuid.UUID] = [
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM customers WHERE org_id = $1 ORDER BY id", owner
            )
        ]
    target, rest = customers[0], customers[1:]
    contacts = [uuid.uuid4() for _ in range(3)]
    grants = {partner: uuid.uuid4() for partner in partners}
    start = datetime.now(UTC) - timedelta(days=365)
    events: list[tuple[uuid.UUID, str]] = []
    for number in range(target_disclosures + others):
        partner = partners[number % 2]
        customer, people = (
            (target, contacts) if number < target_disclosures else (rest[number % len(rest)], [])
        )
        at = start + timedelta(minutes=number)
        events.append((partner, disclosure(owner, partner, grants[partner], customer, people, at)))
    appended = await append_all(app_url, owner, events)

    async with raw_connection(owner_url) as connection:
        index_rows = await connection.fetchval("SELECT count(*) FROM disclosures")
        ledger_rows = await connection.fetchval("SELECT count(*) FROM audit_events")
        await connection.execute("ANALYZE")
    async with raw_connection(app_url) as connection:
        sql_ms, plan = await _time_sql(connection, owner, target, runs)
        ledger_ms, _ = await _time_sql(connection, owner, target, 5, FROM_LEDGER_SQL)

    subject = encode_id(NodeType.CUSTOMER, target)
    samples: list[float] = []
    async with running_hub(app_url) as http:
        bearer = await token(http, world.owner.client)
        body = await graphql(http, bearer, REPORT, {"id": subject})
        entries = body["data"]["disclosureReport"]["entries"]
        times = sum(entry["times"] for entry in entries if entry["field"] == "name")
        for _ in range(5):
            await graphql(http, bearer, REPORT, {"id": subject})
        for _ in range(runs):
            started = time.perf_counter()
            await graphql(http, bearer, REPORT, {"id": subject})
            samples.append((time.perf_counter() - started) * 1000)
    return render(
        target_disclosures=target_disclosures,
        others=others,
        appended=appended,
        index_rows=index_rows,
        ledger_rows=ledger_rows,
        entries=len(entries),
        times=times,
        samples=samples,
        sql_ms=sql_ms,
        ledger_ms=ledger_ms,
        plan=plan,
        version=await server_version(owner_url),
    )


async def _time_sql(
    connection: Any, owner: uuid.UUID, target: uuid.UUID, runs: int, sql: str = REPORT_SQL
) -> tuple[float, str]:
    """Median ms of `sql` as the owner (its RLS setting on), and its EXPLAIN ANALYZE."""
    samples = []
    async with connection.transaction():
        await connection.execute("SELECT set_config('hub.org_id', $1, true)", str(owner))
        for _ in range(runs):
            started = time.perf_counter()
            await connection.fetch(sql, owner, target)
            samples.append((time.perf_counter() - started) * 1000)
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", owner, target)
    return statistics.median(samples), "\n".join(row[0] for row in rows)


def render(**figures: Any) -> str:
    samples = sorted(figures["samples"])
    median = statistics.median(samples)
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    return "\n".join(
        [
            f"# Disclosure report for a customer disclosed {figures['target_disclosures']:,} times",
            "",
            f"- Machine: {cpu()}; {figures['version'].split(',')[0]}; commit {commit()}.",
            f"- Ledger: {figures['ledger_rows']:,} events ({figures['target_disclosures']:,} "
            f"disclosures of the target customer and three of its contacts, "
            f"{figures['others']:,} of other customers), appended through `hub_audit_append` "
            f"in {figures['appended']:.1f} s; disclosure index: {figures['index_rows']:,} rows.",
            f"- The report: {figures['entries']} entries; the customer's name was disclosed "
            f"{figures['times']:,} times in all.",
            "",
            "| what | median ms | p95 ms |",
            "| --- | ---: | ---: |",
            f"| `disclosureReport` over HTTP ({len(samples)} runs) | {median:.2f} | {p95:.2f} |",
            f"| the report's SQL alone | {figures['sql_ms']:.2f} | |",
            f"| the same answer from the ledger's events | {figures['ledger_ms']:.2f} | |",
            "",
            f"**{median:.1f} ms over HTTP** (goal: under 50 ms).",
            "",
            "The report's SQL, as the application role with the owner's setting:",
            "",
            "```",
            figures["plan"],
            "```",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--disclosures", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return run_on_fresh_database(
        args.output, lambda url: run(url, args.disclosures, args.others, args.runs)
    )


if __name__ == "__main__":
    raise SystemExit(main())
