"""`hub` as a person runs it: the installed console script, an embedded PostgreSQL, real HTTP.

Every command runs as a subprocess without DATABASE_URL, so the embedded server under
`<data dir>/postgres` is the one in use, exactly as in the README's quick start. Each
wait polls with a deadline: a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import hub
from hub.cli import build_parser
from hub.opportunities.models import OpportunityStage
from tests.tokens import key_id

HUB = Path(sys.executable).parent / "hub"
COMMAND_TIMEOUT = 120.0
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
HTTP_TIMEOUT = 10.0

DEMO_ORGANISATIONS = {
    "Northwind Software",
    "Contoso Hardware",
    "Fabrikam Distribution",
    "Litware Resellers",
    "Adventure Works Supply",
}
CREDENTIALS_FILE = "demo-credentials.json"

READY_LINE = re.compile(r"GraphQL at (http://127\.0\.0\.1:(\d+))/graphql$", re.MULTILINE)
# `organisation  client_id  client_secret`; scope lines are indented, the header has no `hub_`.
TABLE_ROW = re.compile(r"^(\S.*?)\s+(hub_[\w-]+)\s+([\w-]+)$", re.MULTILINE)
TOKEN_COMMAND = re.compile(
    r"^TOKEN=\$\(curl -s -u '([^':]+):([^']+)' -d grant_type=client_credentials "
    r"(\S+)/oauth/token ",
    re.MULTILINE,
)
QUERY_COMMAND = re.compile(
    r"^curl -s (\S+)/graphql -H \"Authorization: Bearer \$TOKEN\" .*-d '(\{.*\})'$",
    re.MULTILINE,
)
COUNT_QUERY = """
query Count($after: String) {
  %s(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
}
"""


def hub_environment() -> dict[str, str]:
    """The caller's environment minus anything that would point the hub elsewhere."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("HUB_")
    }
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def run_hub(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUB), *arguments],
        env=hub_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def new_workspace() -> Path:
    """A private temp dir the embedded server's system user can traverse when we are root."""
    workspace = Path(tempfile.mkdtemp(prefix="hub-cli-"))
    workspace.chmod(0o755)
    return workspace


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pgdata(data_dir: Path) -> Path:
    return data_dir.resolve() / "postgres"


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = pgdata(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return None
    return int(pid_file.read_text().splitlines()[0])


def is_alive(pid: int) -> bool:
    """True for a running process; a zombie waiting to be reaped has stopped."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def processes_mentioning(path: Path) -> list[int]:
    """Live processes whose command line names `path` (a postmaster names its -D)."""
    needle = str(path).encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in command_line and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def stop_leftover_postgres(data_dir: Path) -> None:
    """Teardown after a failure only: stop a postmaster the hub left behind, by its pid."""
    pid = postmaster_pid(data_dir)
    if pid is None or not is_alive(pid):
        return
    os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    deadline = time.monotonic() + STOP_TIMEOUT
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


def demo_table(output: str) -> list[tuple[str, str, str]]:
    """(organisation, client_id, client_secret) rows of the printed credentials table."""
    rows: list[tuple[str, str, str]] = TABLE_ROW.findall(output)
    return rows


def saved_clients(data_dir: Path) -> list[dict[str, Any]]:
    document = json.loads((data_dir / CREDENTIALS_FILE).read_text())
    clients = document["clients"]
    assert isinstance(clients, list)
    return clients


def as_table(clients: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (str(client["organisation"]), str(client["client_id"]), str(client["client_secret"]))
        for client in clients
    ]


def fetch_token(http: httpx.Client, base_url: str, client_id: str, secret: str) -> str:
    response = http.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    token: str = body["access_token"]
    return token


def client_token(http: httpx.Client, base_url: str, client: dict[str, Any]) -> str:
    """A token for one entry of the saved credentials file."""
    return fetch_token(http, base_url, str(client["client_id"]), str(client["client_secret"]))


def graphql(
    http: httpx.Client,
    base_url: str,
    token: str,
    query: str,
    variables: dict[str, object] | None = None,
) -> dict[str, Any]:
    response = http.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data = body["data"]
    assert isinstance(data, dict)
    return data


def count_rows(http: httpx.Client, base_url: str, token: str, field: str) -> int:
    """Every row the token's organisation sees in `field`, page by page."""
    count, after = 0, None
    while True:
        page = graphql(http, base_url, token, COUNT_QUERY % field, {"after": after})[field]
        assert isinstance(page, dict)
        count += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return count
        after = page["pageInfo"]["endCursor"]


@dataclass(frozen=True)
class StopOutcome:
    """What was left once the hub exited, observed right then (later starts reuse the dir)."""

    exit_code: int
    postmaster_pid_file_left: bool
    postmaster_alive: bool
    processes_left: list[int]


@dataclass(frozen=True)
class OwnerCounts:
    customers: int
    opportunities: int
    cases: int


class RunningHub:
    """`hub serve --demo` in the background, its output in files so no pipe can fill up."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._stdout = data_dir.parent / f"{name}.stdout"
        self._stderr = data_dir.parent / f"{name}.stderr"
        self._stop_outcome: StopOutcome | None = None
        self.postmaster_pid: int | None = None
        self.processes_while_running: list[int] = []
        with self._stdout.open("w") as stdout, self._stderr.open("w") as stderr:
            self.process = subprocess.Popen(
                [
                    str(HUB),
                    "serve",
                    "--demo",
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    str(self.port),
                ],
                env=hub_environment(),
                stdout=stdout,
                stderr=stderr,
            )

    @property
    def stdout(self) -> str:
        return self._stdout.read_text()

    @property
    def stderr(self) -> str:
        return self._stderr.read_text()

    def wait_until_ready(self) -> None:
        """Poll until the ready line is printed and /healthz answers, or fail with the logs."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"hub serve exited with {self.process.returncode}\n"
                    f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
                )
            if READY_LINE.search(self.stdout) and self._healthy():
                self.postmaster_pid = postmaster_pid(self.data_dir)
                self.processes_while_running = processes_mentioning(pgdata(self.data_dir))
                return
            time.sleep(POLL_INTERVAL)
        pytest.fail(f"hub serve not ready in {START_TIMEOUT}s\n{self.stdout}\n{self.stderr}")

    def _healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.base_url}/healthz", timeout=2.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.json() == {"status": "ok"}

    def stop(self) -> StopOutcome:
        """SIGTERM, as a process manager would send; idempotent, so fixtures may call it too."""
        if self._stop_outcome is not None:
            return self._stop_outcome
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            exit_code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
            exit_code = -signal.SIGKILL
        self._stop_outcome = StopOutcome(
            exit_code=exit_code,
            postmaster_pid_file_left=(pgdata(self.data_dir) / "postmaster.pid").exists(),
            postmaster_alive=self.postmaster_pid is not None and is_alive(self.postmaster_pid),
            processes_left=processes_mentioning(pgdata(self.data_dir)),
        )
        stop_leftover_postgres(self.data_dir)
        return self._stop_outcome


