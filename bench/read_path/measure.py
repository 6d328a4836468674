"""One cell of the read path: a system asked one query by N connections for a bounded time.

Around the load generator's run it reads the server process's CPU time (/proc, via psutil),
the CPU time of every PostgreSQL process, and the number of statements the application role
ran (pg_stat_statements `calls`, utility statements such as BEGIN and COMMIT included: the
round trips). While it runs it samples pg_stat_activity: backends of the application role
waiting on a lock, and what the busy processes were doing (a request's backend running or
waiting on what; the checkpointer, autovacuum and the WAL writer when not idle). After it,
the cell waits until the server and PostgreSQL are idle again (cancelling statements of
requests the generator gave up on), so no cell inherits another's leftovers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.read_path.systems import Server

# Not a request's: the hub's background sealer (ADR 0016, ADR 0021), one `hub_audit_seal`
# statement per round on its own schedule and a VACUUM of the waiting disclosures after a round
# that sealed any (and once, whether it may); and what asyncpg runs once on a new connection:
# its type introspection (`typeinfo_tree`), with `jit` turned off before it and set back after
# it. The setting back normalises to the same text as a `set_config` of a request, so it is
# taken off by the count of the turning off, which has a text of its own.
_STATEMENTS = r"""
SELECT (coalesce(sum(s.calls) FILTER (WHERE s.query !~ (
           '^(SELECT hub_audit_seal\(|VACUUM \(SKIP_LOCKED'
           || '|SELECT CASE WHEN current_setting\(\$1\)::int >= \$2 THEN has_table_privilege)'
       )), 0)
     - coalesce(sum(s.calls) FILTER (WHERE s.query LIKE '%typeinfo_tree%'), 0)
     - 2 * coalesce(sum(s.calls) FILTER (
           WHERE regexp_replace(s.query, '\s+', ' ', 'g')
                 ~ '^ ?SELECT current_setting\(\$1\) AS cur, set_config'), 0))::bigint
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
WHERE r.rolname = 'hub_app'
"""
_ACTIVITY = """
SELECT count(*) FILTER (WHERE usename = 'hub_app' AND wait_event_type = 'Lock'),
       count(*) FILTER (WHERE usename = 'hub_app' AND state <> 'idle'),
       coalesce(array_agg(wait_event)
                FILTER (WHERE usename = 'hub_app' AND wait_event_type = 'Lock'), '{}'),
       coalesce(array_agg(
           CASE WHEN backend_type = 'client backend' THEN 'request' ELSE backend_type END
           || ' ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU'))
           FILTER (WHERE pid <> pg_backend_pid()
                   AND (usename = 'hub_app' AND state = 'active'
                        OR backend_type <> 'client backend'
                           AND coalesce(wait_event_type, '') <> 'Activity')), '{}')
FROM pg_stat_activity
"""
_CANCEL = """
SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
WHERE usename = 'hub_app' AND state = 'active'
"""


@dataclass
class Cell:
    system: str
    query: str
    connections: int
    round: int
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    app_cpu: float = 0.0
    pg_cpu: float = 0.0
    generator_cpu: float = 0.0
    statements: int = 0
    lock_waiters_max: int = 0
    lock_waiters_mean: float = 0.0
    lock_kinds: dict[str, int] = field(default_factory=dict)
    # What busy PostgreSQL processes were doing, summed over the samples (`Probe.activity`).
    doing: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    cancelled: int = 0
    settle_seconds: float = 0.0
    first_error: str | None = None

    @property
    def answered(self) -> int:
        return self.ok + self.errors


class Probe:
    """The owner's view of PostgreSQL while cells run: statements, activity, processes."""

    def __init__(self, connection: Any, pgdata: Path) -> None:
        self.connection = connection
        self.pgdata = pgdata

    async def prepare(self) -> None:
        await self.connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    async def statements(self) -> int:
        value: int = await self.connection.fetchval(_STATEMENTS)
        return value

    async def activity(self) -> tuple[int, int, list[str], list[str]]:
        """Backends of the application role waiting on a lock, those not idle, the kinds of
        lock waited on (pg_stat_activity's wait_event: transactionid, tuple, advisory...), and
        what each busy process was doing ("request on CPU", "checkpointer IO:DataFileSync")."""
        row = await self.connection.fetchrow(_ACTIVITY)
        return int(row[0]), int(row[1]), list(row[2]), list(row[3])

    async def cancel_active(self) -> int:
        cancelled: int = await self.connection.fetchval(_CANCEL)
        return cancelled

    def postgres_cpu(self) -> dict[int, float]:
        """CPU seconds of the postmaster's children (backends and workers), by pid."""
        try:
            postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            children = psutil.Process(postmaster).children()
        except (OSError, ValueError, psutil.Error):
            return {}
        times = {}
        for child in children:
            try:
                cpu = child.cpu_times()
            except psutil.Error:
                continue
            times[child.pid] = float(cpu.user + cpu.system)
        return times


async def run_generator(spec: dict[str, Any]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.read_path.load",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed ({process.returncode})")
    result: dict[str, Any] = json.loads(output)
    return result


async def run_cell(
    probe: Probe,
    server: Server,
    cell: Cell,
    requests: list[bytes],
    duration: float,
    answer_within: float,
) -> Cell:
    spec = {
        "port": server.port,
        "requests": [base64.b64encode(request).decode() for request in requests],
        "connections": cell.connections,
        "duration": duration,
        "timeout": answer_within,
    }
    statements_before = await probe.statements()
    postgres_before = probe.postgres_cpu()
    app_before = server.cpu_seconds()
    samples: list[int] = []
    kinds: Counter[str] = Counter()
    doing: Counter[str] = Counter()
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            waiting, _, waited_on, busy = await probe.activity()
            samples.append(waiting)
            kinds.update(waited_on)
            doing.update(busy)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    sampler = asyncio.create_task(sample())
    try:
        result = await run_generator(spec)
    finally:
        stop.set()
        await sampler
    cell.app_cpu = server.cpu_seconds() - app_before
    postgres_after = probe.postgres_cpu()
    cell.pg_cpu = sum(
        seconds - postgres_before.get(pid, 0.0) for pid, seconds in postgres_after.items()
    )
    cell.statements = await probe.statements() - statements_before
    cell.ok, cell.errors, cell.timeouts = result["ok"], result["errors"], result["timeouts"]
    cell.latencies_ms = result["latencies_ms"]
    cell.elapsed = result["elapsed"]
    cell.generator_cpu = result["cpu_seconds"]
    cell.first_error = result["first_error"]
    cell.lock_waiters_max = max(samples, default=0)
    cell.lock_waiters_mean = statistics.fmean(samples) if samples else 0.0
    cell.lock_kinds = dict(kinds)
    cell.doing = dict(doing)
    cell.samples = len(samples)
    settling = time.monotonic()
    cell.cancelled = await settle(probe, server)
    cell.settle_seconds = time.monotonic() - settling
    return cell


async def settle(probe: Probe, server: Server, patience: float = 15.0) -> int:
    """Wait until PostgreSQL and the server are idle; cancel what still runs after `patience`."""
    started = time.monotonic()
    cancelled = 0
    while time.monotonic() - started < patience + 30:
        _, busy, _, _ = await probe.activity()
        before = server.cpu_seconds()
        await asyncio.sleep(0.3)
        idle_server = server.cpu_seconds() - before < 0.03
        if busy == 0 and idle_server:
            return cancelled
        if busy and time.monotonic() - started > patience:
            cancelled += await probe.cancel_active()
    return cancelled


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]
