"""Recording disclosures: a partner's audited list beside the same list with auditing off.

Every response that gives a partner owner data records a disclosure in the request's
transaction, in a table that takes no lock another reader waits on; the hub's background sealer
then appends it to the owner's chain and folds it into the disclosure index (ADR 0016; before
that, each read appended under the owner's chain-head lock, ADR 0011). All partners of one
owner disclose into that one chain. This benchmark seeds one owner with two partners (50
opportunities assigned to each), runs the real app over HTTP with real tokens, and sends
`opportunities(first: 50)` from both partners at once (8, then 32 requests in flight) in rounds
that alternate between the hub as shipped and the same hub with the access layer's disclosure
note switched off in this process (no event, no index row, nothing else changed), so both are
measured in the same run on the same data. The hub runs as `hub serve` runs it, its background
sealer on (every second), so the sealing is paid for inside the audited rounds.

Run: `.venv/bin/python -m bench.audit_append` (about three minutes on 2 cores). It starts an
embedded PostgreSQL in a temporary directory and writes `bench/results/audit_append.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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
    make_grant,
    seed,
)
from hub.audit import disclosures
from hub.db import app_role_url
from resolvers.ids import NodeType, encode_id

RESULTS = Path(__file__).parent / "results" / "audit_append.md"

LIST = "{ opportunities(first: 50) { edges { node { id name stage amount } } } }"


@dataclass
class Mode:
    name: str
    seconds: float = 0.0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies)


@contextmanager
def auditing(on: bool) -> Iterator[None]:
    """Off: the access layer's disclosure note does nothing, in this process only."""
    original = disclosures.note
    if not on:
        disclosures.note = lambda *_args, **_kwargs: None
    try:
        yield
    finally:
        disclosures.note = original


async def burst(
    http: httpx.AsyncClient, bearers: Sequence[str], requests: int, concurrency: int, mode: Mode
) -> None:
    """`requests` lists, `concurrency` in flight, the partners' tokens taking turns."""
    queue = iter(range(requests))

    async def worker() -> None:
        for number in queue:
            started = time.perf_counter()
            await graphql(http, bearers[number % len(bearers)], LIST)
            mode.latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    mode.seconds += time.perf_counter() - started
    mode.requests += requests


@dataclass(frozen=True)
class Recorded:
    """Disclosures sealed into the chain, and those still waiting for the sealer."""

    sealed: int
    waiting: int

    @property
    def total(self) -> int:
        return self.sealed + self.waiting


@dataclass
class Level:
    """One concurrency: both modes, and the disclosures recorded while it ran."""

    concurrency: int
    modes: dict[bool, Mode]
    before: Recorded = Recorded(0, 0)
    after: Recorded = Recorded(0, 0)

    @property
    def ratio(self) -> float:
        return self.modes[True].per_second / self.modes[False].per_second


async def recorded(owner_url: str) -> Recorded:
    async with raw_connection(owner_url) as connection:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM audit_events WHERE type = 'disclosure') AS sealed,"
            " (SELECT count(*) FROM audit_pending_disclosures) AS waiting"
        )
    return Recorded(row["sealed"], row["waiting"])


async def run(owner_url: str, rounds: int, per_round: int, concurrency: Sequence[int]) -> str:
    world = await seed(owner_url, 500, 5_000)
    app_url = app_role_url(owner_url, None)
    levels = [
        Level(in_flight, {True: Mode("audited"), False: Mode("auditing off")})
        for in_flight in concurrency
    ]
    async with running_hub(app_url) as http:
        for party in (world.owner, world.partner, world.other_partner):
            party.token = await token(http, party.client)
        await make_grant(http, world, selection="ASSIGNED")
        # The second partner: its own partnership (every tenth other deal is assigned to it).
        other = await _other_partnership(owner_url, world.owner.org_id, world.other_partner.org_id)
        await make_grant(
            http,
            world,
            selection="ASSIGNED",
            partnershipId=encode_id(NodeType.PARTNERSHIP, other),
        )
        bearers = [world.partner.token, world.other_partner.token]
        for level in levels:
            for on in (True, False):  # warm-up, not counted
                with auditing(on):
                    await burst(http, bearers, per_round, level.concurrency, Mode("warm-up"))
            level.before = await recorded(owner_url)
            for number in range(rounds):
                for on in (True, False) if number % 2 == 0 else (False, True):
                    with auditing(on):
                        await burst(http, bearers, per_round, level.concurrency, level.modes[on])
            level.after = await recorded(owner_url)
    return render(levels, rounds, per_round, await server_version(owner_url))


async def _other_partnership(owner_url: str, owner: uuid.UUID, partner: uuid.UUID) -> uuid.UUID:
    async with raw_connection(owner_url) as connection:
        found: uuid.UUID = await connection.fetchval(
            "SELECT id FROM partnerships WHERE org_id = $1 AND partner_org_id = $2", owner, partner
        )
    return found


def render(levels: Sequence[Level], rounds: int, per_round: int, version: str) -> str:
    lines = [
        "# Recording disclosures: audited partner lists beside auditing off",
        "",
        f"- Machine: {cpu()}, {_cores()} cores; {version.split(',')[0]}; commit {commit()}.",
        f"- At each concurrency, {rounds} rounds of {per_round} requests per mode, alternating; "
        "two partners of one owner (one chain) taking turns; "
        "`opportunities(first: 50) { id name stage amount }`, 50 rows per answer; the hub's "
        "background sealer on (every second).",
    ]
    for level in levels:
        lines.append(
            f"- {level.concurrency} in flight: {level.after.total - level.before.total} "
            f"disclosures recorded for {level.modes[True].requests} audited requests (one per "
            f"response; none while off), {level.after.waiting} waiting for the sealer at the end."
        )
    lines += [
        "",
        "| in flight | mode | requests | req/s | median ms |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for level in levels:
        for mode in (level.modes[True], level.modes[False]):
            lines.append(
                f"| {level.concurrency} | {mode.name} | {mode.requests} | "
                f"{mode.per_second:.1f} | {mode.median_ms:.1f} |"
            )
    ratios = ", ".join(f"{level.ratio:.2f}x at {level.concurrency} in flight" for level in levels)
    lines += ["", f"**Audited / off: {ratios}** (goal: at least 0.8x)."]
    return "\n".join(lines) + "\n"


def _cores() -> int:
    return os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return run_on_fresh_database(
        args.output, lambda url: run(url, args.rounds, args.per_round, args.concurrency)
    )


if __name__ == "__main__":
    raise SystemExit(main())
