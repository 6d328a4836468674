"""The embedded server stops with its last user, even after an earlier user was killed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.embedded import EmbeddedPostgres


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hub-embedded-"))
    path.chmod(0o755)  # the server may run as its own system user
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _dead_pid() -> int:
    """The pid of a process that has certainly exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_user_does_not_keep_the_server_alive(data_dir: Path) -> None:
    EmbeddedPostgres(data_dir).stop()
    pgdata = data_dir / "postgres"
    assert not (pgdata / "postmaster.pid").exists()
    # What a `hub serve` killed with SIGKILL leaves behind: its pid, still on the list.
    (pgdata / ".handle_pids.json").write_text(json.dumps([_dead_pid()]))

    server = EmbeddedPostgres(data_dir)
    assert (pgdata / "postmaster.pid").exists()
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == [os.getpid()]
    server.stop()

    assert not (pgdata / "postmaster.pid").exists()
