"""The world the isolation property runs in, and what each organisation in it may receive.

Two owners, four partners and a stranger. The owner `O` shares with `A` (ASSIGNED, EXPLICIT,
CONTRIBUTE on its cases), `B` (SEGMENT rules on region, stage, priority, industry and lifecycle,
for SALES, SERVICE and MARKETING, and CONTRIBUTE on its assigned opportunity), `G` (one live
grant, one revoked, one expired) and `D` (whose partnership is SUSPENDED). The second owner `O2`
shares with `A` too, and once shared with `G` through a partnership that has since ENDED.
Every organisation has records of its own. Every value that
must not travel is a unique, recognisable string: names, subjects, comment bodies, internal
notes and each contact's personal data carry a tag such as `tq3f9c1d2e4a5b`.

Records and partnerships are written as the database owner (fast, exact); grants are made,
revoked and left to expire the way owners do it, through the API with the owner's token (an
expiry is moved into the past in the database, since the API takes only future ones).

`expectation(viewer)` derives what each organisation may receive from this description alone,
independently of `hub/access`: the rule of DESIGN 1 ("a live grant covers it, the partnership
is ACTIVE, the customer consented to the grant's purpose") and the field policy ("the most
visible value over the covering grants"). The test checks the hub agrees with it before and after
the generated operations, and `forbidden(viewer)` turns it into the strings that must never
appear in that organisation's responses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cases.models import Case, CaseComment, CasePriority, CaseStatus, CommentVisibility
from hub.customers.models import Contact, Customer, LifecycleStage
from hub.grants.masking import PersonalField
from hub.grants.models import FieldVisibility, Grant
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.pagination import encode_cursor
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus
from resolvers.ids import NodeType, decode_any_id, encode_id
from tests import tokens
from tests.factories import Factory, Org

Sessions = async_sessionmaker[AsyncSession]

OWNERS = ("O", "O2")
# The organisations whose tokens the generated operations are sent with.
VIEWERS = ("A", "B", "G", "D", "S")
ORGANISATIONS = (*OWNERS, *VIEWERS)
READ_SCOPES = "customers:read opportunities:read cases:read partners:read"

_RANK = {FieldVisibility.HIDDEN: 0, FieldVisibility.MASKED: 1, FieldVisibility.VISIBLE: 2}
V, M = FieldVisibility.VISIBLE, FieldVisibility.MASKED
NAME, EMAIL, PHONE, TITLE = (
    PersonalField.FULL_NAME,
    PersonalField.EMAIL,
    PersonalField.PHONE,
    PersonalField.JOB_TITLE,
)


# --- the description -----------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSpec:
    owner: str
    region: str
    industry: str
    lifecycle: LifecycleStage
    consent: tuple[str, ...]
    contacts: int = 1


@dataclass(frozen=True)
class OpportunitySpec:
    customer: str
    stage: OpportunityStage
    assigned: str | None  # a partnership key


@dataclass(frozen=True)
class CaseSpec:
    customer: str
    status: CaseStatus
    priority: CasePriority
    raised_by: str  # an organisation key


@dataclass(frozen=True)
class GrantSpec:
    partnership: str
    record_type: str
    selection: str
    purpose: str
    access: str = "READ"
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    explicit: tuple[str, ...] = ()
    policy: Mapping[PersonalField, FieldVisibility] = field(default_factory=dict)
    ended: str | None = None  # "revoked" or "expired"


CUSTOMERS: dict[str, CustomerSpec] = {
    "c1": CustomerSpec("O", "EMEA", "Retail", LifecycleStage.CUSTOMER, ("SALES", "SERVICE"), 2),
    "c2": CustomerSpec("O", "EMEA", "Logistics", LifecycleStage.PROSPECT, ("SALES",)),
    "c3": CustomerSpec("O", "AMER", "Retail", LifecycleStage.CLIENT, ("SALES", "MARKETING"), 2),
    "c4": CustomerSpec("O", "AMER", "Energy", LifecycleStage.CUSTOMER, ("SERVICE",)),
    "c5": CustomerSpec(
        "O", "APAC", "Retail", LifecycleStage.ADVOCATE, ("SALES", "SERVICE", "MARKETING")
    ),
    "c6": CustomerSpec("O", "EMEA", "Retail", LifecycleStage.SUSPECT, ()),
    "d1": CustomerSpec("O2", "EMEA", "Retail", LifecycleStage.CUSTOMER, ("SALES",)),
    "d2": CustomerSpec("O2", "AMER", "Retail", LifecycleStage.CUSTOMER, ("SALES", "SERVICE")),
    # Every viewer keeps a customer of its own, consenting to everything.
    **{
        f"{org.lower()}0": CustomerSpec(
            org, "EMEA", "Retail", LifecycleStage.CUSTOMER, ("SALES", "SERVICE", "MARKETING")
        )
        for org in VIEWERS
    },
}

OPPORTUNITIES: dict[str, OpportunitySpec] = {
    "o1": OpportunitySpec("c1", OpportunityStage.PROPOSAL, "OA"),
    "o2": OpportunitySpec("c6", OpportunityStage.PROPOSAL, "OA"),
    "o3": OpportunitySpec("c3", OpportunityStage.NEGOTIATION, "OB"),
    "o4": OpportunitySpec("c3", OpportunityStage.CLOSED_LOST, None),
    "o5": OpportunitySpec("c4", OpportunityStage.PROSPECTING, None),
    "o6": OpportunitySpec("c2", OpportunityStage.QUALIFICATION, "OD"),
    "o7": OpportunitySpec("c5", OpportunityStage.CLOSED_WON, "OG"),
    "o8": OpportunitySpec("c2", OpportunityStage.PROPOSAL, None),
    "o9": OpportunitySpec("c1", OpportunityStage.NEGOTIATION, None),
    "r1": OpportunitySpec("d1", OpportunityStage.PROPOSAL, "O2A"),
    "r2": OpportunitySpec("d2", OpportunityStage.PROPOSAL, None),
    "r3": OpportunitySpec("d2", OpportunityStage.NEGOTIATION, "O2G"),
    **{
        f"{org.lower()}o": OpportunitySpec(f"{org.lower()}0", OpportunityStage.PROPOSAL, None)
        for org in VIEWERS
    },
}

CASES: dict[str, CaseSpec] = {
    "k1": CaseSpec("c1", CaseStatus.OPEN, CasePriority.HIGH, "A"),
    "k2": CaseSpec("c4", CaseStatus.NEW, CasePriority.URGENT, "O"),
    "k3": CaseSpec("c5", CaseStatus.ESCALATED, CasePriority.URGENT, "B"),
    "k4": CaseSpec("c2", CaseStatus.OPEN, CasePriority.LOW, "G"),
    "k5": CaseSpec("c6", CaseStatus.OPEN, CasePriority.URGENT, "A"),
    "k6": CaseSpec("c1", CaseStatus.PENDING_PARTNER, CasePriority.NORMAL, "D"),
    "k7": CaseSpec("c3", CaseStatus.OPEN, CasePriority.URGENT, "O"),
    "m1": CaseSpec("d1", CaseStatus.OPEN, CasePriority.HIGH, "A"),
    **{
        f"{org.lower()}k": CaseSpec(f"{org.lower()}0", CaseStatus.OPEN, CasePriority.HIGH, org)
        for org in VIEWERS
    },
}

# Key: owner + partner. Statuses are final; O2G was ACTIVE when its grant was made.
PARTNERSHIPS: dict[str, tuple[str, str, PartnershipStatus]] = {
    "OA": ("O", "A", PartnershipStatus.ACTIVE),
    "OB": ("O", "B", PartnershipStatus.ACTIVE),
    "OG": ("O", "G", PartnershipStatus.ACTIVE),
    "OD": ("O", "D", PartnershipStatus.SUSPENDED),
    "O2A": ("O2", "A", PartnershipStatus.ACTIVE),
    "O2G": ("O2", "G", PartnershipStatus.ENDED),
}

GRANTS: dict[str, GrantSpec] = {
    "gA_opp": GrantSpec("OA", "OPPORTUNITIES", "ASSIGNED", "SALES"),
    "gA_cust": GrantSpec(
        "OA", "CUSTOMERS", "EXPLICIT", "SALES", explicit=("c1", "c6"), policy={NAME: V, EMAIL: M}
    ),
    "gA_case": GrantSpec("OA", "CASES", "ASSIGNED", "SERVICE", access="CONTRIBUTE"),
    # B contributes to the opportunity assigned to it; its segment grant only reads, so nothing
    # B may change (a stage) moves a record in or out of what the expectation says it sees.
    "gB_assigned": GrantSpec("OB", "OPPORTUNITIES", "ASSIGNED", "SALES", access="CONTRIBUTE"),
    "gB_opp": GrantSpec(
        "OB",
        "OPPORTUNITIES",
        "SEGMENT",
        "SALES",
        include={"region": ("AMER",)},
        exclude={"stage": ("CLOSED_LOST",)},
    ),
    "gB_cust": GrantSpec(
        "OB",
        "CUSTOMERS",
        "SEGMENT",
        "MARKETING",
        include={"region": ("AMER",)},
        policy={EMAIL: V, PHONE: M, NAME: M},
    ),
    "gB_retail": GrantSpec(
        "OB",
        "CUSTOMERS",
        "SEGMENT",
        "SERVICE",
        include={"industry": ("Retail",)},
        exclude={"lifecycleStage": ("SUSPECT",)},
        policy={NAME: V, TITLE: M},
    ),
    "gB_case": GrantSpec(
        "OB", "CASES", "SEGMENT", "SERVICE", include={"priority": ("URGENT",)}, policy={EMAIL: V}
    ),
    "gG_cust": GrantSpec(
        "OG",
        "CUSTOMERS",
        "SEGMENT",
        "SALES",
        include={"region": ("EMEA",)},
        policy={PHONE: M, TITLE: V, NAME: V},
    ),
    "gG_opp": GrantSpec("OG", "OPPORTUNITIES", "ASSIGNED", "MARKETING"),
    "gG_revoked": GrantSpec(
        "OG", "OPPORTUNITIES", "EXPLICIT", "SALES", explicit=("o8", "o9"), ended="revoked"
    ),
    "gG_expired": GrantSpec(
        "OG", "CASES", "EXPLICIT", "SERVICE", explicit=("k4",), ended="expired"
    ),
    "gD_opp": GrantSpec("OD", "OPPORTUNITIES", "ASSIGNED", "SALES"),
    "gD_cust": GrantSpec(
        "OD",
        "CUSTOMERS",
        "SEGMENT",
        "SALES",
        include={"region": ("EMEA",)},
        policy={NAME: V, EMAIL: V, PHONE: V, TITLE: V},
    ),
    "gD_case": GrantSpec("OD", "CASES", "ASSIGNED", "SERVICE"),
    "hA_cust": GrantSpec(
        "O2A",
        "CUSTOMERS",
        "EXPLICIT",
        "SALES",
        explicit=("d1",),
        policy={NAME: V, EMAIL: V, PHONE: V, TITLE: V},
    ),
    "hA_opp": GrantSpec("O2A", "OPPORTUNITIES", "ASSIGNED", "SALES"),
    "hG_cust": GrantSpec(
        "O2G",
        "CUSTOMERS",
        "SEGMENT",
        "SALES",
        include={"region": ("AMER",)},
        policy={NAME: V, EMAIL: V, PHONE: V, TITLE: V},
    ),
}


# --- the built world -----------------------------------------------------------------------


def tag() -> str:
    """A unique marker that no generated text, id or mask can contain by accident."""
    return f"tq{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Record:
    """One row of a shared table, with the strings that identify it or that it carries."""

    key: str
    node_type: NodeType
    owner: str
    id: uuid.UUID
    texts: tuple[str, ...]  # travel only with the record
    internal: tuple[str, ...] = ()  # never leave the owner
    personal: Mapping[PersonalField, str] = field(default_factory=dict)
    customer: str | None = None  # contacts, opportunities, cases
    case: str | None = None  # comments
    shared: bool = True  # comments: SHARED or INTERNAL

    @property
    def global_id(self) -> str:
        return encode_id(self.node_type, self.id)


@dataclass
class World:
    orgs: dict[str, Org]
    tokens: dict[str, str]
    read_tokens: dict[str, str]
    records: dict[str, Record] = field(default_factory=dict)
    partnerships: dict[str, uuid.UUID] = field(default_factory=dict)
    grants: dict[str, uuid.UUID] = field(default_factory=dict)

    def of_type(self, node_type: NodeType) -> list[Record]:
        return [record for record in self.records.values() if record.node_type is node_type]

    def global_ids(self) -> list[str]:
        """Every global id the world knows: records, comments, users, orgs, partnerships, grants."""
        found = [record.global_id for record in self.records.values()]
        found += [encode_id(NodeType.USER, org.admin.id) for org in self.orgs.values()]
        found += self.organisation_ids()
        found += [encode_id(NodeType.PARTNERSHIP, key) for key in self.partnerships.values()]
        found += [encode_id(NodeType.GRANT, key) for key in self.grants.values()]
        return sorted(found)

    def organisation_ids(self) -> list[str]:
        return sorted(encode_id(NodeType.ORGANISATION, org.id) for org in self.orgs.values())

    def raw_ids(self) -> list[str]:
        return sorted(str(record.id) for record in self.records.values())


# --- the oracle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What one organisation may receive."""

    visible: frozenset[str]  # record keys
    policy: Mapping[str, Mapping[PersonalField, FieldVisibility]]  # shared contacts
    named: frozenset[str]  # records named by EXPLICIT grants made to it (grant.records)
    counterparts: frozenset[str]  # organisations on the other side of its partnerships