def count_owner_rows(base_url: str, owner: dict[str, Any]) -> OwnerCounts:
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        token = client_token(http, base_url, owner)
        return OwnerCounts(
            customers=count_rows(http, base_url, token, "customers"),
            opportunities=count_rows(http, base_url, token, "opportunities"),
            cases=count_rows(http, base_url, token, "cases"),
        )


@dataclass(frozen=True)
class FirstServe:
    hub: RunningHub
    credentials_text: str
    owner_counts: OwnerCounts


@pytest.fixture(scope="module")
def served_data_dir() -> Iterator[Path]:
    workspace = new_workspace()
    data_dir = workspace / "data"
    try:
        yield data_dir
    finally:
        stop_leftover_postgres(data_dir)
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def first_serve(served_data_dir: Path) -> Iterator[FirstServe]:
    """The first `hub serve --demo` on an empty dir, with what later runs must find again."""
    running = RunningHub(served_data_dir, "first-serve")
    try:
        running.wait_until_ready()
        credentials_text = (served_data_dir / CREDENTIALS_FILE).read_text()
        owner = saved_clients(served_data_dir)[0]
        counts = count_owner_rows(running.base_url, owner)
        yield FirstServe(running, credentials_text, counts)
    finally:
        running.stop()


@pytest.fixture(scope="module")
def restarted_serve(first_serve: FirstServe, served_data_dir: Path) -> Iterator[RunningHub]:
    """`hub serve --demo` again on the same dir, after the first one was stopped."""
    assert first_serve.hub.stop().exit_code == 0
    running = RunningHub(served_data_dir, "restarted-serve")
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class MigratedDir:
    data_dir: Path
    first_migrate: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def migrated_dir() -> Iterator[MigratedDir]:
    workspace = new_workspace()
    data_dir = workspace / "data"
    try:
        yield MigratedDir(data_dir, run_hub("migrate", "--data-dir", str(data_dir)))
    finally:
        stop_leftover_postgres(data_dir)
        shutil.rmtree(workspace, ignore_errors=True)


