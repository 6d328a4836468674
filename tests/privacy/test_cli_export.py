"""`hub privacy export` as an operator runs it: the console script, against the test database
(DATABASE_URL), writing the same document as the API, one plain line when not on a terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import stat
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from sqlalchemy import text

from hub.embedded import EmbeddedPostgres
from resolvers.ids import NodeType
from tests.factories import Factory
from tests.sharing import Sessions, gid

HUB = Path(sys.executable).parent / "hub"


def run_hub(postgres: EmbeddedPostgres, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("HUB_")
    }
    environment["DATABASE_URL"] = postgres.owner_url
    return subprocess.run(
        [str(HUB), "privacy", "export", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


async def test_export_writes_the_document_and_one_summary_line(
    postgres: EmbeddedPostgres, factory: Factory, owner_sessions: Sessions, tmp_path: Path
) -> None:
    org = await factory.organisation("CliPrivacy")
    customer = await factory.customer(org, "Operator Export GmbH")
    other = await factory.customer(org, "Someone Else AG")
    output = tmp_path / "export.json"

    done = run_hub(
        postgres,
        "--org",
        org.slug,
        "--subject",
        gid(NodeType.CUSTOMER, customer.id),
        "--output",
        str(output),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(output.read_text())
    assert document["subject"]["id"] == str(customer.id)
    assert [row["name"] for row in document["tables"]["customers"]] == ["Operator Export GmbH"]
    assert [row["full_name"] for row in document["tables"]["contacts"]] == ["Carla Contact"]
    assert str(other.id) not in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    summary = [line for line in done.stderr.splitlines() if line.startswith("exported ")]
    assert summary == [
        f"exported 2 rows from 13 tables about Customer {customer.id} of {org.slug} to {output}"
    ]
    assert "\r" not in done.stderr  # no progress bar in a pipe
    assert done.stdout == ""

    # By organisation id and bare subject id, to standard output.
    done = run_hub(postgres, "--org", str(org.id), "--subject", str(customer.id))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["subject"]["kind"] == "Customer"

    async with owner_sessions() as session:
        actors = (
            await session.scalars(
                text(
                    "SELECT actor_client_id FROM audit_events"
                    " WHERE org_id = :org AND type = 'privacy.exported'"
                ),
                {"org": org.id},
            )
        ).all()
    assert actors == ["hub-cli", "hub-cli"]


async def test_an_unknown_subject_or_organisation_is_a_clear_refusal(
    postgres: EmbeddedPostgres, factory: Factory
) -> None:
    org = await factory.organisation("CliPrivacyNone")
    stranger = await factory.organisation("CliPrivacyStranger")
    theirs = await factory.customer(stranger, "Not Yours Ltd")
    for org_reference, subject in (
        (org.slug, str(theirs.id)),
        (org.slug, gid(NodeType.OPPORTUNITY, theirs.id)),
        ("no-such-organisation", str(theirs.id)),
    ):
        done = run_hub(postgres, "--org", org_reference, "--subject", subject)
        assert done.returncode == 2, done.stderr
        ours = [line for line in done.stderr.splitlines() if not line.startswith("{")]
        assert len(ours) == 1 and ours[0].startswith("hub: "), done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def run_on_a_terminal(postgres: EmbeddedPostgres, *arguments: str) -> tuple[int, str]:
    """The export with its stderr on a pseudo-terminal, as when an operator types it."""
    primary, secondary = pty.openpty()
    # 24 rows of 100 columns: a new pseudo-terminal is 0 wide, and a bar fits in no width.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("HUB_")
    }
    environment["DATABASE_URL"] = postgres.owner_url
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with subprocess.Popen(
        [str(HUB), "privacy", "export", *arguments],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    ) as process:
        os.close(secondary)
        code = process.wait(timeout=120)
    reader.join(timeout=10)
    os.close(primary)
    return code, b"".join(chunks).decode(errors="replace")


async def test_on_a_terminal_a_bar_shows_instead_of_the_summary(
    postgres: EmbeddedPostgres, factory: Factory, tmp_path: Path
) -> None:
    org = await factory.organisation("CliPrivacyTty")
    customer = await factory.customer(org, "Terminal GmbH")
    output = tmp_path / "export.json"
    code, terminal = run_on_a_terminal(
        postgres, "--org", org.slug, "--subject", str(customer.id), "--output", str(output)
    )
    assert code == 0, terminal
    assert "exporting" in terminal and "table" in terminal
    assert "exported " not in terminal
    assert json.loads(output.read_text())["subject"]["id"] == str(customer.id)
