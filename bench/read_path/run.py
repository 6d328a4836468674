"""One dataset measured: servers up, sameness checked, interleaved rounds, plans traced.

The order of a dataset's measurement:
1. start the servers (each in a process of its own) and fetch bearer tokens from the hub;
2. check once, one request at a time, that every system answers every query with the same rows
   (ids, and the fields too) as the hub: the comparison is fair only if it is;
3. warm each system up (pools, caches, JIT) with a short burst of the owner's queries;
4. the rounds: in each, every query is asked of every system for a fixed time by the same
   number of connections, the systems' order rotating from round to round;
5. the concurrency check (the hub's partner lists and owner list at one connection);
6. the servers stopped, auto_explain switched on for the application role, fresh servers send
   one traced request per query, and the plans are read from PostgreSQL's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import raw_connection
from bench.read_path import plans
from bench.read_path.dataset import Dataset, data_dir
from bench.read_path.measure import Cell, Probe, run_cell
from bench.read_path.systems import (
    HUB,
    ONE_BY_ID,
    OWNER_LIST,
    PARTNER_ASSIGNED,
    PARTNER_SEGMENT,
    POSTGRAPHILE,
    QUERIES,
    RAW,
    Callers,
    Row,
    Server,
    hub_token,
    requests_for,
    rows_of,
    send_once,
    start_hub,
    start_postgraphile,
    start_raw,
    stop_all,
)

SAMPLE_IDS = 300
SANITY_TIMEOUT = 180.0
WARMUP_SECONDS = 2.0
STATISTICS_DELAY = 2.0


@dataclass
class Options:
    rounds: int
    duration: float
    connections: int
    timeout: float
    node: str | None
    queries: Sequence[str] = QUERIES
    concurrency_check: bool = True
    trace_systems: Sequence[str] = (HUB, RAW)


@dataclass
class Sameness:
    query: str
    system: str
    rows: int
    same_ids: bool
    same_fields: bool
    seconds: float
    statements: float
    note: str = ""


@dataclass
class Measured:
    dataset: Dataset
    version: str
    systems: list[str]
    cells: list[Cell] = field(default_factory=list)
    sameness: list[Sameness] = field(default_factory=list)
    plans: dict[tuple[str, str], plans.Trace] = field(default_factory=dict)
    tenant_tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


async def measure(owner_url: str, dataset: Dataset, options: Options) -> Measured:
    started = time.perf_counter()
    directory = data_dir(dataset.size)
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    async with raw_connection(owner_url) as connection:
        probe = Probe(connection, directory / "postgres")
        await probe.prepare()
        await plans.silence(connection)  # a run stopped while tracing leaves it on
        version = str(await connection.fetchval("SELECT version()")).split(",")[0]
        sample = await connection.fetch(
            "SELECT id FROM opportunities WHERE org_id = $1 ORDER BY random() LIMIT $2",
            dataset.owner.org_id,
            SAMPLE_IDS,
        )
        callers = Callers(dataset, sample_ids=[row["id"] for row in sample])
        systems = [HUB, RAW] + ([POSTGRAPHILE] if options.node else [])
        result = Measured(dataset, version, systems)
        result.tenant_tables = await plans.tenant_tables(connection)
        servers = _start(owner_url, logs, systems, options.node)
        try:
            await _refresh(connection, servers[HUB], callers)
            result.sameness = await _check_sameness(probe, servers, callers, options.queries)
            _print_sameness(result.sameness)
            for system in systems:
                for query in (OWNER_LIST, ONE_BY_ID):
                    if query in options.queries:
                        warm = Cell(system, query, options.connections, 0)
                        requests = requests_for(system, query, servers[system].port, callers)
                        await run_cell(probe, servers[system], warm, requests, WARMUP_SECONDS, 10.0)
            for number in range(1, options.rounds + 1):
                await _refresh(connection, servers[HUB], callers)
                order = systems[number % len(systems) :] + systems[: number % len(systems)]
                for query in options.queries:
                    for system in order:
                        cell = Cell(system, query, options.connections, number)
                        requests = requests_for(system, query, servers[system].port, callers)
                        await run_cell(
                            probe,
                            servers[system],
                            cell,
                            requests,
                            options.duration,
                            options.timeout,
                        )
                        result.cells.append(cell)
                        _print_cell(cell)
            if options.concurrency_check:
                await _refresh(connection, servers[HUB], callers)
                for query in (OWNER_LIST, PARTNER_SEGMENT, PARTNER_ASSIGNED):
                    cell = Cell(HUB, query, 1, 0)
                    requests = requests_for(HUB, query, servers[HUB].port, callers)
                    await run_cell(
                        probe, servers[HUB], cell, requests, options.duration, options.timeout
                    )
                    result.cells.append(cell)
                    _print_cell(cell)
        finally:
            stop_all(list(servers.values()))
        async with plans.tracing(connection):
            result.plans = await _trace(
                owner_url, directory, logs, callers, options, result.systems
            )
    result.seconds = time.perf_counter() - started
    return result


def _start(
    owner_url: str, logs: Path, systems: Sequence[str], node: str | None
) -> dict[str, Server]:
    servers: dict[str, Server] = {}
    try:
        servers[HUB] = start_hub(owner_url, logs)
        servers[RAW] = start_raw(owner_url, logs)
        if POSTGRAPHILE in systems and node:
            servers[POSTGRAPHILE] = start_postgraphile(node, owner_url, logs)
    except BaseException:
        stop_all(list(servers.values()))
        raise
    return servers


async def _refresh(connection: Any, hub: Server, callers: Callers) -> None:
    """Fresh bearer tokens (a run outlives one), and each partner's live grants."""
    data = callers.dataset
    parties = {
        "owner": data.owner,
        PARTNER_SEGMENT: data.distributor,
        PARTNER_ASSIGNED: data.reseller,
    }
    for who, party in parties.items():
        callers.tokens[who] = await asyncio.to_thread(
            hub_token, hub, party.client.client_id, party.client.client_secret
        )
    for query, party in ((PARTNER_SEGMENT, data.distributor), (PARTNER_ASSIGNED, data.reseller)):
        rows = await connection.fetch(
            "SELECT id FROM grants WHERE partner_org_id = $1 AND revoked_at IS NULL ORDER BY id",
            party.org_id,
        )
        callers.grant_ids[query] = [str(row["id"]) for row in rows]


