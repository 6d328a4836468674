"""`bench/results/read_path.md`: the figures, the ratios, the targets of issue 13, the plans."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.harness import commit, cpu
from bench.read_path.measure import Cell, percentile
from bench.read_path.plans import SMALL_TABLE, Trace
from bench.read_path.run import Measured
from bench.read_path.systems import (
    HUB,
    ONE_BY_ID,
    OWNER_LIST,
    PARTNER_ASSIGNED,
    PARTNER_SEGMENT,
    POSTGRAPHILE,
    QUERIES,
    RAW,
)

COMMAND = "python -m bench.read_path"


@dataclass
class Summary:
    """The cells of one system, query and connection count, over all rounds."""

    cells: list[Cell]
    timeout: float

    @property
    def ok(self) -> int:
        return sum(cell.ok for cell in self.cells)

    @property
    def errors(self) -> int:
        return sum(cell.errors for cell in self.cells)

    @property
    def timeouts(self) -> int:
        return sum(cell.timeouts for cell in self.cells)

    @property
    def answered(self) -> int:
        return self.ok + self.errors

    @property
    def rate(self) -> float:
        elapsed = sum(cell.elapsed for cell in self.cells)
        return self.ok / elapsed if elapsed else 0.0

    @property
    def round_rates(self) -> list[float]:
        return [cell.ok / cell.elapsed for cell in self.cells if cell.elapsed]

    def latency(self, share: float) -> float:
        """A percentile counting timeouts as infinitely slow: a queue must not look fast."""
        values = [value for cell in self.cells for value in cell.latencies_ms]
        values += [math.inf] * self.timeouts
        return percentile(values, share)

    def per_request(self, total: float) -> float:
        return total * 1000 / self.answered if self.answered else math.nan

    @property
    def app_ms(self) -> float:
        return self.per_request(sum(cell.app_cpu for cell in self.cells))

    @property
    def pg_ms(self) -> float:
        return self.per_request(sum(cell.pg_cpu for cell in self.cells))

    @property
    def generator_ms(self) -> float:
        return self.per_request(sum(cell.generator_cpu for cell in self.cells))

    @property
    def generator_share(self) -> float:
        elapsed = sum(cell.elapsed for cell in self.cells)
        return sum(cell.generator_cpu for cell in self.cells) / elapsed if elapsed else 0.0

    @property
    def statements(self) -> float:
        if not self.answered:
            return math.nan
        return sum(cell.statements for cell in self.cells) / self.answered

    @property
    def lock_waiters_max(self) -> int:
        return max((cell.lock_waiters_max for cell in self.cells), default=0)

    @property
    def lock_waiters_mean(self) -> float:
        return statistics.fmean(cell.lock_waiters_mean for cell in self.cells)

    @property
    def lock_kinds(self) -> str:
        kinds: Counter[str] = Counter()
        for cell in self.cells:
            kinds.update(cell.lock_kinds)
        return ", ".join(kind for kind, _ in kinds.most_common(3))

    @property
    def cancelled(self) -> int:
        return sum(cell.cancelled for cell in self.cells)


@dataclass
class Report:
    main: Measured
    scale: dict[str, Measured]
    rounds: int
    duration: float
    connections: int
    timeout: float
    postgraphile: str
    load_before: str
    load_after: str
    python_note: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def summary(self, measured: Measured, system: str, query: str, connections: int) -> Summary:
        cells = [
            cell
            for cell in measured.cells
            if cell.system == system and cell.query == query and cell.connections == connections
        ]
        return Summary(cells, self.timeout)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "timeout"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _with_unit(value: float) -> str:
    if math.isinf(value):
        return "over the timeout"
    return f"{_ms(value)} ms"


def _rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _ratio(numerator: float, denominator: float) -> str:
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return "—"
    if math.isinf(numerator) or math.isinf(denominator):
        return "—"
    return f"{numerator / denominator:.3f}x"


def render(report: Report) -> str:
    main = report.main
    data = main.dataset
    lines = [
        "# Read path side by side: the hub, a raw asyncpg endpoint, PostGraphile 5",
        "",
        f"`{COMMAND} --size {data.size}"
        + (" --scale-check" if report.scale else "")
        + f"` — {report.rounds} interleaved rounds; in each, every query is asked of every "
        f"system for {report.duration:g} s by {report.connections} keep-alive connections "
        f"(a request unanswered after {report.timeout:g} s counts as a timeout). Each server "
        "runs in a process of its own; the load generator too (raw asyncio streams). "
        "App CPU is the server process's CPU time over the cell, PostgreSQL CPU that of all "
        "its processes, both per answered request; statements per request are "
        "pg_stat_statements calls of the application role (BEGIN, COMMIT and SET included), "
        "i.e. round trips; the hub's background sealer, one `hub_audit_seal` statement per "
        "round on its own schedule and a VACUUM of the waiting disclosures after a round that "
        "sealed any, and what asyncpg runs once on a new connection (its type "
        "introspection and the `jit` setting around it) are not counted as a request's.",
        "",
        "## Machine and dataset",
        "",
        f"- commit {commit()}, {report.started:%Y-%m-%d %H:%M} UTC",
        f"- {cpu()} ({os.cpu_count()} cores), {platform.platform()}",
        f"- load average before {report.load_before}, after {report.load_after}",
        f"- {main.version} (embedded, pg_stat_statements and auto_explain preloaded)",
        f"- {report.python_note}; PostGraphile: {report.postgraphile}",
        f"- dataset {data.size}: {data.describe()}; seeded {data.seeded_at} in "
        f"{data.seconds:.0f} s (reused when present)",
        f"- measured in {main.seconds / 60:.1f} min",
        "",
        "## Figures",
        "",
        "| query | system | req/s (per round) | p50 ms | p95 ms | p99 ms | app CPU ms/req "
        "| PostgreSQL CPU ms/req | statements (round trips)/req | ok / errors / timeouts |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for query in QUERIES:
        for system in main.systems:
            summary = report.summary(main, system, query, report.connections)
            if not summary.cells:
                continue
            rounds = ", ".join(_rate(value) for value in summary.round_rates)
            lines.append(
                f"| {query} | {system} | {_rate(summary.rate)} ({rounds}) "
                f"| {_ms(summary.latency(0.5))} | {_ms(summary.latency(0.95))} "
                f"| {_ms(summary.latency(0.99))} | {_ms(summary.app_ms)} | {_ms(summary.pg_ms)} "
                f"| {_ms(summary.statements)} | {summary.ok} / {summary.errors} / "
                f"{summary.timeouts}"
                + (f" ({summary.cancelled} cancelled)" if summary.cancelled else "")
                + " |"
            )
    lines += ["", *_errors(report), "## Ratios", ""]
    lines += [
        "| query | hub/raw req/s | hub/PostGraphile req/s | hub/raw app CPU per request "
        "| hub/raw p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for query in QUERIES:
        hub = report.summary(main, HUB, query, report.connections)
        raw = report.summary(main, RAW, query, report.connections)
        peer = report.summary(main, POSTGRAPHILE, query, report.connections)
        if not hub.cells:
            continue
        lines.append(
            f"| {query} | {_ratio(hub.rate, raw.rate)} "
            f"| {_ratio(hub.rate, peer.rate) if peer.cells else '—'} "
            f"| {_ratio(hub.app_ms, raw.app_ms)} | {_ratio(hub.latency(0.95), raw.latency(0.95))} |"
        )
    lines += ["", *_generator(report), *_targets(report), *_concurrency(report)]
    lines += [*_sameness(report), *_scale(report), *_plans(report)]
    return "\n".join(lines) + "\n"


def _errors(report: Report) -> list[str]:
    lines = []
    for cell in report.main.cells:
        if cell.first_error:
            lines.append(
                f"- round {cell.round}, {cell.query}, {cell.system}: {cell.errors} errors, "
                f"first: `{cell.first_error[:200]}`"
            )
    if not lines:
        return []
    return ["Errors seen:", "", *dict.fromkeys(lines), ""]


def _generator(report: Report) -> list[str]:
    shares = []
    for system in report.main.systems:
        for query in QUERIES:
            summary = report.summary(report.main, system, query, report.connections)
            if summary.cells and summary.answered:
                shares.append((summary.generator_share, summary.generator_ms, system, query))
    if not shares:
        return []
    busiest = max(shares)
    return [
        "The load generator's own CPU: at most "
        f"{busiest[0]:.0%} of one core ({_ms(busiest[1])} ms per request, {busiest[2]}, "
        f"{busiest[3]}); the servers and PostgreSQL share the rest of the two cores.",
        "",
    ]


def _verdict(met: bool | None) -> str:
    return "—" if met is None else "met" if met else "**not met**"


def _targets(report: Report) -> list[str]:
    main, connections = report.main, report.connections
    hub_list = report.summary(main, HUB, OWNER_LIST, connections)
    raw_list = report.summary(main, RAW, OWNER_LIST, connections)
    hub_one = report.summary(main, HUB, ONE_BY_ID, connections)
    raw_one = report.summary(main, RAW, ONE_BY_ID, connections)
    segment = report.summary(main, HUB, PARTNER_SEGMENT, connections)
    assigned = report.summary(main, HUB, PARTNER_ASSIGNED, connections)
    rows: list[tuple[str, str, bool | None]] = []

    def ratio(numerator: float, denominator: float) -> float:
        if not denominator or math.isnan(numerator) or math.isnan(denominator):
            return math.nan
        return numerator / denominator

    owner_ratio = ratio(hub_list.rate, raw_list.rate)
    rows.append(
        ("owner list: hub ≥ 0.5x raw throughput", f"{owner_ratio:.3f}x", owner_ratio >= 0.5)
    )
    rows.append(
        (
            "owner list: ≤ 3 ms app CPU per request",
            f"{_ms(hub_list.app_ms)} ms",
            hub_list.app_ms <= 3,
        )
    )
    one_ratio = ratio(hub_one.rate, raw_one.rate)
    rows.append(("one by id: hub ≥ 0.5x raw throughput", f"{one_ratio:.3f}x", one_ratio >= 0.5))
    segment_p95, owner_p95 = segment.latency(0.95), hub_list.latency(0.95)
    rows.append(
        (
            f"partner SEGMENT list p95 ≤ 2x owner list p95 ({connections} connections)",
            f"{_with_unit(segment_p95)} vs {_with_unit(owner_p95)}",
            segment_p95 <= 2 * owner_p95,
        )
    )
    assigned_p95 = assigned.latency(0.95)
    rows.append(
        (
            "partner ASSIGNED list p95 within 1.5x of the SEGMENT partner's",
            f"{_with_unit(assigned_p95)} vs {_with_unit(segment_p95)}",
            None if math.isinf(segment_p95) else assigned_p95 <= 1.5 * segment_p95,
        )
    )
    queueing = _queueing(report)
    rows.append(
        (
            f"{connections} concurrent partner readers of one owner do not queue behind a lock",
            queueing[0],
            queueing[1],
        )
    )
    trips = {
        entry.query: entry.statements
        for entry in main.sameness
        if entry.system == HUB and not entry.note
    }
    worst = max((value for value in trips.values() if not math.isnan(value)), default=math.nan)
    rows.append(
        (
            "a read costs ≤ 4 round trips (statements per request, one at a time)",
            ", ".join(f"{query} {_ms(value)}" for query, value in trips.items()),
            None if math.isnan(worst) else worst <= 4,
        )
    )
    rows.append(
        (
            "a token revoked in another process is refused on the next request",
            "not measured here: the cross-process revocation test in tests/ keeps it",
            None,
        )
    )
    rows += _scale_targets(report)
    flagged, noted = _flags(report)
    small = (
        f" (seq scans of tables under {SMALL_TABLE:,} rows, the planner's right choice there, "
        f"not counted: {', '.join(noted)})"
        if noted
        else ""
    )
    rows.append(
        (
            "no sequential scan of a tenant table, no per-row function call (hub's plans, "
            f"sizes {', '.join(_sizes(report))})",
            ("; ".join(flagged) if flagged else "none found") + small,
            not flagged,
        )
    )
    lines = ["## Targets of issue 13", "", "| target | measured | |", "| --- | --- | --- |"]
    lines += [f"| {target} | {measured} | {_verdict(met)} |" for target, measured, met in rows]
    peer_list = report.summary(main, POSTGRAPHILE, OWNER_LIST, connections)
    peer_one = report.summary(main, POSTGRAPHILE, ONE_BY_ID, connections)
    if peer_list.cells:
        lines += [
            "",
            "Long-term goal, ≥ 1.0x PostGraphile: owner list "
            f"{_ratio(hub_list.rate, peer_list.rate)}, one by id "
            f"{_ratio(hub_one.rate, peer_one.rate)}.",
        ]
    return [*lines, ""]


def _queueing(report: Report) -> tuple[str, bool | None]:
    main, connections = report.main, report.connections
    parts, verdicts = [], []
    for query in (PARTNER_SEGMENT, PARTNER_ASSIGNED):
        many = report.summary(main, HUB, query, connections)
        one = report.summary(main, HUB, query, 1)
        if not many.cells or not one.cells:
            continue
        parts.append(
            f"{query}: {_rate(one.rate)} req/s at 1 connection, {_rate(many.rate)} at "
            f"{connections}; backends waiting on a lock at most {many.lock_waiters_max} "
            f"(mean {many.lock_waiters_mean:.1f}"
            + (f", on {many.lock_kinds}" if many.lock_kinds else "")
            + ")"
        )
        verdicts.append(many.lock_waiters_max <= 1 and many.rate >= 0.9 * one.rate > 0)
    if not verdicts:
        return "not measured", None
    return "; ".join(parts), all(verdicts)


def _sizes(report: Report) -> list[str]:
    return [report.main.dataset.size, *report.scale]


def _flags(report: Report) -> tuple[list[str], list[str]]:
    """What the hub's traced requests break (large seq scans, per-row calls), and what they
    do that is only noted (seq scans of small tables)."""
    flagged, noted = [], []
    for measured in [report.main, *report.scale.values()]:
        size = measured.dataset.size
        for (system, query), trace in measured.plans.items():
            if system != HUB:
                continue
            large, small = trace.seq_scans(measured.tenant_tables)
            flagged += [f"{size} {query}: Seq Scan on {table}" for table in large]
            noted += small
            flagged += [
                f"{size} {query}: {name} called {calls:,} times"
                for name, calls in trace.per_row_calls().items()
            ]
    return list(dict.fromkeys(flagged)), list(dict.fromkeys(noted))


def _scale_targets(report: Report) -> list[tuple[str, str, bool | None]]:
    sizes = _by_size(report)
    small, large = sizes.get("10k"), sizes.get("1m")
    if small is None or large is None:
        return [
            (
                "owner list p95 at 1M within 20 % of 10k",
                f"not run (`{COMMAND} --scale-check`)",
                None,
            ),
            (
                "partner buffers do not grow with the segment",
                f"not run (`{COMMAND} --scale-check`)",
                None,
            ),
        ]
    connections = report.connections
    small_p95 = report.summary(small, HUB, OWNER_LIST, connections).latency(0.95)
    large_p95 = report.summary(large, HUB, OWNER_LIST, connections).latency(0.95)
    buffers = {size: _buffers(measured, PARTNER_SEGMENT) for size, measured in sizes.items()}
    smallest, largest = buffers["10k"], buffers["1m"]
    return [
        (
            "owner list p95 at 1M within 20 % of 10k",
            f"{_with_unit(large_p95)} vs {_with_unit(small_p95)} ({_ratio(large_p95, small_p95)})",
            large_p95 <= 1.2 * small_p95,
        ),
        (
            "partner buffers do not grow with the segment (hub's SEGMENT list, all statements)",
            ", ".join(f"{size} {value:,}" for size, value in buffers.items()),
            largest <= 1.5 * max(smallest, 1),
        ),
    ]


def _by_size(report: Report) -> dict[str, Measured]:
    order = {"10k": 0, "300k": 1, "1m": 2}
    found = {report.main.dataset.size: report.main, **report.scale}
    return dict(sorted(found.items(), key=lambda item: order[item[0]]))


def _buffers(measured: Measured, query: str) -> int:
    trace = measured.plans.get((HUB, query))
    return trace.buffers if trace else 0


def _concurrency(report: Report) -> list[str]:
    main, connections = report.main, report.connections
    lines = [
        "## Concurrency check",
        "",
        f"The hub at 1 connection and at {connections}, same run. On two cores a CPU-bound "
        f"request's p95 grows about {connections // 2}x from 1 to {connections} connections; "
        "a queue behind one lock shows as throughput that does not grow and as backends "
        "waiting on a lock (pg_stat_activity, sampled every 0.25 s).",
        "",
        "| query | connections | req/s | p50 ms | p95 ms | lock waiters max / mean | waited on |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for query in (OWNER_LIST, PARTNER_SEGMENT, PARTNER_ASSIGNED):
        for count in (1, connections):
            summary = report.summary(main, HUB, query, count)
            if not summary.cells:
                continue
            lines.append(
                f"| {query} | {count} | {_rate(summary.rate)} | {_ms(summary.latency(0.5))} "
                f"| {_ms(summary.latency(0.95))} | {summary.lock_waiters_max} / "
                f"{summary.lock_waiters_mean:.1f} | {summary.lock_kinds or '—'} |"
            )
    return [*lines, "", *_doing(report)]


def _doing(report: Report) -> list[str]:
    """Per round of the hub's cells at full concurrency, what PostgreSQL's busy processes
    were doing: where a slow round's time went."""
    lines = [
        f"What PostgreSQL's busy processes were doing in the hub's cells at {report.connections} "
        "connections, per round: processes per sample, the most frequent first (a request's "
        "backend on CPU or waiting, and the checkpointer, autovacuum or WAL writer when not "
        "idle).",
        "",
        "| query | round | req/s | processes per sample |",
        "| --- | ---: | ---: | --- |",
    ]
    for query in QUERIES:
        summary = report.summary(report.main, HUB, query, report.connections)
        for cell, rate in zip(summary.cells, summary.round_rates, strict=False):
            if not cell.samples:
                continue
            busiest = Counter(cell.doing).most_common(5)
            doing = ", ".join(f"{what} {count / cell.samples:.1f}" for what, count in busiest)
            lines.append(f"| {query} | {cell.round} | {_rate(rate)} | {doing or '—'} |")
    return [*lines, ""]