def _live(spec: GrantSpec) -> bool:
    return PARTNERSHIPS[spec.partnership][2] is PartnershipStatus.ACTIVE and spec.ended is None


def _allows(spec: GrantSpec, attribute: str, value: str | None) -> bool:
    """The segment's conditions on one attribute (include demands, exclude refuses)."""
    if attribute in spec.include and value not in spec.include[attribute]:
        return False
    return not (
        attribute in spec.exclude and value is not None and value in spec.exclude[attribute]
    )


def _customer_fits(spec: GrantSpec, customer: str) -> bool:
    row = CUSTOMERS[customer]
    attributes = {
        "region": row.region,
        "industry": row.industry,
        "lifecycleStage": row.lifecycle.value,
        "country": None,
        "size": None,
    }
    return spec.purpose in row.consent and all(
        _allows(spec, name, value) for name, value in attributes.items()
    )


def _covers(world: World, spec: GrantSpec, record: Record) -> bool:
    """Does this (live) grant share this record? DESIGN 1, written out once more."""
    owner, partner, _ = PARTNERSHIPS[spec.partnership]
    if record.owner != owner:
        return False
    if record.node_type in (NodeType.CUSTOMER, NodeType.CONTACT):
        customer = record.key if record.node_type is NodeType.CUSTOMER else record.customer
        assert customer is not None
        if spec.record_type != "CUSTOMERS" or not _customer_fits(spec, customer):
            return False
        if spec.selection == "EXPLICIT":
            return customer in spec.explicit
        if spec.selection == "ASSIGNED":
            return any(
                o.customer == customer and o.assigned == spec.partnership
                for o in OPPORTUNITIES.values()
            ) or any(k.customer == customer and k.raised_by == partner for k in CASES.values())
        return True
    if record.node_type is NodeType.OPPORTUNITY:
        opportunity = OPPORTUNITIES[record.key]
        if spec.record_type != "OPPORTUNITIES" or not _customer_fits(spec, opportunity.customer):
            return False
        if spec.selection == "EXPLICIT":
            return record.key in spec.explicit
        if spec.selection == "ASSIGNED":
            return opportunity.assigned == spec.partnership
        return _allows(spec, "stage", opportunity.stage.value)
    if record.node_type is NodeType.CASE:
        case = CASES[record.key]
        if spec.record_type != "CASES" or not _customer_fits(spec, case.customer):
            return False
        if spec.selection == "EXPLICIT":
            return record.key in spec.explicit
        if spec.selection == "ASSIGNED":
            return case.raised_by == partner
        return _allows(spec, "status", case.status.value) and _allows(
            spec, "priority", case.priority.value
        )
    if record.node_type is NodeType.CASE_COMMENT:
        assert record.case is not None
        return record.shared and _covers(world, spec, world.records[record.case])
    return False


