"""`hub org create`: an organisation without the demo, its first administrator invited by a
link that works once; as an operator runs it (a subprocess on a DATABASE_URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access.actor import Role
from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.db import app_role_url
from hub.orgs.models import Organisation, User
from hub.settings import Settings
from tests.auth.browser import hidden_fields
from tests.cli.test_ledger_commands import engine, hub, ledger_database

# The module's database and its owner's engine, as the ledger commands' tests have them.
__all__ = ["engine", "ledger_database"]

PASSWORD = "a long enough passphrase"


@pytest.fixture
async def browser(ledger_database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(issuer="http://hub.test", audience="partner-hub", seal_interval_seconds=0)
    app = create_app(settings, app_role_url(ledger_database, None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            yield http


async def test_an_organisation_is_made_and_its_admin_gets_in_by_the_link(
    ledger_database: str, engine: AsyncEngine, browser: httpx.AsyncClient
) -> None:
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    made = hub(
        ledger_database,
        *("org", "create", "--name", "Acme Parts", "--slug", slug),
        *("--admin-email", "Ops@Acme.example"),
    )
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""
    lines = made.stdout.splitlines()
    assert lines[0].startswith(f"organisation {slug} (") and lines[0].endswith(") created")
    assert lines[1] == "send this link to ops@acme.example; it works once, for 7 days:"
    link = urlsplit(lines[2])
    assert link.path == "/oauth/invitation"
    async with engine.connect() as connection:
        organisation = (
            await connection.execute(select(Organisation).where(Organisation.slug == slug))
        ).one()
        admin = (await connection.execute(select(User).where(User.org_id == organisation.id))).one()
        created = await connection.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.org_id == organisation.id, AuditEvent.type == "organisation.created")
        )
    assert organisation.name == "Acme Parts"
    assert (admin.email, admin.role, admin.password_hash) == ("ops@acme.example", Role.ADMIN, None)
    assert created == 1
    assert parse_qs(link.query)["org"] == [str(organisation.id)]

    page = await browser.get(f"{link.path}?{link.query}")
    assert page.status_code == 200, page.text
    assert "Acme Parts" in page.text
    form = {**hidden_fields(page.text), "password": PASSWORD, "password_confirmation": PASSWORD}
    done = await browser.post("/oauth/invitation", data=form)
    assert done.status_code == 200, done.text
    assert "you can now sign in" in done.text
    again = await browser.post("/oauth/invitation", data=form)
    assert again.status_code == 400  # once only

    verified = hub(ledger_database, "audit", "verify", "--org", slug)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("--name", "Taken", "--slug", "{taken}"), "slug: An organisation with the slug"),
        (("--name", " ", "--slug", "blank-name"), "name: This field must not be blank."),
        (("--name", "Bad", "--slug", "Bad Slug"), "slug: Expected lower-case letters"),
        (("--name", "Bad", "--slug", "bad-email"), "adminEmail: Expected an e-mail address."),
    ],
)
async def test_a_bad_or_taken_name_is_refused_with_exit_1_and_nothing_made(
    ledger_database: str, engine: AsyncEngine, arguments: tuple[str, ...], says: str
) -> None:
    taken = f"taken-{uuid.uuid4().hex[:8]}"
    first = hub(
        ledger_database,
        "org",
        "create",
        "--name",
        "First",
        "--slug",
        taken,
        "--admin-email",
        "a@first.example",
    )
    assert first.returncode == 0, first.stderr
    async with engine.connect() as connection:
        before = await connection.scalar(select(func.count()).select_from(Organisation))
    email = "not-an-address" if "bad-email" in arguments else "b@second.example"
    filled = [value.format(taken=taken) for value in arguments]
    refused = hub(ledger_database, "org", "create", *filled, "--admin-email", email)
    assert refused.returncode == 1
    assert says in refused.stderr
    assert refused.stdout == ""
    async with engine.connect() as connection:
        after = await connection.scalar(select(func.count()).select_from(Organisation))
    assert after == before