def _sameness(report: Report) -> list[str]:
    lines = [
        "## Sameness check (before timing)",
        "",
        "Each system asked each list ten times and one by id for 20 ids, one request at a "
        "time, after one uncounted request; its rows (a list's once) compared with the hub's, "
        "in order. Nothing else runs "
        "meanwhile but the hub's background sealer (not counted), so the statements "
        "(pg_stat_statements calls of `hub_app`, BEGIN and COMMIT included) per request are its "
        "round trips exactly.",
        "",
        "| query | system | rows | same ids | same fields | ms per request | statements per "
        "request |",
        "| --- | --- | ---: | --- | --- | ---: | ---: |",
    ]
    for entry in report.main.sameness:
        lines.append(
            f"| {entry.query} | {entry.system} | {entry.rows} "
            f"| {'yes' if entry.same_ids else 'NO'} | {'yes' if entry.same_fields else 'no'} "
            f"| {_ms(entry.seconds * 1000)} | {entry.statements:.1f}"
            + (f" ({entry.note})" if entry.note else "")
            + " |"
        )
    return [*lines, ""]


def _scale(report: Report) -> list[str]:
    if not report.scale:
        return []
    lines = [
        "## Scale check: the owner list at every size",
        "",
        "| size | system | req/s | p50 ms | p95 ms | p99 ms | app CPU ms/req | statements/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, measured in _by_size(report).items():
        for system in (HUB, RAW):
            summary = report.summary(measured, system, OWNER_LIST, report.connections)
            if not summary.cells:
                continue
            lines.append(
                f"| {size} | {system} | {_rate(summary.rate)} | {_ms(summary.latency(0.5))} "
                f"| {_ms(summary.latency(0.95))} | {_ms(summary.latency(0.99))} "
                f"| {_ms(summary.app_ms)} | {_ms(summary.statements)} |"
            )
    return [*lines, ""]


def _plans(report: Report) -> list[str]:
    lines = [
        "## Plans",
        "",
        "Every statement one request issued, as auto_explain logged it (ANALYZE, BUFFERS) from "
        "the application role's session, with the parameters and settings the request had "
        "(BEGIN, COMMIT and other utility statements have no plan). Function calls counted by "
        "pg_stat_user_functions over the same request (`track_functions = all`; inlined SQL "
        "functions are not calls). Flags: a sequential scan of a tenant table of "
        f"{SMALL_TABLE:,} rows or more that ran (a plan node marked `never executed` read "
        "nothing); a function called more often than the request ran statements (per row).",
        "",
    ]
    for size, measured in _by_size(report).items():
        lines += [
            f"### {size}",
            "",
            "| query | system | statements | ms in PostgreSQL | buffers | function calls | flags |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
        for (system, query), trace in measured.plans.items():
            calls = ", ".join(f"{name} {count:,}" for name, count in trace.function_calls.items())
            lines.append(
                f"| {query} | {system} | {len(trace.statements)} | {trace.milliseconds:.2f} "
                f"| {trace.buffers:,} | {calls or '—'} "
                f"| {_trace_flags(trace, measured.tenant_tables)} |"
            )
        lines.append("")
        for (system, query), trace in measured.plans.items():
            lines += _plan_details(size, system, query, trace, measured.tenant_tables)
    return lines


def _trace_flags(trace: Trace, tenant_tables: dict[str, int]) -> str:
    large, small = trace.seq_scans(tenant_tables)
    flags = [f"Seq Scan on {table} ({tenant_tables[table]:,} rows)" for table in large]
    flags += [f"per-row {name} ({calls:,} calls)" for name, calls in trace.per_row_calls().items()]
    if small:
        flags.append(f"(small: Seq Scan on {', '.join(small)})")
    return ", ".join(flags) or "—"


def _plan_details(
    size: str, system: str, query: str, trace: Trace, tenant_tables: dict[str, int]
) -> list[str]:
    lines = [
        f"<details><summary>{size}, {system}, {query}: {len(trace.statements)} statements, "
        f"{_trace_flags(trace, tenant_tables)}</summary>",
        "",
    ]
    for number, statement in enumerate(trace.statements, 1):
        parameters = statement.parameters
        if len(parameters) > 400:
            parameters = parameters[:400] + " …"
        lines += [
            f"Statement {number} ({statement.duration_ms:.3f} ms, {statement.buffers:,} buffers)",
            "",
            "```sql",
            statement.text,
            *([f"-- parameters: {parameters}"] if parameters else []),
            "```",
            "",
            "```",
            *statement.plan,
            "```",
            "",
        ]
    return [*lines, "</details>", ""]