def expectation(world: World, viewer: str) -> Expectation:
    live = [
        spec
        for spec in GRANTS.values()
        if PARTNERSHIPS[spec.partnership][1] == viewer and _live(spec)
    ]
    visible: set[str] = set()
    policy: dict[str, dict[PersonalField, FieldVisibility]] = {}
    for record in world.records.values():
        if record.owner == viewer:
            visible.add(record.key)
            continue
        covering = [spec for spec in live if _covers(world, spec, record)]
        if not covering:
            continue
        visible.add(record.key)
        if record.node_type is NodeType.CONTACT:
            combined = dict.fromkeys(PersonalField, FieldVisibility.HIDDEN)
            for spec in covering:
                for name, seen in spec.policy.items():
                    if _RANK[seen] > _RANK[combined[name]]:
                        combined[name] = seen
            policy[record.key] = combined
    named = {
        key
        for spec in GRANTS.values()
        if PARTNERSHIPS[spec.partnership][1] == viewer
        for key in spec.explicit
    }
    counterparts = {
        other
        for owner, partner, _ in PARTNERSHIPS.values()
        for other in (owner, partner)
        if viewer in (owner, partner) and other != viewer
    }
    return Expectation(frozenset(visible), policy, frozenset(named), frozenset(counterparts))


def forbidden(world: World, viewer: str) -> dict[str, str]:
    """Strings that must never reach `viewer`, each with what it is (for the failure message).

    - ids (global and raw) of records it may not see, unless an EXPLICIT grant made to it names
      them: `grant.records` lists those by design (ADR 0008, migration 20261124);
    - every text a record it may not see carries, and each contact's personal values;
    - the raw value of a personal field that is MASKED or HIDDEN for it on a contact it sees;
    - internal notes and INTERNAL comments of every other organisation;
    - other organisations' people (user ids, e-mail addresses);
    - organisations it has no partnership with: id, name, slug, OAuth client id;
    - partnerships it is not on, and grants not made to it.
    """
    expected = expectation(world, viewer)
    found: dict[str, str] = {}

    def add(values: Iterable[str], what: str) -> None:
        for value in values:
            found.setdefault(value, what)

    for record in world.records.values():
        if record.owner == viewer:
            continue
        what = f"{record.node_type.value} {record.key} of {record.owner}"
        add(record.internal, f"internal text of {what}")
        if record.key not in expected.visible:
            add(record.texts, f"text of unshared {what}")
            if record.key not in expected.named:
                ids = (record.global_id, str(record.id), encode_cursor(record.id))
                add(ids, f"id of unshared {what}")
        else:
            for name, value in record.personal.items():
                if expected.policy[record.key][name] is not FieldVisibility.VISIBLE:
                    seen = expected.policy[record.key][name].value
                    add([value], f"raw {name.value} ({seen}) of {what}")
    for key, org in world.orgs.items():
        if key == viewer:
            continue
        admin = org.admin
        add((str(admin.id), encode_id(NodeType.USER, admin.id), admin.email), f"user of {key}")
        if key not in expected.counterparts:
            identity = (org.name, org.slug, str(org.id), encode_id(NodeType.ORGANISATION, org.id))
            add((*identity, org.client.client_id), f"organisation {key}")
    for key, partnership_id in world.partnerships.items():
        if viewer not in PARTNERSHIPS[key][:2]:
            partnership = (str(partnership_id), encode_id(NodeType.PARTNERSHIP, partnership_id))
            add(partnership, f"partnership {key}")
    for key, grant_id in world.grants.items():
        if PARTNERSHIPS[GRANTS[key].partnership][1] != viewer:
            add((str(grant_id), encode_id(NodeType.GRANT, grant_id)), f"grant {key}")
    return found


