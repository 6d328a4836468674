"""EXPLAIN (ANALYZE, BUFFERS) of every statement one request issues, taken by auto_explain.

The dataset's server preloads auto_explain (with pg_stat_statements) and leaves it silent. To
trace, the application role is given `auto_explain.log_min_duration = 0` with ANALYZE and
BUFFERS for its new sessions, freshly started servers send one request per query, and the plans
are read back from the server's log: the statements the request really ran, with the parameters
and settings it really had, not a re-run of captured SQL. Nested statements are not logged: a
function called per row shows in its caller's plan, which is where it costs.

Each request is checked for what issue 13 forbids on the read path: a sequential scan of a
tenant table (one with `org_id`) and a per-row function call. The first is read from the plans;
tables of fewer than `SMALL_TABLE` rows are told apart, since the planner rightly scans a table
of a few rows whatever its indexes. The second is counted, not guessed: `track_functions = all`
for the traced sessions, and pg_stat_user_functions before and after the request; a function
called more often than the request ran statements runs per row (a `hub_*` call that a filter
names but an OR short-circuits never runs, and is not counted).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMALL_TABLE = 1_000
SETTINGS = {
    "track_functions": "all",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
    "auto_explain.log_nested_statements": "off",
    "auto_explain.log_format": "text",
}

_HEADER = re.compile(r"^\S+ \S+ \S+ \[\d+\] LOG:  duration: ([\d.]+) ms  plan:$")
_ENTRY_START = re.compile(r"^\d{4}-\d\d-\d\d ")
_NODE = re.compile(r"\(cost=[\d.]+\.\.[\d.]+ rows=")
_FILTER = re.compile(r"^\s*(Filter|Join Filter|Recheck Cond|Index Cond|Hash Cond|Merge Cond):")
_CALL = re.compile(r"\b(hub_\w+)\(")
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
_FUNCTION_SCAN = re.compile(r"Function Scan on (hub_\w+).*loops=(\d+)")
_BUFFERS = re.compile(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?")
_TENANT_TABLES = """
SELECT c.table_name, greatest(k.reltuples, 0)::bigint FROM information_schema.columns c
JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
WHERE c.table_schema = 'public' AND c.column_name = 'org_id'
"""
_FUNCTION_CALLS = "SELECT funcname, calls FROM pg_stat_user_functions WHERE schemaname = 'public'"


@dataclass
class Statement:
    duration_ms: float
    text: str
    parameters: str
    plan: list[str]

    @property
    def buffers(self) -> int:
        """Shared buffers hit and read by the whole statement (its top node's count)."""
        for line in self.plan:
            found = _BUFFERS.search(line)
            if found:
                return sum(int(value) for value in found.groups() if value)
        return 0

    def seq_scans(self, tenant_tables: dict[str, int]) -> list[str]:
        """Tenant tables this statement scans sequentially, in order of appearance. A scan the
        plan holds but never ran (`never executed`: a generic plan's alternative for a branch
        of a row-level security condition the rows never reach, say) read nothing."""
        found = [
            table
            for line in self.plan
            if "(never executed)" not in line
            for table in _SEQ_SCAN.findall(line)
        ]
        return list(dict.fromkeys(table for table in found if table in tenant_tables))

    def filter_calls(self) -> list[str]:
        """`hub_*` functions a filter names (called per row unless an OR short-circuits)."""
        calls = set()
        for line in self.plan:
            if _FILTER.match(line):
                calls.update(_CALL.findall(line))
            scan = _FUNCTION_SCAN.search(line)
            if scan and int(scan.group(2)) > 1:
                calls.add(scan.group(1))
        return sorted(calls)


@dataclass
class Trace:
    """One traced request: its statements and how often each function ran."""

    statements: list[Statement]
    function_calls: dict[str, int]

    def per_row_calls(self) -> dict[str, int]:
        return {
            name: calls
            for name, calls in sorted(self.function_calls.items())
            if calls > max(1, len(self.statements))
        }

    def seq_scans(self, tenant_tables: dict[str, int]) -> tuple[list[str], list[str]]:
        """Sequential scans of tenant tables: (of large tables, of small ones)."""
        tables = list(
            dict.fromkeys(
                table
                for statement in self.statements
                for table in statement.seq_scans(tenant_tables)
            )
        )
        large = [table for table in tables if tenant_tables[table] >= SMALL_TABLE]
        return large, [table for table in tables if table not in large]

    @property
    def buffers(self) -> int:
        return sum(statement.buffers for statement in self.statements)

    @property
    def milliseconds(self) -> float:
        return sum(statement.duration_ms for statement in self.statements)


async def tenant_tables(connection: Any) -> dict[str, int]:
    """Tables with `org_id`, and their rows as the planner knows them."""
    return {row[0]: int(row[1]) for row in await connection.fetch(_TENANT_TABLES)}


async def function_calls(connection: Any) -> dict[str, int]:
    return {row[0]: int(row[1]) for row in await connection.fetch(_FUNCTION_CALLS)}


@asynccontextmanager
async def tracing(connection: Any) -> AsyncIterator[None]:
    """auto_explain and function counts on for the application role's new sessions inside."""
    for name, value in SETTINGS.items():
        await connection.execute(f"ALTER ROLE hub_app SET {name} = '{value}'")
    try:
        yield
    finally:
        await silence(connection)


async def silence(connection: Any) -> None:
    """The role's tracing settings removed (also after a run that was stopped)."""
    for name in SETTINGS:
        await connection.execute(f"ALTER ROLE hub_app RESET {name}")


def log_size(log: Path) -> int:
    return log.stat().st_size


def read_statements(log: Path, offset: int) -> list[Statement]:
    """The plans auto_explain logged after `offset`, in order."""
    with log.open("rb") as file:
        file.seek(offset)
        text = file.read().decode("utf-8", "replace")
    return list(_parse(text.splitlines()))


def _parse(lines: list[str]) -> Iterator[Statement]:
    index = 0
    while index < len(lines):
        header = _HEADER.match(lines[index])
        index += 1
        if not header:
            continue
        body = []
        while index < len(lines) and not _ENTRY_START.match(lines[index]):
            body.append(lines[index].removeprefix("\t"))
            index += 1
        yield _statement(float(header.group(1)), body)


def _statement(duration: float, body: list[str]) -> Statement:
    query: list[str] = []
    parameters = ""
    plan: list[str] = []
    for line in body:
        if plan or _NODE.search(line):
            plan.append(line)
        elif line.startswith("Query Parameters:"):
            parameters = line.removeprefix("Query Parameters:").strip()
        elif line.startswith("Query Text:"):
            query.append(line.removeprefix("Query Text:").strip())
        else:
            query.append(line)
    return Statement(duration, "\n".join(query).strip(), parameters, plan)
