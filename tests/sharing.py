"""A small sharing world: one owner, two partners of it, a stranger, records and grants.

Records are written as the database owner (fast, exact); partnerships and grants are made the
way owners make them, through the API with real tokens. `World.expected` says, per partner,
which records its grants share, so tests can compare what comes back with what should.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cases.models import Case, CaseComment, CasePriority, CaseStatus, CommentVisibility
from hub.customers.models import CompanySize, Contact, Customer, LifecycleStage
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.partnerships.models import PartnershipStatus
from resolvers.ids import NodeType, decode_any_id, encode_id
from tests import tokens
from tests.api.test_partnerships import data as data
from tests.api.test_partnerships import partnership_row
from tests.factories import Factory, Org

Sessions = async_sessionmaker[AsyncSession]

ERRORS = "userErrors { field message code }"
CREATE_GRANT = f"""mutation ($input: CreateGrantInput!) {{ createGrant(input: $input) {{
    grant {{ id version }} {ERRORS} }} }}"""

# What a partner portal asks for; every shared type and every field a partner could misuse.
CONTACT_FIELDS = "id fullName email phone jobTitle"
CUSTOMER_FIELDS = f"id name domain region consentPurposes contacts {{ {CONTACT_FIELDS} }}"
OPPORTUNITY_FIELDS = (
    f"id name stage amount internalNotes nextStep customer {{ {CUSTOMER_FIELDS} }} "
    "owner { id displayName }"
)
CASE_FIELDS = (
    "id subject status priority customer { id name } assignee { id } "
    "comments { id body visibility }"
)
LISTS = f"""query ($owner: ID) {{
    customers(first: 100, filter: {{owner: $owner}}) {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }}
    opportunities(first: 100, filter: {{owner: $owner}}) {{
        edges {{ node {{ {OPPORTUNITY_FIELDS} }} }} }}
    cases(first: 100, filter: {{owner: $owner}}) {{ edges {{ node {{ {CASE_FIELDS} }} }} }}
}}"""
NODE = f"""query ($id: ID!) {{ node(id: $id) {{ id
    ... on Customer {{ {CUSTOMER_FIELDS} }}
    ... on Contact {{ {CONTACT_FIELDS} }}
    ... on Opportunity {{ {OPPORTUNITY_FIELDS} }}
    ... on Case {{ {CASE_FIELDS} }} }} }}"""

SECRET = "internal: walk away below 40k"
INTERNAL_COMMENT = "internal: customer is difficult"


def gid(node_type: NodeType, record_id: uuid.UUID) -> str:
    return encode_id(node_type, record_id)


def uuid_of(global_id: str) -> uuid.UUID:
    return decode_any_id(global_id)[1]


@dataclass
class Sharing:
    """An owner, its partner and their partnership, with tokens of every scope for both."""

    owner: Org
    partner: Org
    partnership_id: str
    owner_token: str
    partner_token: str


async def sharing(
    client: httpx.AsyncClient,
    factory: Factory,
    sessions: Sessions,
    status: PartnershipStatus = PartnershipStatus.ACTIVE,
    owner: Org | None = None,
    *,
    prefix: str = "Sh",
) -> Sharing:
    """A fresh owner (unless given) and partner, partnered in `status`."""
    owner = owner or await factory.organisation(f"{prefix}Owner")
    partner = await factory.organisation(f"{prefix}Partner")
    partnership_id = await partnership_row(sessions, owner, partner, status)
    return Sharing(
        owner,
        partner,
        partnership_id,
        await tokens.client_credentials(client, owner.client),
        await tokens.client_credentials(client, partner.client),
    )


@dataclass
class World:
    owner: Org
    partner: Org
    second: Org
    stranger: Org
    token: dict[str, str]
    partnership: dict[str, str]
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)

    def gid(self, name: str) -> str:
        kind = {
            "c": NodeType.CUSTOMER,
            "p": NodeType.CONTACT,
            "o": NodeType.OPPORTUNITY,
            "k": NodeType.CASE,
        }[name[0]]
        return gid(kind, self.ids[name])

    async def lists(
        self, client: httpx.AsyncClient, who: str, owner: Org | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The partner's customers, opportunities and cases, in one request."""
        variables = {"owner": gid(NodeType.ORGANISATION, owner.id)} if owner else {}
        result = await data(client, self.token[who], LISTS, **variables)
        return {name: [edge["node"] for edge in page["edges"]] for name, page in result.items()}

    async def listed_ids(
        self, client: httpx.AsyncClient, who: str, owner: Org | None = None
    ) -> dict[str, set[str]]:
        lists = await self.lists(client, who, owner)
        return {name: {node["id"] for node in nodes} for name, nodes in lists.items()}

    def expected_ids(self, *names: str) -> dict[str, set[str]]:
        """`names` sorted into the three lists, as global ids."""
        kinds = {"c": "customers", "o": "opportunities", "k": "cases"}
        result: dict[str, set[str]] = {"customers": set(), "opportunities": set(), "cases": set()}
        for name in names:
            result[kinds[name[0]]].add(self.gid(name))
        return result