# --- building it ---------------------------------------------------------------------------

CREATE_GRANT = """mutation ($input: CreateGrantInput!) { createGrant(input: $input) {
    grant { id } userErrors { field message code } } }"""
REVOKE_GRANT = """mutation ($id: ID!) { revokeGrant(input: {grantId: $id}) {
    grant { id live } userErrors { field message code } } }"""


async def build_world(client: httpx.AsyncClient, factory: Factory, sessions: Sessions) -> World:
    names = {"O": "IsoOwner", "O2": "IsoOtherOwner", "A": "IsoAlpha", "B": "IsoBeta"}
    names |= {"G": "IsoGamma", "D": "IsoDelta", "S": "IsoStranger"}
    orgs = {key: await factory.organisation(names[key]) for key in ORGANISATIONS}
    world = World(
        orgs,
        {key: await tokens.client_credentials(client, orgs[key].client) for key in ORGANISATIONS},
        {
            key: await tokens.client_credentials(client, orgs[key].client, READ_SCOPES)
            for key in VIEWERS
        },
    )
    ended_later: list[uuid.UUID] = []
    async with sessions() as session, session.begin():
        for key, (owner, partner, status) in PARTNERSHIPS.items():
            made = status if status is not PartnershipStatus.ENDED else PartnershipStatus.ACTIVE
            row = Partnership(
                org_id=orgs[owner].id,
                partner_org_id=orgs[partner].id,
                role=PartnerRole.DISTRIBUTOR,
                status=made,
            )
            session.add(row)
            await session.flush()
            world.partnerships[key] = row.id
            if made is not status:
                ended_later.append(row.id)
        await _records(session, world)
    for key, spec in GRANTS.items():
        world.grants[key] = await _grant(client, world, spec)
    await _end(world, sessions, ended_later)
    return world