SAMENESS_REPEATS = 10


async def _check_sameness(
    probe: Probe, servers: dict[str, Server], callers: Callers, queries: Sequence[str]
) -> list[Sameness]:
    """Every system's rows for every query against the hub's, one request at a time; and, as
    nothing else runs meanwhile, the statements (round trips) each request cost."""
    found = []
    for query in queries:
        answers: dict[str, tuple[list[Row], float, float, str]] = {}
        for system, server in servers.items():
            asked = requests_for(system, query, server.port, callers)
            if query == ONE_BY_ID:
                asked = asked[:20]
            # A list is asked ten times (its rows compared once), so that the statements per
            # request are an average, as for the twenty ids.
            requests = asked if query == ONE_BY_ID else asked * SAMENESS_REPEATS
            rows: list[Row] = []
            note = ""
            # One request first, uncounted: what a process does once (learning a signing key,
            # preparing a statement, building a kept one) is not what a read costs.
            with contextlib.suppress(OSError, RuntimeError):
                await asyncio.to_thread(send_once, server.port, requests[0], SANITY_TIMEOUT)
            statements = await probe.statements()
            started = time.perf_counter()
            try:
                for index, request in enumerate(requests):
                    answer = await asyncio.to_thread(
                        send_once, server.port, request, SANITY_TIMEOUT
                    )
                    if index < len(asked):
                        rows += rows_of(system, answer)
            except (OSError, RuntimeError, KeyError, ValueError) as error:
                note = f"no answer: {type(error).__name__}: {str(error)[:200]}"
            seconds = (time.perf_counter() - started) / len(requests)
            per_request = (await probe.statements() - statements) / len(requests)
            answers[system] = (rows, seconds, per_request, note)
        reference = answers[HUB][0]
        for system, (rows, seconds, per_request, note) in answers.items():
            same_ids = [row[0] for row in rows] == [row[0] for row in reference]
            found.append(
                Sameness(
                    query,
                    system,
                    len(rows),
                    same_ids and not note,
                    rows == reference and not note,
                    seconds,
                    per_request,
                    note,
                )
            )
    return found


async def _trace(
    owner_url: str,
    directory: Path,
    logs: Path,
    callers: Callers,
    options: Options,
    systems: Sequence[str],
) -> dict[tuple[str, str], plans.Trace]:
    """One traced request per query and system, each after an untraced one of its own kind.

    Statistics reach pg_stat_user_functions when the backend goes idle, at most once a second:
    hence the pauses around each traced request.
    """
    log = directory / "postgres" / "log"
    traced: dict[tuple[str, str], plans.Trace] = {}
    servers = _start(owner_url, logs, [HUB, RAW], None)
    try:
        async with raw_connection(owner_url) as connection:
            await _refresh(connection, servers[HUB], callers)
            await asyncio.sleep(STATISTICS_DELAY)  # issuing tokens calls functions too
            for query in QUERIES:
                for system in options.trace_systems:
                    server = servers[system]
                    request = requests_for(system, query, server.port, callers)[0]
                    await asyncio.to_thread(send_once, server.port, request, SANITY_TIMEOUT)
                    await asyncio.sleep(STATISTICS_DELAY)
                    before = await plans.function_calls(connection)
                    offset = plans.log_size(log)
                    try:
                        await asyncio.to_thread(send_once, server.port, request, SANITY_TIMEOUT)
                    except (OSError, RuntimeError) as error:
                        print(f"trace of {system} {query} failed: {error}", flush=True)
                    await asyncio.sleep(STATISTICS_DELAY)
                    after = await plans.function_calls(connection)
                    calls = {
                        name: count - before.get(name, 0)
                        for name, count in after.items()
                        if count > before.get(name, 0)
                    }
                    trace = plans.Trace(plans.read_statements(log, offset), calls)
                    traced[(system, query)] = trace
                    print(
                        f"traced {system} {query}: {len(trace.statements)} statements, "
                        f"{trace.buffers:,} buffers, calls {calls or 'none'}",
                        flush=True,
                    )
    finally:
        stop_all(list(servers.values()))
    return traced


def _print_sameness(found: list[Sameness]) -> None:
    for entry in found:
        verdict = "same rows" if entry.same_fields else "same ids" if entry.same_ids else "DIFFER"
        print(
            f"sameness {entry.query:<22} {entry.system:<12} {entry.rows:>3} rows {verdict}"
            f" ({entry.seconds * 1000:.1f} ms, {entry.statements:.1f} statements one at a time)"
            f" {entry.note}",
            flush=True,
        )


def _print_cell(cell: Cell) -> None:
    rate = cell.ok / cell.elapsed if cell.elapsed else 0.0
    print(
        f"round {cell.round} {cell.query:<22} {cell.system:<12} c={cell.connections:<2} "
        f"{rate:8.1f} req/s ok={cell.ok} errors={cell.errors} timeouts={cell.timeouts}"
        + (f" cancelled={cell.cancelled}" if cell.cancelled else "")
        + f" settled in {cell.settle_seconds:.1f} s"
        + (f" ({cell.first_error[:120]})" if cell.first_error else ""),
        flush=True,
    )
