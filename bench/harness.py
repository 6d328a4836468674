"""What every benchmark does around its measurement: a fresh database, the machine, the report.

Each benchmark starts its own embedded PostgreSQL in a temporary directory, migrates it, runs
its measurement against it and writes the report it renders, so no figure depends on what a
developer's database happens to hold.
"""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hub.db import create_engine
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade

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