async def _records(session: AsyncSession, world: World) -> None:
    orgs = world.orgs
    now = datetime.now(UTC)

    def keep(record: Record, row: Any) -> None:
        session.add(row)
        world.records[record.key] = record

    for key, spec in CUSTOMERS.items():
        row_id, name, domain = uuid.uuid4(), f"Customer {tag()}", f"{tag()}.example"
        keep(
            Record(key, NodeType.CUSTOMER, spec.owner, row_id, (name, domain)),
            Customer(
                id=row_id,
                org_id=orgs[spec.owner].id,
                name=name,
                domain=domain,
                lifecycle_stage=spec.lifecycle,
                region=spec.region,
                industry=spec.industry,
                consent_purposes=list(spec.consent),
            ),
        )
    await session.flush()
    for key, spec in CUSTOMERS.items():
        for index in range(spec.contacts):
            row_id = uuid.uuid4()
            personal = {
                NAME: f"Ada {tag()}",
                EMAIL: f"ada.{tag()}@analytical.example",
                PHONE: f"+44 {row_id.int % 10**10:010d}",
                TITLE: f"Engine Officer {tag()}",
            }
            contact_key = f"p{key}{'ab'[index]}"
            keep(
                Record(
                    contact_key,
                    NodeType.CONTACT,
                    spec.owner,
                    row_id,
                    tuple(personal.values()),
                    personal=personal,
                    customer=key,
                ),
                Contact(
                    id=row_id,
                    org_id=orgs[spec.owner].id,
                    customer_id=world.records[key].id,
                    full_name=personal[NAME],
                    email=personal[EMAIL],
                    phone=personal[PHONE],
                    job_title=personal[TITLE],
                ),
            )
    for key, opportunity in OPPORTUNITIES.items():
        owner = CUSTOMERS[opportunity.customer].owner
        row_id, name, next_step, notes = uuid.uuid4(), f"Deal {tag()}", f"Call {tag()}", tag()
        assigned = world.partnerships[opportunity.assigned] if opportunity.assigned else None
        keep(
            Record(
                key,
                NodeType.OPPORTUNITY,
                owner,
                row_id,
                (name, next_step),
                internal=(notes,),
                customer=opportunity.customer,
            ),
            Opportunity(
                id=row_id,
                org_id=orgs[owner].id,
                customer_id=world.records[opportunity.customer].id,
                name=name,
                stage=opportunity.stage,
                amount=Decimal("50000.00"),
                currency="EUR",
                probability=40,
                owner_user_id=orgs[owner].admin.id,
                assigned_partnership_id=assigned,
                source=OpportunitySource.DIRECT,
                next_step=next_step,
                internal_notes=f"internal: {notes}",
            ),
        )
    for key, case in CASES.items():
        owner = CUSTOMERS[case.customer].owner
        row_id, subject, description = uuid.uuid4(), f"Case {tag()}", f"Fire {tag()}"
        keep(
            Record(
                key,
                NodeType.CASE,
                owner,
                row_id,
                (subject, description),
                customer=case.customer,
            ),
            Case(
                id=row_id,
                org_id=orgs[owner].id,
                customer_id=world.records[case.customer].id,
                subject=subject,
                description=description,
                priority=case.priority,
                status=case.status,
                raised_by_org_id=orgs[case.raised_by].id,
                assignee_user_id=orgs[owner].admin.id,
                first_response_due_at=now + timedelta(hours=4),
                resolution_due_at=now + timedelta(days=1),
            ),
        )
    await session.flush()
    for key, case in CASES.items():
        owner = CUSTOMERS[case.customer].owner
        for suffix, visibility in (
            ("s", CommentVisibility.SHARED),
            ("i", CommentVisibility.INTERNAL),
        ):
            row_id, body = uuid.uuid4(), f"{visibility.value.lower()}: {tag()}"
            shared = visibility is CommentVisibility.SHARED
            keep(
                Record(
                    f"{key}{suffix}",
                    NodeType.CASE_COMMENT,
                    owner,
                    row_id,
                    (body,) if shared else (),
                    internal=() if shared else (body,),
                    case=key,
                    shared=shared,
                ),
                CaseComment(
                    id=row_id,
                    org_id=orgs[owner].id,
                    case_id=world.records[key].id,
                    author_org_id=orgs[owner].id,
                    author_user_id=orgs[owner].admin.id,
                    visibility=visibility,
                    body=body,
                ),
            )


