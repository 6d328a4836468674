"""`hub audit verify` and `hub retention run` as an operator runs them: subprocesses.

They run against a database of their own (an embedded PostgreSQL for this module, named by
DATABASE_URL), so that "every chain" means the chains these tests wrote. Tampering is done as
the database owner with the guard trigger switched off, and put back afterwards, so the tests
do not depend on their order.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import termios
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_engine, session_factory
from hub.embedded import EmbeddedPostgres
from hub.migrate import upgrade
from hub.partnerships.models import PartnershipStatus
from tests.api.test_partnerships import partnership_row
from tests.audit.test_ledger import tamper
from tests.audit.test_sealing import disclosure_document, tamper_waiting
from tests.cli.test_cli import COMMAND_TIMEOUT, HUB, hub_environment, new_workspace
from tests.factories import Factory, Org
from tests.retention.ledger import append_aged, set_policy


@pytest.fixture(scope="module")
def ledger_database() -> Iterator[str]:
    workspace = new_workspace()
    server = EmbeddedPostgres(workspace / "postgres-data")
    try:
        upgrade(server.owner_url)
        yield server.owner_url
    finally:
        server.stop()
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture
async def engine(ledger_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(ledger_database, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
def owner_factory(engine: AsyncEngine) -> Factory:
    return Factory(session_factory(engine))


def environment(database_url: str) -> dict[str, str]:
    return {**hub_environment(), "DATABASE_URL": database_url}


def hub(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUB), *arguments],
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


async def chained(factory: Factory, engine: AsyncEngine, name: str, count: int = 3) -> Org:
    org = await factory.organisation(name)
    await append_aged(session_factory(engine), org.id, count, days_ago=1)
    return org


async def event_id(engine: AsyncEngine, org: Org, seq: int) -> uuid.UUID:
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT id FROM audit_events WHERE org_id = :org AND seq = :seq"),
            {"org": org.id, "seq": seq},
        )
    assert isinstance(found, uuid.UUID)
    return found


async def test_verify_proves_every_chain_and_exits_0(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    first = await chained(owner_factory, engine, "VerifyA", 3)
    second = await chained(owner_factory, engine, "VerifyB", 5)

    result = hub(ledger_database, "audit", "verify")

    assert result.returncode == 0, result.stderr
    assert f"{first.slug} ({first.id}): intact, 3 events proved from genesis to head 3" in (
        result.stdout
    )
    assert f"{second.slug} ({second.id}): intact, 5 events proved from genesis to head 5" in (
        result.stdout
    )
    assert re.search(r"^\d+ chains intact$", result.stdout, re.MULTILINE)
    # A pipe gets plain lines, no bar.
    assert "\r" not in result.stdout + result.stderr and "%|" not in result.stderr


async def test_verify_one_organisation_by_slug_or_id(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    org = await chained(owner_factory, engine, "Single", 2)
    for name in (org.slug, str(org.id)):
        result = hub(ledger_database, "audit", "verify", "--org", name)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"{org.slug} ({org.id}): intact, 2 events proved from genesis to head 2",
            "1 chain intact",
        ]
    unknown = hub(ledger_database, "audit", "verify", "--org", "no-such-org")
    assert unknown.returncode == 2
    assert "no organisation with id or slug 'no-such-org'" in unknown.stderr


async def test_verify_names_an_edited_event_and_exits_1(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    org = await chained(owner_factory, engine, "Edited", 4)
    bystander = await chained(owner_factory, engine, "Intact", 2)
    edited = await event_id(engine, org, 2)
    async with engine.connect() as connection:
        original = await connection.scalar(
            text("SELECT details::text FROM audit_events WHERE org_id = :org AND seq = 2"),
            {"org": org.id},
        )
    await tamper(
        engine,
        "UPDATE audit_events SET details = '{\"number\": 99}' WHERE org_id = :org AND seq = 2",
        org=org.id,
    )
    try:
        every = hub(ledger_database, "audit", "verify")
        one = hub(ledger_database, "audit", "verify", "--org", org.slug)
        other = hub(ledger_database, "audit", "verify", "--org", bystander.slug)
    finally:
        await tamper(
            engine,
            "UPDATE audit_events SET details = CAST(:original AS jsonb)"
            " WHERE org_id = :org AND seq = 2",
            org=org.id,
            original=original,
        )
    line = (
        f"{org.slug} ({org.id}): BROKEN at event 2 (event id {edited}): event 2 does not match "
        "its hash (edited); 1 events proved before it, from genesis to head 4"
    )
    assert every.returncode == 1 and line in every.stdout.splitlines()
    assert re.search(r"^1 of \d+ chains broken$", every.stdout, re.MULTILINE)
    assert one.returncode == 1 and one.stdout.splitlines() == [line, "1 of 1 chains broken"]
    assert other.returncode == 0
    assert hub(ledger_database, "audit", "verify", "--org", org.slug).returncode == 0


async def test_verify_names_a_deleted_event_and_exits_1(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    org = await chained(owner_factory, engine, "Deleted", 5)
    saved = f"saved_{uuid.uuid4().hex[:8]}"
    await tamper(
        engine,
        f"CREATE TABLE {saved} AS SELECT * FROM audit_events WHERE org_id = :org AND seq = 3",  # noqa: S608
        org=org.id,
    )
    await tamper(engine, "DELETE FROM audit_events WHERE org_id = :org AND seq = 3", org=org.id)
    try:
        result = hub(ledger_database, "audit", "verify", "--org", org.slug)
    finally:
        await tamper(engine, f"INSERT INTO audit_events SELECT * FROM {saved}")  # noqa: S608
        await tamper(engine, f"DROP TABLE {saved}")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"{org.slug} ({org.id}): BROKEN at event 3 (event id -): event 3 is missing (deleted);"
        " 2 events proved before it, from genesis to head 5"
    )


def run_on_a_terminal(database_url: str, *arguments: str) -> tuple[int, str]:
    """Run `hub` with stdout and stderr on a pseudo-terminal of 100x30; all it wrote."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(HUB), *arguments],
        env={**environment(database_url), "TERM": "xterm"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    code = process.wait(timeout=COMMAND_TIMEOUT)
    return code, output.decode(errors="replace")


async def test_a_terminal_shows_a_progress_bar_and_a_pipe_only_the_summary(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    org = await chained(owner_factory, engine, "Terminal", 20)

    code, shown = run_on_a_terminal(ledger_database, "audit", "verify", "--org", org.slug)
    piped = hub(ledger_database, "audit", "verify", "--org", org.slug)

    assert code == 0
    assert f"verify {org.slug}" in shown and "100%|" in shown and "20/20" in shown
    assert "\r" in shown.replace("\r\n", "\n")
    assert f"{org.slug} ({org.id}): intact, 20 events proved" in shown
    # Only log lines on stderr (the migration check), no bar.
    assert piped.returncode == 0 and "\r" not in piped.stderr and "%|" not in piped.stderr
    assert piped.stdout.splitlines() == [
        f"{org.slug} ({org.id}): intact, 20 events proved from genesis to head 20",
        "1 chain intact",
    ]

    # The retention run proves the chain first, with a bar of its own on a terminal.
    await set_policy(session_factory(engine), org.id, audit_events_days=30)
    code, shown = run_on_a_terminal(ledger_database, "retention", "run", "--org", org.slug)
    piped = hub(ledger_database, "retention", "run", "--org", org.slug)
    assert code == 0
    assert f"retention {org.slug}" in shown and "100%|" in shown
    assert f"{org.slug} ({org.id}): nothing to do" in shown
    assert piped.returncode == 0 and "%|" not in piped.stderr
    assert piped.stdout.splitlines()[0] == f"{org.slug} ({org.id}): nothing to do"


async def test_retention_run_cuts_reports_and_leaves_a_provable_chain(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    sessions = session_factory(engine)
    org = await owner_factory.organisation("Retained")
    await append_aged(sessions, org.id, 5, days_ago=45)
    await append_aged(sessions, org.id, 2, days_ago=1)
    await set_policy(sessions, org.id, audit_events_days=30, closed_records_days=30)

    first = hub(ledger_database, "retention", "run", "--org", org.slug)
    proof = hub(ledger_database, "audit", "verify", "--org", org.slug)
    again = hub(ledger_database, "retention", "run")

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"{org.slug} ({org.id}): cut 5 audit events up to event 5 (checkpoint); deleted "
        "0 deal_registrations, 0 case_comments, 0 grant_entries, 0 opportunities, 0 cases",
        "retention applied to 1 of 1 organisations",
    ]
    assert proof.returncode == 0
    assert proof.stdout.splitlines()[0] == (
        f"{org.slug} ({org.id}): intact, 3 events proved from checkpoint at event 5 to head 8"
    )
    assert again.returncode == 0
    assert f"{org.slug} ({org.id}): nothing to do" in again.stdout.splitlines()


async def waiting_for(engine: AsyncEngine, owner_factory: Factory, count: int) -> tuple[Org, Org]:
    """An owner and its partner, with `count` of the partner's reads waiting to be sealed."""
    owner = await owner_factory.organisation("SealOwner")
    partner = await owner_factory.organisation("SealPartner")
    await partnership_row(session_factory(engine), owner, partner, PartnershipStatus.ACTIVE)
    async with engine.begin() as connection:
        for _ in range(count):
            await connection.execute(
                text("INSERT INTO audit_pending_disclosures (document) VALUES (:document)"),
                {"document": disclosure_document(owner.id, partner.id, uuid.uuid4())},
            )
    return owner, partner


async def test_seal_chains_every_waiting_disclosure_and_exits_0(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    owner, _ = await waiting_for(engine, owner_factory, 3)

    result = hub(ledger_database, "audit", "seal")
    proof = hub(ledger_database, "audit", "verify", "--org", owner.slug)
    again = hub(ledger_database, "audit", "seal")

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"sealed \d+ disclosures; none waiting\n", result.stdout), result.stdout
    assert proof.returncode == 0
    assert proof.stdout.splitlines()[0] == (
        f"{owner.slug} ({owner.id}): intact, 3 events proved from genesis to head 3"
    )
    assert (again.returncode, again.stdout) == (0, "sealed 0 disclosures; none waiting\n")


async def test_verify_names_an_edited_unsealed_disclosure_and_exits_1(
    ledger_database: str, engine: AsyncEngine, owner_factory: Factory
) -> None:
    owner, _ = await waiting_for(engine, owner_factory, 2)
    async with engine.connect() as connection:
        edited = (
            await connection.execute(
                text(
                    "SELECT id, event_id, document FROM audit_pending_disclosures"
                    " WHERE org_id = :org ORDER BY id DESC LIMIT 1"
                ),
                {"org": owner.id},
            )
        ).one()
    intact = hub(ledger_database, "audit", "verify", "--org", owner.slug)
    await tamper_waiting(
        engine,
        "UPDATE audit_pending_disclosures SET document = replace(document, 'SALES', 'MARKETING')"
        " WHERE id = :id",
        id=edited.id,
    )
    try:
        broken = hub(ledger_database, "audit", "verify", "--org", owner.slug)
        every = hub(ledger_database, "audit", "verify")
    finally:
        await tamper_waiting(
            engine,
            "UPDATE audit_pending_disclosures SET document = :document WHERE id = :id",
            id=edited.id,
            document=edited.document,
        )

    assert intact.returncode == 0
    assert intact.stdout.splitlines() == [
        f"{owner.slug} ({owner.id}): intact, 0 events proved from genesis to head 0,"
        " 2 unsealed disclosures proved",
        "1 chain intact",
    ]
    line = (
        f"{owner.slug} ({owner.id}): BROKEN at unsealed disclosure {edited.id} (event id "
        f"{edited.event_id}): unsealed disclosure {edited.id} does not match its hash (edited);"
        " chain intact, 0 events proved from genesis to head 0,"
        " 1 unsealed disclosures proved before it"
    )
    assert broken.returncode == 1 and broken.stdout.splitlines() == [line, "1 of 1 chains broken"]
    assert every.returncode == 1 and line in every.stdout.splitlines()
    assert hub(ledger_database, "audit", "verify", "--org", owner.slug).returncode == 0
