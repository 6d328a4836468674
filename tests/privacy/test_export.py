"""`exportPersonalData`: everything the hub holds about a customer or contact, and nothing else.

The tables an export must cover are read from the models, so a new table that points at
customers or contacts cannot be forgotten: every table with a foreign key to either, those two
themselves, and the ledger's, disclosure index's and notices' tables.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.models import Base
from tests.factories import Factory
from tests.privacy.world import EXPORT, PrivacyWorld, build_privacy_world, erase
from tests.sharing import Sessions, data

ABOUT_SUBJECTS = {"customers", "contacts"}
HOLDING_TABLES = sorted(
    {
        table.name
        for table in Base.metadata.tables.values()
        if any(key.column.table.name in ABOUT_SUBJECTS for key in table.foreign_keys)
    }
    | ABOUT_SUBJECTS
    | {"audit_events", "disclosures", "privacy_notices"}
)


@pytest.fixture
async def pw(client: httpx.AsyncClient, factory: Factory, owner_sessions: Sessions) -> PrivacyWorld:
    return await build_privacy_world(client, factory, owner_sessions)


async def export(client: httpx.AsyncClient, token: str, subject_id: str) -> dict[str, Any]:
    answer = (await data(client, token, EXPORT, id=subject_id))["exportPersonalData"]
    assert answer["subjectId"] == subject_id
    document: dict[str, Any] = answer["document"]
    return document


def test_the_holding_tables_are_found() -> None:
    assert {"customers", "contacts", "opportunities", "cases"} <= set(HOLDING_TABLES)


async def test_a_customer_export_holds_every_table_with_its_rows_and_no_other_customer(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    owner_token = world.token["owner"]
    # An erasure first, so the customer also has a notice and a privacy event about it.
    await erase(client, owner_token, world.gid("cEu"))
    document = await export(client, owner_token, world.gid("cEu"))

    customer = str(world.ids["cEu"])
    contact = str(world.ids["pEu"])
    assert document["subject"] == {"kind": "Customer", "id": customer, "customerId": customer}
    assert document["organisationId"] == str(world.owner.id)
    tables = document["tables"]
    for name in HOLDING_TABLES:
        assert tables.get(name), name
    assert [row["id"] for row in tables["customers"]] == [customer]
    assert [row["id"] for row in tables["contacts"]] == [contact]
    assert sorted(row["id"] for row in tables["opportunities"]) == sorted(
        str(world.ids[name]) for name in ("oP", "oOpen")
    )
    assert sorted(row["id"] for row in tables["cases"]) == sorted(
        str(world.ids[name]) for name in ("kP", "kQ")
    )
    assert sorted(row["id"] for row in tables["case_comments"]) == sorted(
        str(world.ids[name]) for name in ("mShared", "mInternal")
    )
    assert {row["customer_id"] for row in tables["disclosures"]} == {customer}
    assert {row["partner_org_id"] for row in tables["disclosures"]} == {str(world.partner.id)}
    assert [(row["subject_id"], row["partner_org_id"]) for row in tables["privacy_notices"]] == [
        (customer, str(world.partner.id))
    ]
    assert [row["record_id"] for row in tables["grant_records"]] == [customer]
    # The consent travels on the customer row.
    assert tables["customers"][0]["consent_purposes"] == ["SALES", "SERVICE"]

    # Every event names the subject's records only, and never carries its details.
    subject_records = {customer, contact} | {
        row["id"] for name in ("opportunities", "cases", "case_comments") for row in tables[name]
    }
    types = {row["type"] for row in tables["audit_events"]}
    assert {"disclosure", "privacy.erased"} <= types
    for row in tables["audit_events"]:
        assert row["record_ids"] and set(row["record_ids"]) <= subject_records, row
        assert "details" not in row

    # No record of another customer, of another organisation, or of the owner's other rows.
    text_of_document = json.dumps(document)
    for other in ("cUs", "cNone", "pUs", "pNone", "oQ", "oLost", "oPNoConsent", "kOwner"):
        assert str(world.ids[other]) not in text_of_document, other
    assert "Us Freight Inc" not in text_of_document


async def test_an_export_carries_the_values_before_erasure_and_is_audited(
    client: httpx.AsyncClient, owner_sessions: Sessions, pw: PrivacyWorld
) -> None:
    world = pw.world
    document = await export(client, world.token["owner"], world.gid("cEu"))
    tables = document["tables"]
    assert tables["customers"][0]["name"] == "Eu Retail GmbH"
    assert tables["contacts"][0]["email"] == "ada.lovelace@analytical.example"
    assert tables["opportunities"][0]["amount"] == "50000.00"
    async with owner_sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT details, record_ids FROM audit_events"
                    " WHERE org_id = :org AND type = 'privacy.exported'"
                ),
                {"org": world.owner.id},
            )
        ).all()
    [(details, record_ids)] = rows
    assert details["subject"] == {"type": "Customer", "id": str(world.ids["cEu"])}
    assert details["rows"]["customers"] == 1
    assert "Eu Retail GmbH" not in json.dumps(details)
    assert set(record_ids) == {world.ids["cEu"], world.ids["pEu"]}


async def test_a_contact_export_holds_the_contact_and_what_is_about_it_only(
    client: httpx.AsyncClient, pw: PrivacyWorld
) -> None:
    world = pw.world
    document = await export(client, world.token["owner"], world.gid("pEu"))
    tables = document["tables"]
    contact = str(world.ids["pEu"])
    assert document["subject"]["kind"] == "Contact"
    assert [row["id"] for row in tables["contacts"]] == [contact]
    assert tables["customers"] == tables["opportunities"] == tables["cases"] == []
    assert {row["subject_id"] for row in tables["disclosures"]} == {contact}
    assert tables["audit_events"]
    for row in tables["audit_events"]:
        assert row["record_ids"] == [contact]
    assert str(world.ids["cEu"]) not in json.dumps(tables["audit_events"])
