"""Applying retention: the ledger cut at a checkpoint, closed records deleted, nothing else.

Runs the service the way `hub retention run` does (owner connection, one transaction per
organisation) against the real database; the CLI itself is tested as a subprocess in
tests/cli/test_ledger_commands.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access.rls import enter_organisation
from hub.audit.record import Event, EventType, record
from hub.audit.verify import verify_chain
from hub.cases.models import CaseStatus
from hub.db import session_factory
from hub.grants.models import Access, Grant, GrantRecord, Purpose, RecordType, Selection
from hub.opportunities.models import OpportunityStage
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus
from hub.retention.apply import RetentionOutcome, apply_policy
from tests.audit.test_ledger import tamper
from tests.factories import Factory, Org
from tests.retention.ledger import Sessions, append_aged, set_policy


async def run(sessions: Sessions, org_id: uuid.UUID) -> RetentionOutcome:
    async with sessions() as session, session.begin():
        return await apply_policy(session, org_id)


async def events(sessions: Sessions, org_id: uuid.UUID) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT seq, type FROM audit_events WHERE org_id = :org ORDER BY seq"),
            {"org": org_id},
        )
        return [(row.seq, row.type) for row in rows]


async def test_the_cut_leaves_a_checkpoint_and_verify_proves_the_rest(
    owner_sessions: Sessions, owner_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("Cut")
    await append_aged(owner_sessions, org.id, 5, days_ago=40)
    await append_aged(owner_sessions, org.id, 3, days_ago=1)
    await set_policy(owner_sessions, org.id, audit_events_days=30)

    outcome = await run(owner_sessions, org.id)

    assert (outcome.cut_seq, outcome.events_cut) == (5, 5)
    assert await events(owner_sessions, org.id) == [
        (6, "consent.changed"),
        (7, "consent.changed"),
        (8, "consent.changed"),
        (9, "retention.applied"),
    ]
    async with owner_sessions() as session:
        checkpoint = (
            await session.execute(
                text("SELECT seq, cut_before FROM audit_checkpoints WHERE org_id = :org"),
                {"org": org.id},
            )
        ).one()
        details = await session.scalar(
            text("SELECT details FROM audit_events WHERE org_id = :org AND seq = 9"),
            {"org": org.id},
        )
        report = await verify_chain(session, org.id)
    assert checkpoint.seq == 5
    assert datetime.now(UTC) - checkpoint.cut_before > timedelta(days=29)
    assert details["cut_seq"] == 5 and details["events_cut"] == 5
    assert report.intact and (report.start, report.events, report.head) == (5, 4, 9)

    # An edit after the cut is still found, and named.
    await tamper(
        owner_engine,
        "UPDATE audit_events SET details = '{}' WHERE org_id = :org AND seq = 7",
        org=org.id,
    )
    async with owner_sessions() as session:
        broken = await verify_chain(session, org.id)
    assert broken.broken is not None and broken.broken.seq == 7
    assert "edited" in broken.broken.reason


async def test_a_second_run_is_a_no_op_and_the_chain_goes_on(
    owner_sessions: Sessions, app_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("Again")
    await append_aged(owner_sessions, org.id, 4, days_ago=60)
    await append_aged(owner_sessions, org.id, 2, days_ago=2)
    await set_policy(owner_sessions, org.id, audit_events_days=30, closed_records_days=30)
    first = await run(owner_sessions, org.id)
    before = await events(owner_sessions, org.id)

    second = await run(owner_sessions, org.id)

    assert first.changed and not second.changed
    assert await events(owner_sessions, org.id) == before
    async with session_factory(app_engine)() as session, session.begin():
        await enter_organisation(session, org.id)
        await record(session, Event(type=EventType.GRANT_CREATED, org_id=org.id))
    async with owner_sessions() as session:
        checkpoints = await session.scalar(
            text("SELECT count(*) FROM audit_checkpoints WHERE org_id = :org"), {"org": org.id}
        )
        report = await verify_chain(session, org.id)
    assert checkpoints == 1
    assert report.intact and report.start == 4 and report.head == 8


async def test_the_head_event_is_never_cut(owner_sessions: Sessions, factory: Factory) -> None:
    org = await factory.organisation("Head")
    await append_aged(owner_sessions, org.id, 4, days_ago=90)
    await set_policy(owner_sessions, org.id, audit_events_days=30)

    outcome = await run(owner_sessions, org.id)

    assert outcome.cut_seq == 3
    assert [seq for seq, _ in await events(owner_sessions, org.id)] == [4, 5]
    async with owner_sessions() as session:
        assert (await verify_chain(session, org.id)).intact


async def test_a_chain_that_does_not_verify_is_not_cut(
    owner_sessions: Sessions, owner_engine: AsyncEngine, factory: Factory
) -> None:
    org = await factory.organisation("Broken")
    await append_aged(owner_sessions, org.id, 5, days_ago=40)
    await set_policy(owner_sessions, org.id, audit_events_days=30)
    await tamper(
        owner_engine, "DELETE FROM audit_events WHERE org_id = :org AND seq = 2", org=org.id
    )

    outcome = await run(owner_sessions, org.id)

    assert outcome.refused is not None and outcome.refused.seq == 2
    assert [seq for seq, _ in await events(owner_sessions, org.id)] == [1, 3, 4, 5]


async def test_no_policy_or_no_audit_period_cuts_nothing(
    owner_sessions: Sessions, factory: Factory
) -> None:
    org = await factory.organisation("Forever")
    await append_aged(owner_sessions, org.id, 3, days_ago=400)
    assert not (await run(owner_sessions, org.id)).changed
    await set_policy(owner_sessions, org.id, closed_records_days=30)
    assert not (await run(owner_sessions, org.id)).changed
    assert len(await events(owner_sessions, org.id)) == 3


async def closed_world(factory: Factory, sessions: Sessions, org: Org) -> dict[str, uuid.UUID]:
    """One of each: closed long ago, closed lately, open long ago; with what hangs off them."""
    customer = await factory.customer(org)
    won, lost, open_ = [
        (await factory.opportunities(org, customer, 1, stage=stage))[0]
        for stage in (
            OpportunityStage.CLOSED_WON,
            OpportunityStage.CLOSED_LOST,
            OpportunityStage.NEGOTIATION,
        )
    ]
    recent_won = (await factory.opportunities(org, customer, 1, stage=OpportunityStage.CLOSED_WON))[
        0
    ]
    old_case = await factory.case(org, customer, status=CaseStatus.CLOSED)
    recent_case = await factory.case(org, customer, status=CaseStatus.CLOSED)
    resolved_case = await factory.case(org, customer, status=CaseStatus.RESOLVED)
    partner = await factory.organisation("RetPartner")
    ids = {
        "won": won.id,
        "lost": lost.id,
        "open": open_.id,
        "recent_won": recent_won.id,
        "old_case": old_case.id,
        "recent_case": recent_case.id,
        "resolved_case": resolved_case.id,
    }
    async with sessions() as session, session.begin():
        partnership = Partnership(
            org_id=org.id,
            partner_org_id=partner.id,
            role=PartnerRole.RESELLER,
            status=PartnershipStatus.ACTIVE,
        )
        session.add(partnership)
        await session.flush()
        for record_type, records in (
            (RecordType.OPPORTUNITIES, (won.id, open_.id)),
            (RecordType.CASES, (old_case.id, recent_case.id)),
        ):
            explicit = Grant(
                org_id=org.id,
                partnership_id=partnership.id,
                partner_org_id=partner.id,
                record_type=record_type,
                access=Access.READ,
                selection=Selection.EXPLICIT,
                purpose=Purpose.SERVICE,
                field_policy={},
                granted_by="test",
            )
            session.add(explicit)
            await session.flush()
            session.add_all(
                GrantRecord(org_id=org.id, grant_id=explicit.id, record_id=record_id)
                for record_id in records
            )
        await session.flush()
        long_ago = datetime.now(UTC) - timedelta(days=100)
        await session.execute(
            text(
                "UPDATE opportunities SET updated_at = :at WHERE org_id = :org AND id = ANY(:ids)"
            ),
            {"at": long_ago, "org": org.id, "ids": [won.id, lost.id, open_.id]},
        )
        await session.execute(
            text(
                "UPDATE cases SET closed_at = :at, updated_at = :at WHERE org_id = :org"
                " AND id = ANY(:ids)"
            ),
            {"at": long_ago, "org": org.id, "ids": [old_case.id, resolved_case.id]},
        )
        await session.execute(
            text("UPDATE cases SET closed_at = now() WHERE org_id = :org AND id = :id"),
            {"org": org.id, "id": recent_case.id},
        )
        for name, status, reviewed, opportunity in (
            ("approved_into_won", "APPROVED", long_ago, won.id),
            ("rejected_old", "REJECTED", long_ago, None),
            ("rejected_recent", "REJECTED", datetime.now(UTC), None),
            ("pending_old", "PENDING", None, None),
        ):
            ids[name] = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO deal_registrations (org_id, id, partnership_id, partner_org_id,"
                    " customer_name, amount, currency, expected_close_date, product, status,"
                    " rejection_reason, opportunity_id, protected_until, registered_by,"
                    " reviewed_by, reviewed_at, created_at, version)"
                    " VALUES (:org, :id, :partnership, :partner, 'Acme', :amount, 'EUR',"
                    " :close, 'Widgets', :status, :reason,"
                    " :opportunity, :protected, 'partner', :reviewer, :reviewed, :created, 1)"
                ),
                {
                    "org": org.id,
                    "id": ids[name],
                    "partnership": partnership.id,
                    "partner": partner.id,
                    "amount": Decimal(100),
                    "close": date(2026, 1, 1),
                    "status": status,
                    "reason": "duplicate" if status == "REJECTED" else None,
                    "opportunity": opportunity,
                    "protected": long_ago if status == "APPROVED" else None,
                    "reviewer": None if reviewed is None else "owner",
                    "reviewed": reviewed,
                    "created": long_ago,
                },
            )
    return ids


async def remaining(sessions: Sessions, org_id: uuid.UUID) -> set[uuid.UUID]:
    async with sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT id FROM opportunities WHERE org_id = :org UNION ALL"
                " SELECT id FROM cases WHERE org_id = :org UNION ALL"
                " SELECT id FROM deal_registrations WHERE org_id = :org"
            ),
            {"org": org_id},
        )
        return set(rows.all())


async def test_closed_records_past_the_period_go_with_what_hangs_off_them(
    owner_sessions: Sessions, factory: Factory
) -> None:
    org, other = await factory.organisation("Closer"), await factory.organisation("Bystander")
    ids = await closed_world(factory, owner_sessions, org)
    others = await closed_world(factory, owner_sessions, other)
    await set_policy(owner_sessions, org.id, closed_records_days=30)
    other_before = await remaining(owner_sessions, other.id)

    outcome = await run(owner_sessions, org.id)

    kept = await remaining(owner_sessions, org.id)
    gone = {ids["won"], ids["lost"], ids["old_case"], ids["approved_into_won"], ids["rejected_old"]}
    assert kept.isdisjoint(gone)
    assert {
        ids["open"],
        ids["recent_won"],
        ids["recent_case"],
        ids["resolved_case"],
        ids["rejected_recent"],
        ids["pending_old"],
    } <= kept
    assert outcome.records_deleted == {
        "deal_registrations": 2,
        "case_comments": 1,
        "grant_entries": 2,
        "opportunities": 2,
        "cases": 1,
    }
    async with owner_sessions() as session:
        comments = await session.scalar(
            text("SELECT count(*) FROM case_comments WHERE org_id = :org AND case_id = :id"),
            {"org": org.id, "id": ids["old_case"]},
        )
        applied = await session.scalar(
            text(
                "SELECT details FROM audit_events WHERE org_id = :org"
                " AND type = 'retention.applied'"
            ),
            {"org": org.id},
        )
        entries = set(
            (
                await session.scalars(
                    text("SELECT record_id FROM grant_records WHERE org_id = :org"),
                    {"org": org.id},
                )
            ).all()
        )
    assert comments == 0
    assert entries == {ids["open"], ids["recent_case"]}
    assert applied["records_deleted"]["opportunities"] == 2
    # Another organisation's records, closed just as long ago, are all still there.
    assert await remaining(owner_sessions, other.id) == other_before
    assert others["won"] in other_before


async def test_the_application_role_can_neither_cut_nor_delete_events(
    owner_sessions: Sessions, app_engine: AsyncEngine, factory: Factory
) -> None:
    org, victim = await factory.organisation("Cutter"), await factory.organisation("Victim")
    for target in (org, victim):
        await append_aged(owner_sessions, target.id, 3, days_ago=60)
        await set_policy(owner_sessions, target.id, audit_events_days=30)
    for statement in (
        "SELECT * FROM hub_audit_cut(:victim, now() - interval '40 days')",
        "SELECT * FROM hub_audit_cut(:org, now() - interval '40 days')",
        "DELETE FROM audit_events WHERE org_id = :org",
        "INSERT INTO audit_checkpoints (org_id, seq, hash, cut_before)"
        " VALUES (:org, 3, '\\x00', now())",
    ):
        async with app_engine.begin() as connection:
            await connection.execute(
                text("SELECT set_config('hub.org_id', :org, true)"), {"org": str(org.id)}
            )
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement), {"org": org.id, "victim": victim.id})
    assert len(await events(owner_sessions, victim.id)) == 3
    assert len(await events(owner_sessions, org.id)) == 3


async def test_the_cut_function_keeps_to_its_organisation_and_its_policy(
    owner_sessions: Sessions, factory: Factory
) -> None:
    org, other = await factory.organisation("Narrow"), await factory.organisation("Elsewhere")
    for target in (org, other):
        await append_aged(owner_sessions, target.id, 3, days_ago=60)
    await set_policy(owner_sessions, org.id, audit_events_days=30)
    await set_policy(owner_sessions, other.id, audit_events_days=30)
    for cut_of, before, refusal in (
        (other.id, "now() - interval '40 days'", "may not be cut here"),
        (org.id, "now() - interval '5 days'", "retention policy"),
        (org.id, "NULL", "retention policy"),
    ):
        async with owner_sessions() as session, session.begin():
            await enter_organisation(session, org.id)
            with pytest.raises(DBAPIError, match=refusal):
                await session.execute(
                    text(f"SELECT * FROM hub_audit_cut(:target, {before})"),  # noqa: S608
                    {"target": cut_of},
                )
    assert len(await events(owner_sessions, other.id)) == 3
    assert len(await events(owner_sessions, org.id)) == 3
