"""The sharing world of tests/sharing.py, with disclosures made the way partners make them.

- `partner` lists its customers: it receives cEu and its contact pEu (name, masked e-mail).
- `second` gets an EXPLICIT CUSTOMERS grant on cUs and lists its customers: it receives only
  cUs and pUs, never anything of cEu.
- `quiet` is an ACTIVE partner of the owner that never received anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from hub.partnerships.models import PartnershipStatus
from tests import tokens
from tests.api.test_partnerships import partnership_row
from tests.factories import Factory, Org
from tests.sharing import ERRORS, Sessions, World, build_world, data, grant

CUSTOMER_LIST = (
    "{ customers(first: 50) { edges { node { id name contacts { fullName email } } } } }"
)

EXPORT = """query ($id: ID!) { exportPersonalData(subjectId: $id) { subjectId document } }"""
ERASE = f"""mutation ($input: ErasePersonalDataInput!) {{ erasePersonalData(input: $input) {{
    erasure {{ subjectId alreadyErased erased {{ kind count fields }}
        notifiedPartners {{ id name }} }} {ERRORS} }} }}"""
NOTICES = """query ($first: Int, $after: String, $filter: PrivacyNoticeFilter) {
    privacyNotices(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id ownerId partnerId subjectId subjectKind fields notifiedAt
            acknowledgedAt owner { id name } } }
        pageInfo { hasNextPage endCursor } } }"""
ACKNOWLEDGE = f"""mutation ($input: AcknowledgePrivacyNoticeInput!) {{
    acknowledgePrivacyNotice(input: $input) {{
        notice {{ id acknowledgedAt }} alreadyAcknowledged {ERRORS} }} }}"""


@dataclass
class PrivacyWorld:
    world: World
    quiet: Org
    quiet_token: str

    @property
    def owner(self) -> Org:
        return self.world.owner

    def token(self, who: str) -> str:
        return self.quiet_token if who == "quiet" else self.world.token[who]


async def build_privacy_world(
    client: httpx.AsyncClient, factory: Factory, sessions: Sessions
) -> PrivacyWorld:
    world = await build_world(client, factory, sessions)
    await grant(
        client,
        world,
        "second",
        "hUs",
        recordType="CUSTOMERS",
        selection="EXPLICIT",
        recordIds=[world.gid("cUs")],
        fieldPolicy=[{"field": "FULL_NAME", "visibility": "VISIBLE"}],
    )
    quiet = await factory.organisation("WQuiet")
    world.partnership["quiet"] = await partnership_row(
        sessions, world.owner, quiet, PartnershipStatus.ACTIVE
    )
    await data(client, world.token["partner"], CUSTOMER_LIST)
    await data(client, world.token["second"], CUSTOMER_LIST)
    return PrivacyWorld(world, quiet, await tokens.client_credentials(client, quiet.client))


async def erase(client: httpx.AsyncClient, token: str, subject_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await data(client, token, ERASE, input={"subjectId": subject_id}))[
        "erasePersonalData"
    ]
    return payload


async def counts(sessions: Sessions, *orgs: Org) -> dict[str, int]:
    """Events in these organisations' chains, and notices they sent or received."""
    ids = [org.id for org in orgs]
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM audit_events WHERE org_id = ANY(:ids)) AS events,"
                    " (SELECT count(*) FROM privacy_notices"
                    "  WHERE org_id = ANY(:ids) OR partner_org_id = ANY(:ids)) AS notices"
                ),
                {"ids": ids},
            )
        ).one()
    return {"events": row.events, "notices": row.notices}