@dataclass(frozen=True)
class SeededDir:
    data_dir: Path
    first_demo: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def seeded_dir(migrated_dir: MigratedDir) -> SeededDir:
    assert migrated_dir.first_migrate.returncode == 0, migrated_dir.first_migrate.stderr
    data_dir = migrated_dir.data_dir
    return SeededDir(data_dir, run_hub("demo", "--data-dir", str(data_dir)))


def assert_no_server_left(data_dir: Path) -> None:
    assert not (pgdata(data_dir) / "postmaster.pid").exists()
    assert processes_mentioning(pgdata(data_dir)) == []


def assert_private_credentials(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / CREDENTIALS_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clients = saved_clients(data_dir)
    assert len(clients) == len(DEMO_ORGANISATIONS)
    assert {client["organisation"] for client in clients} == DEMO_ORGANISATIONS
    assert len({client["client_id"] for client in clients}) == len(clients)
    return clients


def _silent(parser: argparse.ArgumentParser, name: str) -> Iterator[str]:
    """The commands and options under `parser` that have no help text."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                if not listed.help:
                    yield f"{name} {listed.dest}"
            for sub_name, sub in action.choices.items():
                yield from _silent(sub, f"{name} {sub_name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            yield f"{name} {'/'.join(action.option_strings) or action.dest}"


def test_every_command_and_option_says_what_it_does() -> None:
    assert list(_silent(build_parser(), "hub")) == []


def test_a_maintenance_command_prints_its_answer_alone() -> None:
    """Made, started and migrated on the way (a fresh data directory, no XDG_RUNTIME_DIR), the
    database says nothing: no warning, no migration log; only the command's answer."""
    workspace = new_workspace()
    environment = {
        name: value for name, value in hub_environment().items() if name != "XDG_RUNTIME_DIR"
    }
    try:
        result = subprocess.run(
            [str(HUB), "audit", "verify", "--data-dir", str(workspace / "data")],
            env=environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "0 chains intact\n"
        assert result.stderr == ""
        assert_no_server_left(workspace / "data")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def test_version_prints_package_version() -> None:
    result = run_hub("--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"hub {hub.__version__}"


def test_migrate_applies_migrations_and_is_idempotent(migrated_dir: MigratedDir) -> None:
    first = migrated_dir.first_migrate
    assert first.returncode == 0, first.stderr
    assert "migrations applied" in first.stdout
    assert "Running upgrade" in first.stderr
    assert (pgdata(migrated_dir.data_dir) / "PG_VERSION").is_file()
    assert_no_server_left(migrated_dir.data_dir)

    again = run_hub("migrate", "--data-dir", str(migrated_dir.data_dir))

    assert again.returncode == 0, again.stderr
    assert "migrations applied" in again.stdout
    assert "Running upgrade" not in again.stderr
    assert_no_server_left(migrated_dir.data_dir)


def test_demo_seeds_and_prints_credentials(seeded_dir: SeededDir) -> None:
    result = seeded_dir.first_demo

    assert result.returncode == 0, result.stderr
    clients = assert_private_credentials(seeded_dir.data_dir)
    assert demo_table(result.stdout) == as_table(clients)
    assert TOKEN_COMMAND.search(result.stdout) is not None
    assert QUERY_COMMAND.search(result.stdout) is not None
    assert_no_server_left(seeded_dir.data_dir)


def test_second_demo_reprints_saved_credentials_without_seeding(seeded_dir: SeededDir) -> None:
    """Seeding again would register new clients with new ids; the same table means it did not."""
    saved = (seeded_dir.data_dir / CREDENTIALS_FILE).read_text()

    again = run_hub("demo", "--data-dir", str(seeded_dir.data_dir))

    assert again.returncode == 0, again.stderr
    assert demo_table(again.stdout) == demo_table(seeded_dir.first_demo.stdout)
    assert (seeded_dir.data_dir / CREDENTIALS_FILE).read_text() == saved
    assert_no_server_left(seeded_dir.data_dir)


def test_demo_seeded_before_without_credentials_file_fails(seeded_dir: SeededDir) -> None:
    path = seeded_dir.data_dir / CREDENTIALS_FILE
    kept = path.with_suffix(".kept")
    path.rename(kept)
    try:
        result = run_hub("demo", "--data-dir", str(seeded_dir.data_dir))
    finally:
        kept.rename(path)

    assert result.returncode == 1
    assert "the demo was seeded before; its credentials file is missing" in result.stdout
    assert demo_table(result.stdout) == []


def test_serve_demo_prints_credentials_and_first_query(first_serve: FirstServe) -> None:
    output = first_serve.hub.stdout
    ready = READY_LINE.search(output)

    assert ready is not None
    assert ready.group(2) == str(first_serve.hub.port)
    assert f"Partner Hub {hub.__version__}: GraphQL at {first_serve.hub.base_url}/graphql" in (
        output
    )
    clients = saved_clients(first_serve.hub.data_dir)
    assert demo_table(output) == as_table(clients)
    assert "Try it:" in output
    token_command = TOKEN_COMMAND.search(output)
    assert token_command is not None
    assert token_command.group(3) == first_serve.hub.base_url
    query_command = QUERY_COMMAND.search(output)
    assert query_command is not None
    assert query_command.group(1) == first_serve.hub.base_url


def test_serve_demo_saves_private_credentials(first_serve: FirstServe) -> None:
    clients = assert_private_credentials(first_serve.hub.data_dir)

    assert [client["role"] for client in clients] == [
        "OWNER",
        "OWNER",
        "DISTRIBUTOR",
        "RESELLER",
        "SUPPLIER",
    ]


def test_printed_instructions_return_opportunities(first_serve: FirstServe) -> None:
    """Follow the two printed curl commands to the letter, over real HTTP."""
    output = first_serve.hub.stdout
    token_command = TOKEN_COMMAND.search(output)
    query_command = QUERY_COMMAND.search(output)
    assert token_command is not None
    assert query_command is not None
    client_id, secret, token_url = token_command.groups()
    graphql_url, body = query_command.groups()

    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        token = fetch_token(http, token_url, client_id, secret)
        response = http.post(
            f"{graphql_url}/graphql",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    assert response.status_code == 200, response.text
    result = response.json()
    assert "errors" not in result, result
    edges = result["data"]["opportunities"]["edges"]
    assert len(edges) == 5
    for edge in edges:
        node = edge["node"]
        assert node["name"]
        assert node["stage"] in {stage.value for stage in OpportunityStage}
        assert float(node["amount"]) >= 0
        assert node["currency"] in {"EUR", "GBP", "USD"}
        assert node["customer"]["name"]


def test_every_demo_client_obtains_a_token_for_its_organisation(first_serve: FirstServe) -> None:
    clients = saved_clients(first_serve.hub.data_dir)
    base_url = first_serve.hub.base_url

    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        for client in clients:
            token = client_token(http, base_url, client)
            viewer = graphql(
                http, base_url, token, "{ viewer { clientId scopes organisation { name } } }"
            )["viewer"]
            assert isinstance(viewer, dict)
            assert viewer["clientId"] == client["client_id"]
            assert viewer["organisation"]["name"] == client["organisation"]
            assert sorted(viewer["scopes"]) == sorted(client["scopes"])


def test_serve_demo_seeds_a_full_owner(first_serve: FirstServe) -> None:
    counts = first_serve.owner_counts

    assert counts.customers >= 200
    assert counts.opportunities >= 500
    assert counts.cases >= 200


def test_keys_rotate_while_serving(first_serve: FirstServe) -> None:
    """`hub keys rotate` on the running hub's data: its next token uses the new key, the old
    token keeps working, and the embedded server stays up for the hub."""
    owner = saved_clients(first_serve.hub.data_dir)[0]
    base_url = first_serve.hub.base_url
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        before = client_token(http, base_url, owner)

        result = run_hub("keys", "rotate", "--data-dir", str(first_serve.hub.data_dir))

        assert result.returncode == 0, result.stderr
        added = re.search(r"^signing with key (\w+)$", result.stdout, re.MULTILINE)
        assert added is not None, result.stdout
        assert f"retired key {key_id(before)}" in result.stdout
        after = client_token(http, base_url, owner)
        assert key_id(after) == added.group(1)
        for token in (before, after):
            viewer = graphql(http, base_url, token, "{ viewer { clientId } }")
            assert viewer == {"viewer": {"clientId": owner["client_id"]}}
        published = http.get(f"{base_url}/.well-known/jwks.json").json()
        assert {key_id(before), key_id(after)} <= {key["kid"] for key in published["keys"]}


def test_sigterm_stops_hub_and_its_embedded_postgres(first_serve: FirstServe) -> None:
    running = first_serve.hub
    # The checks below would pass vacuously if they could not see the running server.
    assert running.postmaster_pid is not None
    assert running.postmaster_pid in running.processes_while_running

    outcome = running.stop()

    assert outcome.exit_code == 0, first_serve.hub.stderr
    assert not outcome.postmaster_pid_file_left
    assert not outcome.postmaster_alive
    assert outcome.processes_left == []


def test_restart_reuses_data_without_seeding_again(
    first_serve: FirstServe, restarted_serve: RunningHub
) -> None:
    """cli.py re-prints the saved credentials on restart; the rows and clients stay as they were."""
    data_dir = restarted_serve.data_dir
    assert (data_dir / CREDENTIALS_FILE).read_text() == first_serve.credentials_text
    assert demo_table(restarted_serve.stdout) == demo_table(first_serve.hub.stdout)
    assert "creating database" not in restarted_serve.stderr
    assert "Running upgrade" not in restarted_serve.stderr

    clients = saved_clients(data_dir)
    base_url = restarted_serve.base_url
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        for client in clients:
            token = client_token(http, base_url, client)
            viewer = graphql(http, base_url, token, "{ viewer { organisation { name } } }")
            assert viewer["viewer"] == {"organisation": {"name": client["organisation"]}}
        owner = clients[0]
        token = client_token(http, base_url, owner)
        first_page = graphql(
            http, base_url, token, "{ opportunities(first: 1) { edges { node { name } } } }"
        )
    assert first_page["opportunities"]["edges"][0]["node"]["name"]

    assert count_owner_rows(base_url, owner) == first_serve.owner_counts


def test_restarted_hub_stops_cleanly_on_sigterm(restarted_serve: RunningHub) -> None:
    assert restarted_serve.postmaster_pid in restarted_serve.processes_while_running

    outcome = restarted_serve.stop()

    assert outcome.exit_code == 0, restarted_serve.stderr
    assert not outcome.postmaster_pid_file_left
    assert not outcome.postmaster_alive
    assert outcome.processes_left == []