async def _grant(client: httpx.AsyncClient, world: World, spec: GrantSpec) -> uuid.UUID:
    owner = PARTNERSHIPS[spec.partnership][0]
    segment = [
        {"attribute": name, "values": list(values), "negated": negated}
        for negated, rules in ((False, spec.include), (True, spec.exclude))
        for name, values in rules.items()
    ]
    values: dict[str, Any] = {
        "partnershipId": encode_id(NodeType.PARTNERSHIP, world.partnerships[spec.partnership]),
        "recordType": spec.record_type,
        "access": spec.access,
        "selection": spec.selection,
        "purpose": spec.purpose,
        "fieldPolicy": [
            {"field": name.name, "visibility": seen.value} for name, seen in spec.policy.items()
        ],
    }
    if segment:
        values["segment"] = segment
    if spec.explicit:
        values["recordIds"] = [world.records[key].global_id for key in spec.explicit]
    if spec.ended == "expired":
        values["expiresAt"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await tokens.graphql(client, world.tokens[owner], CREATE_GRANT, {"input": values})
    payload = response.json()["data"]["createGrant"]
    assert payload["userErrors"] == [], payload
    made: str = payload["grant"]["id"]
    if spec.ended == "revoked":
        response = await tokens.graphql(client, world.tokens[owner], REVOKE_GRANT, {"id": made})
        assert response.json()["data"]["revokeGrant"]["grant"]["live"] is False, response.text
    return decode_any_id(made)[1]


async def _end(world: World, sessions: Sessions, ended: list[uuid.UUID]) -> None:
    """Expire the grants meant to be expired and end the partnerships meant to be ended."""
    expired = [world.grants[key] for key, spec in GRANTS.items() if spec.ended == "expired"]
    async with sessions() as session, session.begin():
        past = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(update(Grant).where(Grant.id.in_(expired)).values(expires_at=past))
        await session.execute(
            update(Partnership)
            .where(Partnership.id.in_(ended))
            .values(status=PartnershipStatus.ENDED)
        )