async def grant(
    client: httpx.AsyncClient, world: World, who: str, name: str, **values: Any
) -> dict[str, Any]:
    """The owner grants `who` something; the grant's id and version under `name`."""
    variables = {
        "partnershipId": world.partnership[who],
        "access": "READ",
        "purpose": "SALES",
        **values,
    }
    payload = (await data(client, world.token["owner"], CREATE_GRANT, input=variables))[
        "createGrant"
    ]
    assert payload["userErrors"] == [], payload
    world.grants[name] = payload["grant"]
    return dict(payload["grant"])


async def build_world(
    client: httpx.AsyncClient, factory: Factory, sessions: Sessions, *, grants: bool = True
) -> World:
    """The records below, and (unless `grants=False`) the grants that share some of them.

    customers  cEu (EMEA, Retail, consents SALES+SERVICE), cUs (AMER, SALES), cNone (EMEA, none)
    contacts   pEu (of cEu), pUs (of cUs), pNone (of cNone)
    opps       oP (cEu, assigned to partner, PROPOSAL, internal notes), oQ (cUs, assigned to
               second, PROPOSAL), oPNoConsent (cNone, assigned to partner), oOpen (cEu,
               NEGOTIATION), oLost (cUs, CLOSED_LOST)
    cases      kP (cEu, raised by partner; a SHARED and an INTERNAL comment), kQ (cEu, raised by
               second), kOwner (cUs, raised by the owner, URGENT)
    partner:   OPPORTUNITIES ASSIGNED READ SALES; CUSTOMERS EXPLICIT [cEu, cNone] READ SALES
               (fullName VISIBLE, email MASKED, phone and jobTitle HIDDEN); CASES ASSIGNED
               CONTRIBUTE SERVICE
    second:    OPPORTUNITIES SEGMENT region AMER, not CLOSED_LOST, READ SALES; CUSTOMERS SEGMENT
               region AMER for MARKETING (no customer consented: shares nothing)
    """
    owner = await factory.organisation("WOwner")
    partner = await factory.organisation("WPartner")
    second = await factory.organisation("WSecond")
    stranger = await factory.organisation("WStranger")
    token = {
        "owner": await tokens.client_credentials(client, owner.client),
        "partner": await tokens.client_credentials(client, partner.client),
        "second": await tokens.client_credentials(client, second.client),
        "stranger": await tokens.client_credentials(client, stranger.client),
    }
    world = World(
        owner,
        partner,
        second,
        stranger,
        token,
        {
            "partner": await partnership_row(sessions, owner, partner, PartnershipStatus.ACTIVE),
            "second": await partnership_row(sessions, owner, second, PartnershipStatus.ACTIVE),
        },
    )
    await _records(sessions, world)
    if grants:
        await grant(
            client, world, "partner", "gOpp", recordType="OPPORTUNITIES", selection="ASSIGNED"
        )
        await grant(
            client,
            world,
            "partner",
            "gCust",
            recordType="CUSTOMERS",
            selection="EXPLICIT",
            recordIds=[world.gid("cEu"), world.gid("cNone")],
            fieldPolicy=[
                {"field": "FULL_NAME", "visibility": "VISIBLE"},
                {"field": "EMAIL", "visibility": "MASKED"},
            ],
        )
        await grant(
            client,
            world,
            "partner",
            "gCase",
            recordType="CASES",
            selection="ASSIGNED",
            access="CONTRIBUTE",
            purpose="SERVICE",
        )
        await grant(
            client,
            world,
            "second",
            "hOpp",
            recordType="OPPORTUNITIES",
            selection="SEGMENT",
            segment=[
                {"attribute": "region", "values": ["AMER"]},
                {"attribute": "stage", "values": ["CLOSED_LOST"], "negated": True},
            ],
        )
        await grant(
            client,
            world,
            "second",
            "hCust",
            recordType="CUSTOMERS",
            selection="SEGMENT",
            purpose="MARKETING",
            segment=[{"attribute": "region", "values": ["AMER"]}],
            fieldPolicy=[{"field": "EMAIL", "visibility": "VISIBLE"}],
        )
    return world


