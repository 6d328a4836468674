"""EXPLAIN (ANALYZE, BUFFERS) of every statement one request issues, taken by auto_explain.

The dataset's server preloads auto_explain (with pg_stat_statements) and leaves it silent. To
trace, the application role is given `auto_explain.log_min_duration = 0` with ANALYZE and
BUFFERS for its new sessions, freshly started servers send one request per query, and the plans
are read back from the server's log: the statements the request really ran, with the parameters
and settings it really had, not a re-run of captured SQL. Nested statements are not logged: a
function called per row shows in its caller's plan, which is where it costs.

Each plan is checked for what issue 13 forbids on the read path: a sequential scan of a tenant
table (one with `org_id`) and a per-row call of one of the hub's functions (a `hub_*` call in a
scan's or join's filter, or a function scan run more than once).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SETTINGS = {
    "log_min_duration": "0",
    "log_analyze": "on",
    "log_buffers": "on",
    "log_timing": "on",
    "log_nested_statements": "off",
    "log_format": "text",
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
SELECT table_name FROM information_schema.columns
WHERE table_schema = 'public' AND column_name = 'org_id'
"""


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

    def seq_scans(self, tenant_tables: set[str]) -> list[str]:
        return sorted(
            {
                table
                for line in self.plan
                for table in _SEQ_SCAN.findall(line)
                if table in tenant_tables
            }
        )

    def per_row_calls(self) -> list[str]:
        calls = set()
        for line in self.plan:
            if _FILTER.match(line):
                calls.update(_CALL.findall(line))
            scan = _FUNCTION_SCAN.search(line)
            if scan and int(scan.group(2)) > 1:
                calls.add(scan.group(1))
        return sorted(calls)


async def tenant_tables(connection: Any) -> set[str]:
    return {row[0] for row in await connection.fetch(_TENANT_TABLES)}


@asynccontextmanager
async def tracing(connection: Any) -> Any:
    """auto_explain on for the application role's sessions started inside; off after."""
    for name, value in SETTINGS.items():
        await connection.execute(f"ALTER ROLE hub_app SET auto_explain.{name} = '{value}'")
    try:
        yield
    finally:
        await silence(connection)


async def silence(connection: Any) -> None:
    """The role's auto_explain settings removed (also after a run that was stopped)."""
    for name in SETTINGS:
        await connection.execute(f"ALTER ROLE hub_app RESET auto_explain.{name}")


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
