"""Proving a long chain: `verify_chain` over a million events, time and memory.

Builds one organisation's chain of EVENTS valid events, generated here with the ledger's own
chain code (`hub.audit.chain`: the envelope, canonical text and links `hub_audit_append`
computes) and COPYed in as the database owner in batches with triggers off for the load (the
record index is not needed to verify), then its head. Then it proves the chain with
`verify_chain` in one REPEATABLE READ transaction, as `hub audit verify` does, sampling the
process's resident memory as the proof passes 100k, 250k, 500k and 1M events: the claim is
that memory stays flat as the ledger grows (a server-side cursor, one batch in memory).

Run: `.venv/bin/python -m bench.audit_verify` (a few minutes on 2 cores, most of it the load).
It starts an embedded PostgreSQL in a temporary directory and writes
`bench/results/audit_verify.md`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from bench.harness import commit, cpu, run_on_fresh_database
from hub.audit.chain import FIELDS, GENESIS, canonical, envelope, jsonable, link, text_digest
from hub.audit.verify import verify_chain
from hub.db import create_engine, session_factory

RESULTS = Path(__file__).parent / "results" / "audit_verify.md"
LOAD_BATCH = 50_000
SAMPLES = (100_000, 250_000, 500_000, 1_000_000)
COLUMNS = (*FIELDS, "seq", "hash")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _details(number: int, partner: uuid.UUID, grant: uuid.UUID) -> dict[str, object]:
    """A disclosure-shaped document: the common large event in a busy owner's chain."""
    return jsonable(
        {
            "grants": [
                {
                    "grant_id": str(grant),
                    "purpose": "SALES",
                    "records": [
                        {
                            "kind": "Opportunity",
                            "ids": [str(uuid.UUID(int=number))],
                            "fields": ["amount", "name", "stage"],
                        }
                    ],
                }
            ],
            "partner_org_id": str(partner),
            "number": number,
            "note": "Zoë ✓",
        }
    )


async def load(owner_url: str, org_id: uuid.UUID, events: int) -> float:
    """Generate and COPY `events` chained events; returns seconds taken."""
    began = time.perf_counter()
    connection = await asyncpg.connect(owner_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(
            "INSERT INTO organisations (id, name, slug) VALUES ($1, 'Verify Bench', $2)",
            org_id,
            f"verify-bench-{org_id.hex[:8]}",
        )
        partner, grant, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        start = datetime(2025, 1, 1, tzinfo=UTC)
        previous, seq = GENESIS, 0
        address = ipaddress.ip_address("192.0.2.10")
        while seq < events:
            rows = []
            for _ in range(min(LOAD_BATCH, events - seq)):
                seq += 1
                event_id, record_id = uuid.uuid4(), uuid.UUID(int=seq)
                created_at = start + timedelta(seconds=seq, microseconds=seq % 997)
                details = _details(seq, partner, grant)
                document = envelope(
                    org_id=org_id,
                    id=event_id,
                    type="disclosure" if seq % 4 else "record.updated",
                    actor_org_id=partner,
                    actor_user_id=user if seq % 2 else None,
                    actor_client_id="hub_bench_client",
                    request_id=f"req-{seq}",
                    source_address=address,
                    record_ids=[record_id],
                    details=details,
                    created_at=created_at,
                )
                previous = link(previous, seq, text_digest(canonical(document)))
                rows.append(  # in the order of COLUMNS
                    (
                        org_id,
                        event_id,
                        document["type"],
                        partner,
                        user if seq % 2 else None,
                        "hub_bench_client",
                        f"req-{seq}",
                        address,
                        [record_id],
                        canonical(details),
                        created_at,
                        seq,
                        previous,
                    )
                )
            async with connection.transaction():
                # The load only: the record index and the guard are triggers verify never needs.
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.copy_records_to_table(
                    "audit_events", records=rows, columns=COLUMNS
                )
        await connection.execute(
            "INSERT INTO audit_chain_heads (org_id, seq, hash) VALUES ($1, $2, $3)",
            org_id,
            seq,
            previous,
        )
        await connection.execute("ANALYZE audit_events")
    finally:
        await connection.close()
    return time.perf_counter() - began


async def prove(
    owner_url: str, org_id: uuid.UUID
) -> tuple[float, int, bool, list[tuple[int, float]]]:
    engine = create_engine(owner_url, pool_size=1)
    samples: list[tuple[int, float]] = []
    done = 0
    pending = list(SAMPLES)

    def heard(amount: int) -> None:
        nonlocal done
        done += amount
        while pending and done >= pending[0]:
            samples.append((pending.pop(0), _rss_mib()))

    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            began = time.perf_counter()
            report = await verify_chain(session, org_id, progress=heard)
            seconds = time.perf_counter() - began
    finally:
        await engine.dispose()
    return seconds, report.events, report.intact, samples


def render(
    events: int,
    load_seconds: float,
    seconds: float,
    proved: int,
    intact: bool,
    samples: list[tuple[int, float]],
    before: float,
    version: str,
) -> str:
    lines = [
        "# Proving a long chain: `verify_chain` over one organisation's ledger",
        "",
        "`.venv/bin/python -m bench.audit_verify` — one chain of "
        f"{events:,} valid events (disclosure-shaped details, one record id each), generated "
        "with `hub.audit.chain` and COPYed in as the owner "
        f"({load_seconds:.0f} s to build), then proved by `verify_chain` in one REPEATABLE READ "
        "transaction on the owner connection (embedded PostgreSQL, same machine).",
        "",
        "## Machine",
        "",
        f"- {cpu()} ({os.cpu_count()} cores); Python {sys.version.split()[0]}; "
        f"{version.split(',')[0]} (embedded)",
        f"- commit {commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "## Result",
        "",
        "| events proved | intact | seconds | events/s |",
        "| ---: | :---: | ---: | ---: |",
        f"| {proved:,} | {'yes' if intact else 'NO'} | {seconds:.1f} | {proved / seconds:,.0f} |",
        "",
        "Resident memory of the verifying process (VmRSS) as the proof passes:",
        "",
        "| events proved | RSS MiB |",
        "| ---: | ---: |",
        f"| 0 (before) | {before:.1f} |",
    ]
    lines += [f"| {count:,} | {mib:.1f} |" for count, mib in samples]
    lines += [
        "",
        f"Peak RSS of the process over the whole run (load included): {_peak_mib():.1f} MiB.",
        "",
        f"Goal: 1,000,000 events under 60 s with flat memory — "
        f"{'met' if seconds < 60 and intact else 'NOT met'} "
        f"({seconds:.1f} s; RSS from 100k to the end moved "
        f"{(samples[-1][1] - samples[0][1]) if samples else 0:+.1f} MiB).",
    ]
    return "\n".join(lines) + "\n"


async def run(owner_url: str, events: int) -> str:
    org_id = uuid.uuid4()
    load_seconds = await load(owner_url, org_id, events)
    print(f"loaded {events:,} events in {load_seconds:.1f} s", file=sys.stderr)
    connection = await asyncpg.connect(owner_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        version = await connection.fetchval("SELECT version()")
    finally:
        await connection.close()
    before = _rss_mib()
    seconds, proved, intact, samples = await prove(owner_url, org_id)
    return render(events, load_seconds, seconds, proved, intact, samples, before, version)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return run_on_fresh_database(args.output, lambda url: run(url, args.events))


if __name__ == "__main__":
    raise SystemExit(main())