async def _records(sessions: Sessions, world: World) -> None:
    owner = world.owner
    partnership_p, partnership_q = (uuid_of(world.partnership[w]) for w in ("partner", "second"))
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():

        def add(name: str, row: Any) -> Any:
            session.add(row)
            world.ids[name] = row.id
            return row

        customers = {
            "cEu": ("Eu Retail GmbH", "EMEA", "Retail", ["SALES", "SERVICE"]),
            "cUs": ("Us Freight Inc", "AMER", "Logistics", ["SALES"]),
            "cNone": ("Quiet Ltd", "EMEA", "Retail", []),
        }
        for name, (title, region, industry, consent) in customers.items():
            add(
                name,
                Customer(
                    id=uuid.uuid4(),
                    org_id=owner.id,
                    name=title,
                    domain=f"{name.lower()}.example",
                    lifecycle_stage=LifecycleStage.CUSTOMER,
                    region=region,
                    industry=industry,
                    size=CompanySize.MEDIUM,
                    consent_purposes=consent,
                ),
            )
        await session.flush()
        for name, customer in (("pEu", "cEu"), ("pUs", "cUs"), ("pNone", "cNone")):
            add(
                name,
                Contact(
                    id=uuid.uuid4(),
                    org_id=owner.id,
                    customer_id=world.ids[customer],
                    full_name="Ada Lovelace",
                    email="ada.lovelace@analytical.example",
                    phone="+44 20 7946 0958",
                    job_title="Chief Engine Officer",
                ),
            )
        opportunities = {
            "oP": ("cEu", partnership_p, OpportunityStage.PROPOSAL),
            "oQ": ("cUs", partnership_q, OpportunityStage.PROPOSAL),
            "oPNoConsent": ("cNone", partnership_p, OpportunityStage.PROPOSAL),
            "oOpen": ("cEu", None, OpportunityStage.NEGOTIATION),
            "oLost": ("cUs", None, OpportunityStage.CLOSED_LOST),
        }
        for name, (customer, assigned, stage) in opportunities.items():
            add(
                name,
                Opportunity(
                    id=uuid.uuid4(),
                    org_id=owner.id,
                    customer_id=world.ids[customer],
                    name=f"Deal {name}",
                    stage=stage,
                    amount=Decimal("50000.00"),
                    currency="EUR",
                    probability=40,
                    owner_user_id=owner.admin.id,
                    assigned_partnership_id=assigned,
                    source=OpportunitySource.DIRECT,
                    next_step="Call back",
                    internal_notes=SECRET,
                ),
            )
        cases = {
            "kP": ("cEu", world.partner.id, CasePriority.HIGH),
            "kQ": ("cEu", world.second.id, CasePriority.NORMAL),
            "kOwner": ("cUs", owner.id, CasePriority.URGENT),
        }
        for name, (customer, raised_by, priority) in cases.items():
            add(
                name,
                Case(
                    id=uuid.uuid4(),
                    org_id=owner.id,
                    customer_id=world.ids[customer],
                    subject=f"Case {name}",
                    description="Printer on fire.",
                    priority=priority,
                    status=CaseStatus.OPEN,
                    raised_by_org_id=raised_by,
                    assignee_user_id=owner.admin.id,
                    first_response_due_at=now + timedelta(hours=4),
                    resolution_due_at=now + timedelta(days=1),
                ),
            )
        await session.flush()
        for name, visibility, body in (
            ("mShared", CommentVisibility.SHARED, "We are on it."),
            ("mInternal", CommentVisibility.INTERNAL, INTERNAL_COMMENT),
        ):
            add(
                name,
                CaseComment(
                    id=uuid.uuid4(),
                    org_id=owner.id,
                    case_id=world.ids["kP"],
                    author_org_id=owner.id,
                    author_user_id=owner.admin.id,
                    visibility=visibility,
                    body=body,
                ),
            )
