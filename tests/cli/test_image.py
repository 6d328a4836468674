"""The container image's behaviour, run as processes: no container engine runs on this machine,
so the Dockerfile's command and health check are run as the image would run them, and its
lock file is held to the package's dependencies."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.cli.test_cli import (
    COMMAND_TIMEOUT,
    HUB,
    START_TIMEOUT,
    STOP_TIMEOUT,
    assert_no_server_left,
    free_port,
    hub_environment,
    new_workspace,
)

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instruction(name: str) -> list[str]:
    """The exec-form arguments of the Dockerfile's `name` instruction (CMD, or HEALTHCHECK's)."""
    joined = DOCKERFILE.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if line.startswith(name + " "))
    arguments: list[str] = json.loads(line[line.index("[") :])
    return arguments


def test_serving_beyond_loopback_needs_an_issuer() -> None:
    command = _instruction("CMD")
    assert command[:2] == ["hub", "serve"]
    assert "0.0.0.0" in command  # noqa: S104 - the image listens on every interface
    environment = {**hub_environment(), "HUB_DATA_DIR": "/nonexistent"}
    refused = subprocess.run(
        [str(HUB), *command[1:]],
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert refused.returncode == 2
    assert "needs HUB_ISSUER" in refused.stderr
    assert refused.stdout == ""
    assert not Path("/nonexistent").exists()  # refused before any database was started


def test_the_image_command_serves_and_its_health_check_passes() -> None:
    workspace = new_workspace()
    port = free_port()
    command = [
        str(HUB) if word == "hub" else str(port) if word == "8000" else word
        for word in _instruction("CMD")
    ]
    environment = {
        **hub_environment(),
        "HUB_ISSUER": f"http://localhost:{port}",
        "HUB_DATA_DIR": str(workspace / "data"),
    }
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _ready(f"http://127.0.0.1:{port}/readyz", server)
        check = _instruction("HEALTHCHECK")
        healthy = subprocess.run(
            [word.replace("8000", str(port)) for word in check],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert healthy.returncode == 0, healthy.stderr
        metadata = httpx.get(
            f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", timeout=10
        ).json()
        assert metadata["issuer"] == f"http://localhost:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=STOP_TIMEOUT)
        assert_no_server_left(workspace / "data")
        shutil.rmtree(workspace, ignore_errors=True)


def _ready(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_the_lock_pins_every_dependency_within_what_the_package_asks() -> None:
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pinned[canonicalize_name(name)] = version
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.MULTILINE | re.DOTALL)
    assert block is not None
    for declared in re.findall(r'"([^"]+)"', block.group(1)):
        requirement = Requirement(declared)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(pinned[name]), (requirement, pinned[name])
