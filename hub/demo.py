"""Deterministic demo data: two owners, three partners and a year of CRM history.

`hub demo` and `hub serve --demo` need a hub that looks lived-in: every opportunity stage,
every case status, partner-registered deals, a distributor that works for both owners.
Everything is drawn from one `random.Random(seed)` and one Faker seeded with the same
number, so two runs on the same day write the same rows; only the API clients' ids and
secrets differ, because `register_client` makes those with `secrets` on purpose.

The session must belong to the database owner: the rows of several tenants are written in
one transaction, which row-level security would refuse to the application role. Large
tables go in as bulk inserts so seeding takes seconds.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from faker import Faker
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Role
from hub.access.scopes import ALL_SCOPES, Scope
from hub.cases.models import Case, CaseComment, CasePriority, CaseStatus, CommentVisibility
from hub.cases.states import SLA_TARGETS
from hub.customers.models import CompanySize, Contact, Customer, LifecycleStage, Purpose
from hub.db import Base
from hub.deals.models import DealRegistration
from hub.demo_sharing import GRANTS, grant_rows, registration_rows
from hub.errors import HubError
from hub.grants.models import Grant, GrantRecord
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.orgs.clients import register_client
from hub.orgs.models import Organisation, User
from hub.partnerships.models import PartnerRole, Partnership, PartnershipStatus

__all__ = ["DemoAlreadySeeded", "DemoClient", "DemoCredentials", "seed_demo"]

T = TypeVar("T")
Row = dict[str, Any]

CUSTOMERS_PER_OWNER = 220
OPPORTUNITIES_PER_OWNER = 500
CASES_PER_OWNER = 200
HISTORY = timedelta(days=365)
CENT = Decimal("0.01")

PARTNER_SCOPES: tuple[str, ...] = tuple(
    scope.value
    for scope in (
        Scope.CUSTOMERS_READ,
        Scope.OPPORTUNITIES_READ,
        Scope.OPPORTUNITIES_WRITE,
        Scope.CASES_READ,
        Scope.CASES_WRITE,
        Scope.DEALS_REGISTER,
        Scope.PARTNERS_READ,
    )
)

USER_ROLES = (Role.ADMIN, Role.MANAGER, Role.SALES, Role.SUPPORT, Role.SALES)

INDUSTRIES = (
    "Software",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Financial Services",
    "Logistics",
    "Education",
    "Energy",
    "Telecommunications",
    "Public Sector",
)

# ISO 3166 country and its calling code, per sales region.
COUNTRIES: dict[str, tuple[tuple[str, int], ...]] = {
    "EMEA": (("DE", 49), ("FR", 33), ("GB", 44), ("NL", 31), ("SE", 46), ("ES", 34), ("AE", 971)),
    "NA": (("US", 1), ("CA", 1)),
    "APAC": (("JP", 81), ("AU", 61), ("SG", 65), ("IN", 91), ("KR", 82)),
    "LATAM": (("BR", 55), ("MX", 52), ("AR", 54), ("CL", 56), ("CO", 57)),
}
REGION_WEIGHTS = {"EMEA": 40, "NA": 30, "APAC": 20, "LATAM": 10}

JOB_TITLES = (
    "Chief Information Officer",
    "IT Director",
    "Head of Operations",
    "Procurement Manager",
    "Finance Director",
    "Systems Administrator",
    "Service Desk Manager",
    "Network Engineer",
    "Category Manager",
    "VP Engineering",
)

# Words that say what kind of company it is, not which one; left out of derived domains.
COMPANY_SUFFIXES = frozenset({"inc", "llc", "ltd", "plc", "group", "and", "sons", "co", "corp"})

LIFECYCLE_WEIGHTS = {
    LifecycleStage.SUSPECT: 15,
    LifecycleStage.PROSPECT: 25,
    LifecycleStage.CUSTOMER: 25,
    LifecycleStage.CLIENT: 15,
    LifecycleStage.SUPPORTER: 12,
    LifecycleStage.ADVOCATE: 8,
}
SIZE_WEIGHTS = {
    CompanySize.SMALL: 35,
    CompanySize.MEDIUM: 35,
    CompanySize.LARGE: 20,
    CompanySize.ENTERPRISE: 10,
}
STAGE_WEIGHTS = {
    OpportunityStage.PROSPECTING: 18,
    OpportunityStage.QUALIFICATION: 17,
    OpportunityStage.PROPOSAL: 15,
    OpportunityStage.NEGOTIATION: 12,
    OpportunityStage.CLOSED_WON: 21,
    OpportunityStage.CLOSED_LOST: 17,
}
# Win probability in percent, as a sales team would forecast each stage.
STAGE_PROBABILITY: dict[OpportunityStage, tuple[int, int]] = {
    OpportunityStage.PROSPECTING: (5, 15),
    OpportunityStage.QUALIFICATION: (20, 35),
    OpportunityStage.PROPOSAL: (40, 60),
    OpportunityStage.NEGOTIATION: (65, 85),
    OpportunityStage.CLOSED_WON: (100, 100),
    OpportunityStage.CLOSED_LOST: (0, 0),
}
CLOSED_STAGES = frozenset({OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST})
NEXT_STEPS: dict[OpportunityStage, tuple[str, ...]] = {
    OpportunityStage.PROSPECTING: (
        "Book a discovery call with {contact}",
        "Send the introduction deck",
        "Find out who supplies them today",
    ),
    OpportunityStage.QUALIFICATION: (
        "Confirm budget and timeline with {contact}",
        "Map the decision makers",
        "Run a technical fit workshop",
    ),
    OpportunityStage.PROPOSAL: (
        "Send proposal v2 with volume pricing",
        "Walk {contact} through the quote",
        "Agree the pilot scope",
    ),
    OpportunityStage.NEGOTIATION: (
        "Legal review of the MSA redlines",
        "Final pricing call with procurement",
        "Get the order form signed",
    ),
    OpportunityStage.CLOSED_WON: ("Hand over to onboarding", "Schedule the kickoff with {contact}"),
    OpportunityStage.CLOSED_LOST: ("Ask {contact} for loss feedback", "Revisit at renewal"),
}
INTERNAL_NOTES = (
    "Competing with {competitor} on price; {contact} is our champion.",
    "Discount ceiling of {discount}% approved by sales management.",
    "Customer asked us to keep the pricing confidential.",
    "Budget freeze until Q{quarter}; keep the relationship warm.",
    "{competitor} offered a free first year; do not match it.",
    "Procurement insists on 60-day payment terms.",
)

STATUS_WEIGHTS = {
    CaseStatus.NEW: 8,
    CaseStatus.OPEN: 14,
    CaseStatus.PENDING_PARTNER: 8,
    CaseStatus.PENDING_CUSTOMER: 8,
    CaseStatus.ESCALATED: 6,
    CaseStatus.RESOLVED: 14,
    CaseStatus.CLOSED: 42,
}
PRIORITY_WEIGHTS = {
    CasePriority.LOW: 25,
    CasePriority.NORMAL: 45,
    CasePriority.HIGH: 20,
    CasePriority.URGENT: 10,
}
# How far back a case in this status may have been opened: new cases are days old.
STATUS_AGE: dict[CaseStatus, timedelta] = {
    CaseStatus.NEW: timedelta(days=3),
    CaseStatus.OPEN: timedelta(days=45),
    CaseStatus.PENDING_PARTNER: timedelta(days=45),
    CaseStatus.PENDING_CUSTOMER: timedelta(days=45),
    CaseStatus.ESCALATED: timedelta(days=30),
    CaseStatus.RESOLVED: timedelta(days=20),
    CaseStatus.CLOSED: timedelta(days=320),
}
SATISFACTION_WEIGHTS = {1: 4, 2: 6, 3: 15, 4: 35, 5: 40}
SHARED_COMMENTS = (
    "Thanks {contact}, we have reproduced the issue and are working on a fix.",
    "Could you send us the logs from the affected system? A zip file on this case is fine.",
    "A fix is deployed; please confirm whether the problem is gone on your side.",
    "Replacement parts are on their way, tracking number {tracking}.",
    "We are waiting for the partner to confirm before we go ahead.",
)
INTERNAL_COMMENTS = (
    "Enterprise contract: the contractual SLA applies, not the standard one.",
    "Probably the same root cause as last month's incident; linked the engineering ticket.",
    "Entitlement checked, the support contract is valid.",
    "Do not share the workaround yet, it has not passed QA.",
    "Account manager informed; renewal is due next quarter.",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@dataclass(frozen=True)
class _Owner:
    """An organisation that owns CRM data; its catalogue makes its deals and cases read true."""

    name: str
    slug: str
    mail_domain: str
    serial_prefix: str
    amount_range: tuple[int, int]
    products: tuple[str, ...]
    competitors: tuple[str, ...]
    issues: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Partner:
    name: str
    slug: str
    role: PartnerRole
    owner_slugs: tuple[str, ...]


NORTHWIND = _Owner(
    name="Northwind Software",
    slug="northwind-software",
    mail_domain="northwind.example",
    serial_prefix="NW",
    amount_range=(5_000, 400_000),
    products=(
        "CRM Cloud licences",
        "Analytics add-on",
        "Premium support renewal",
        "Platform migration",
        "Security suite",
        "Integration services",
    ),
    competitors=("Proseware", "Wingtip Software", "Tailspin Systems"),
    issues=(
        (
            "SSO login fails after IdP certificate rotation",
            "Since the SAML signing certificate was rotated on {weekday}, {count} users at "
            "{customer} see 'invalid signature' at login. {contact} confirmed the new "
            "certificate is uploaded in the admin console.",
        ),
        (
            "Nightly API sync hits the rate limit (HTTP 429)",
            "The integration at {customer} that syncs orders to their ERP fails around 02:00 "
            "UTC with 429 responses after about {count} requests. Retry-After is honoured, "
            "but the job times out.",
        ),
        (
            "Pipeline report export times out",
            "Exporting the pipeline report with more than {count} rows spins for minutes and "
            "ends in a gateway timeout. Smaller exports work.",
        ),
        (
            "Licence count does not match the invoice",
            "{contact} reports that the admin console shows {count} assigned seats while the "
            "latest invoice bills for more. Please reconcile before the renewal.",
        ),
        (
            "Webhook deliveries delayed by several hours",
            "Record-update webhooks reach {customer}'s endpoint hours late, although their "
            "endpoint answers within 200 ms according to their logs.",
        ),
        (
            "Custom dashboard widgets blank after upgrade to {version}",
            "Since the upgrade to {version}, custom dashboard widgets render blank for every "
            "user. The browser console shows a script error in the widget loader.",
        ),
        (
            "Request to restore a deleted workspace",
            "An administrator at {customer} deleted a workspace by mistake on {weekday}. "
            "{contact} asks whether it can be restored from backup.",
        ),
        (
            "Two-factor codes not arriving by SMS",
            "{count} users at {customer} on one mobile carrier receive no SMS codes; "
            "authenticator app codes work.",
        ),
        (
            "Search shows stale results",
            "Records edited in the last hour do not appear in search results at {customer}.",
        ),
        (
            "Countersigned DPA needed before go-live",
            "{contact} from legal needs a countersigned data processing agreement with the "
            "current sub-processor list before {customer} goes live.",
        ),
    ),
)

CONTOSO = _Owner(
    name="Contoso Hardware",
    slug="contoso-hardware",
    mail_domain="contoso.example",
    serial_prefix="CT",
    amount_range=(2_000, 900_000),
    products=(
        "Rugged laptop fleet",
        "Server refresh",
        "Edge gateways",
        "Warehouse scanners",
        "Thin client rollout",
        "Extended hardware warranty",
    ),
    competitors=("Coho Devices", "Wide World Hardware", "Lucerne Systems"),
    issues=(
        (
            "Docking stations dead on arrival",
            "{count} of the docking stations delivered to {customer} last week do not power "
            "on. Serial numbers start with {serial}.",
        ),
        (
            "RMA for failed SSD in rack server {serial}",
            "Server {serial} at {customer} reports a predictive failure on drive bay 3. "
            "{contact} requests an advance replacement.",
        ),
        (
            "Firmware {version} leaves edge gateway in a boot loop",
            "After firmware {version} was applied, gateway {serial} is stuck in a boot loop. "
            "Recovery from USB did not help.",
        ),
        (
            "Shipment arrived with damaged pallets",
            "The delivery to {customer}'s warehouse arrived with two crushed pallets; {count} "
            "units are visibly damaged. {contact} attached photos.",
        ),
        (
            "Warehouse scanners drop Wi-Fi when roaming",
            "Handheld scanners at {customer} lose the network when roaming between access "
            "points, about {count} times per shift.",
        ),
        (
            "Swollen batteries in rugged laptops",
            "{contact} reports swollen batteries in {count} rugged laptops bought last year. "
            "The units have been taken out of service.",
        ),
        (
            "Wrong power cords in order",
            "The order for {customer} shipped with the wrong power cords for {count} units.",
        ),
        (
            "Thin clients fail PXE boot after BIOS {version}",
            "Since BIOS update {version}, thin clients at {customer} no longer boot from the "
            "network; {count} desks are affected.",
        ),
        (
            "Quote for five-year warranty extension",
            "{contact} asks for a quote to extend the warranty on {count} servers to five years.",
        ),
        (
            "Server fans at full speed after BMC update",
            "Rack server {serial} runs every fan at 100% since the BMC update; temperatures "
            "are normal.",
        ),
    ),
)

OWNERS = (NORTHWIND, CONTOSO)
PARTNERS = (
    _Partner(
        "Fabrikam Distribution",
        "fabrikam-distribution",
        PartnerRole.DISTRIBUTOR,
        (NORTHWIND.slug, CONTOSO.slug),
    ),
    _Partner("Litware Resellers", "litware-resellers", PartnerRole.RESELLER, (NORTHWIND.slug,)),
    _Partner(
        "Adventure Works Supply", "adventure-works-supply", PartnerRole.SUPPLIER, (NORTHWIND.slug,)
    ),
)
DISTRIBUTOR = PARTNERS[0]


class DemoAlreadySeeded(HubError):
    """The demo organisations exist already; seeding twice would duplicate every tenant."""


class DemoNeedsMaintenanceRole(HubError):
    """Seeding writes every tenant at once, which row-level security forbids to ordinary roles."""


@dataclass(frozen=True)
class DemoClient:
    organisation: str
    role: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class DemoCredentials:
    """The clear secrets of the demo clients: shown to the person who seeded, stored nowhere."""

    clients: list[DemoClient]

    def to_json(self) -> dict[str, object]:
        return {
            "clients": [
                {
                    "organisation": client.organisation,
                    "role": client.role,
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                    "scopes": list(client.scopes),
                }
                for client in self.clients
            ]
        }


@dataclass
class _Seed:
    """The only sources of chance and time, so the same seed gives the same rows."""

    rng: random.Random
    fake: Any
    now: datetime

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def moment(self, earliest: datetime, latest: datetime) -> datetime:
        """A whole second between the two (or `earliest` when they are out of order)."""
        seconds = max(int((latest - earliest).total_seconds()), 0)
        return earliest + timedelta(seconds=self.rng.randint(0, seconds))

    def spread(self, weights: Mapping[T, int], count: int) -> list[T]:
        """Every value at least once, the rest by weight, shuffled.

        A demo that never shows a lost deal or an escalated case hides part of the product.
        """
        values = list(weights)
        drawn = self.rng.choices(values, weights=list(weights.values()), k=count - len(values))
        picked = values + drawn
        self.rng.shuffle(picked)
        return picked


@dataclass
class _Tenant:
    """One owner's people and partnerships, which its CRM rows point to."""

    owner: _Owner
    org_id: uuid.UUID
    distributor_org_id: uuid.UUID
    users: dict[Role, list[uuid.UUID]] = field(default_factory=dict)
    partnership_ids: list[uuid.UUID] = field(default_factory=list)
    contact_names: dict[uuid.UUID, list[str]] = field(default_factory=dict)

    def user(self, rng: random.Random, *roles: Role) -> uuid.UUID:
        return rng.choice([user for role in roles for user in self.users[role]])


@dataclass
class _Tables:
    """Rows per model, filled tenant by tenant and inserted table by table."""

    rows: dict[type[Base], list[Row]] = field(default_factory=dict)

    def add(self, model: type[Base], rows: list[Row]) -> None:
        self.rows.setdefault(model, []).extend(rows)


# Parents before children, so every foreign key finds its row.
INSERT_ORDER: tuple[type[Base], ...] = (
    Organisation,
    User,
    Partnership,
    Customer,
    Contact,
    Opportunity,
    Case,
    CaseComment,
    Grant,
    GrantRecord,
    DealRegistration,
)


async def seed_demo(
    session: AsyncSession, *, seed: int = 2026, now: datetime | None = None
) -> DemoCredentials:
    """Write the demo organisations, their CRM history and one API client each.

    `now` anchors the year of history; it defaults to today's midnight UTC so that two runs
    on the same day agree. Raises `DemoAlreadySeeded` rather than duplicating the demo.
    """
    if not await _bypasses_row_security(session):
        raise DemoNeedsMaintenanceRole(
            "seeding the demo needs a database role that bypasses row-level security "
            "(a superuser or a role WITH BYPASSRLS); DATABASE_URL names one that does not"
        )
    if await _is_seeded(session):
        raise DemoAlreadySeeded(f"organisation {NORTHWIND.slug!r} exists already")
    context = _new_seed(seed, now)
    org_ids = {spec.slug: context.new_id() for spec in (*OWNERS, *PARTNERS)}
    tables = _Tables()
    tables.add(Organisation, _organisation_rows(context, org_ids))
    tables.add(Partnership, _partnership_rows(context, org_ids))
    for owner in OWNERS:
        tenant = _Tenant(owner, org_ids[owner.slug], org_ids[DISTRIBUTOR.slug])
        _add_tenant_rows(context, tenant, tables)
    grants, records = grant_rows(
        GRANTS,
        org_ids=org_ids,
        partnerships=tables.rows[Partnership],
        customers=tables.rows[Customer],
        new_id=context.new_id,
        rng=context.rng,
        now=context.now,
    )
    tables.add(Grant, grants)
    tables.add(GrantRecord, records)
    tables.add(
        DealRegistration,
        registration_rows(
            org_ids=org_ids,
            partnerships=tables.rows[Partnership],
            customers=tables.rows[Customer],
            new_id=context.new_id,
            now=context.now,
        ),
    )
    for model in INSERT_ORDER:
        await session.execute(insert(model), tables.rows[model])
    return DemoCredentials(await _register_clients(session, org_ids))


async def _bypasses_row_security(session: AsyncSession) -> bool:
    statement = text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    return bool(await session.scalar(statement))


async def _is_seeded(session: AsyncSession) -> bool:
    statement = select(Organisation.id).where(Organisation.slug == NORTHWIND.slug)
    return (await session.execute(statement)).first() is not None


def _new_seed(seed: int, now: datetime | None) -> _Seed:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    anchor = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Demo data, not secrets: a reproducible generator is the point.
    return _Seed(random.Random(seed), fake, anchor)  # noqa: S311


def _add_tenant_rows(context: _Seed, tenant: _Tenant, tables: _Tables) -> None:
    tenant.partnership_ids = [
        row["id"] for row in tables.rows[Partnership] if row["org_id"] == tenant.org_id
    ]
    tables.add(User, _user_rows(context, tenant))
    customers = _customer_rows(context, tenant)
    tables.add(Customer, customers)
    tables.add(Contact, _contact_rows(context, tenant, customers))
    tables.add(Opportunity, _opportunity_rows(context, tenant, customers))
    cases = _case_rows(context, tenant, customers)
    tables.add(Case, cases)
    tables.add(CaseComment, _comment_rows(context, tenant, cases))


def _organisation_rows(context: _Seed, org_ids: dict[str, uuid.UUID]) -> list[Row]:
    start = context.now - HISTORY - timedelta(days=7)
    return [
        {"id": org_ids[spec.slug], "name": spec.name, "slug": spec.slug, "created_at": start}
        for spec in (*OWNERS, *PARTNERS)
    ]


def _partnership_rows(context: _Seed, org_ids: dict[str, uuid.UUID]) -> list[Row]:
    """Owned by the owner; Fabrikam holds one per owner, so it sees both owners' shares."""
    signed = context.now - HISTORY - timedelta(days=1)
    return [
        {
            "org_id": org_ids[owner_slug],
            "id": context.new_id(),
            "partner_org_id": org_ids[partner.slug],
            "role": partner.role,
            "status": PartnershipStatus.ACTIVE,
            "created_at": signed,
            "updated_at": signed,
        }
        for partner in PARTNERS
        for owner_slug in partner.owner_slugs
    ]


def _user_rows(context: _Seed, tenant: _Tenant) -> list[Row]:
    """One user per role plus a second seller; no passwords, people sign in elsewhere."""
    joined = context.now - HISTORY - timedelta(days=6)
    rows: list[Row] = []
    emails: set[str] = set()
    for role in USER_ROLES:
        first, last, email = _unique_person(context, tenant.owner.mail_domain, emails)
        user_id = context.new_id()
        tenant.users.setdefault(role, []).append(user_id)
        rows.append(
            {
                "org_id": tenant.org_id,
                "id": user_id,
                "email": email,
                "display_name": f"{first} {last}",
                "role": role,
                "password_hash": None,
                "disabled_at": None,
                "created_at": joined,
            }
        )
    return rows


def _unique_person(context: _Seed, domain: str, taken: set[str]) -> tuple[str, str, str]:
    """A name whose e-mail address is new in `taken`: emails are unique per organisation."""
    while True:
        first, last = str(context.fake.first_name()), str(context.fake.last_name())
        email = f"{_mailbox(first)}.{_mailbox(last)}@{domain}"
        if email not in taken:
            taken.add(email)
            return first, last, email


def _mailbox(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _domain_for(company: str) -> str:
    """`Wilson-Hodges LLC` becomes `wilson-hodges.example`: reserved, so nobody gets mail."""
    words: list[str] = re.findall(r"[a-z0-9]+", company.lower().replace("'", ""))
    kept = [word for word in words if word not in COMPANY_SUFFIXES] or words
    return f"{'-'.join(kept[:2])}.example"


def _customer_rows(context: _Seed, tenant: _Tenant) -> list[Row]:
    """Customers joined over the year; the first joined a year ago so every case has one."""
    rng = context.rng
    stages = context.spread(LIFECYCLE_WEIGHTS, CUSTOMERS_PER_OWNER)
    regions = context.spread(REGION_WEIGHTS, CUSTOMERS_PER_OWNER)
    first_joined = context.now - HISTORY + timedelta(days=1)
    rows: list[Row] = []
    for index, (stage, region) in enumerate(zip(stages, regions, strict=True)):
        name = str(context.fake.unique.company())
        created_at = (
            first_joined
            if index == 0
            else context.moment(first_joined, context.now - timedelta(days=30))
        )
        rows.append(
            {
                "org_id": tenant.org_id,
                "id": context.new_id(),
                "name": name,
                "domain": _domain_for(name),
                "lifecycle_stage": stage,
                "industry": rng.choice(INDUSTRIES),
                "region": region,
                "country": rng.choice(COUNTRIES[region])[0],
                "size": rng.choices(list(SIZE_WEIGHTS), weights=list(SIZE_WEIGHTS.values()))[0],
                "consent_purposes": [p.value for p in Purpose if rng.random() < 0.6],
                "created_at": created_at,
                "updated_at": context.moment(created_at, context.now),
            }
        )
    return rows


def _contact_rows(context: _Seed, tenant: _Tenant, customers: list[Row]) -> list[Row]:
    rng = context.rng
    rows: list[Row] = []
    for customer in customers:
        calling_code = dict(COUNTRIES[customer["region"]])[customer["country"]]
        taken: set[str] = set()
        for _ in range(rng.randint(1, 3)):
            first, last, email = _unique_person(context, customer["domain"], taken)
            tenant.contact_names.setdefault(customer["id"], []).append(f"{first} {last}")
            rows.append(
                {
                    "org_id": tenant.org_id,
                    "id": context.new_id(),
                    "customer_id": customer["id"],
                    "full_name": f"{first} {last}",
                    "email": email,
                    "phone": _phone(rng, calling_code),
                    "job_title": rng.choice(JOB_TITLES),
                    "created_at": customer["created_at"] + timedelta(minutes=rng.randint(5, 600)),
                }
            )
    return rows


def _phone(rng: random.Random, calling_code: int) -> str:
    return f"+{calling_code} {rng.randint(20, 99)} {rng.randint(100_000, 9_999_999)}"


def _currency_for(region: str, country: str) -> str:
    """Deals are priced in the customer's money: pounds in Britain, euros in EMEA, else dollars."""
    if country == "GB":
        return "GBP"
    return "EUR" if region == "EMEA" else "USD"


def _opportunity_rows(context: _Seed, tenant: _Tenant, customers: list[Row]) -> list[Row]:
    """500 deals; one in sixteen registered by a partner and assigned to that partnership."""
    rng = context.rng
    stages = context.spread(STAGE_WEIGHTS, OPPORTUNITIES_PER_OWNER)
    registered = set(rng.sample(range(OPPORTUNITIES_PER_OWNER), k=OPPORTUNITIES_PER_OWNER // 16))
    rows: list[Row] = []
    for index, stage in enumerate(stages):
        customer = rng.choice(customers)
        partnership_id = rng.choice(tenant.partnership_ids) if index in registered else None
        rows.append(_opportunity_row(context, tenant, customer, stage, partnership_id))
    return rows


def _opportunity_row(
    context: _Seed,
    tenant: _Tenant,
    customer: Row,
    stage: OpportunityStage,
    partnership_id: uuid.UUID | None,
) -> Row:
    rng = context.rng
    low, high = tenant.owner.amount_range
    created_at = context.moment(customer["created_at"], context.now - timedelta(days=1))
    if stage in CLOSED_STAGES:
        updated_at = context.moment(created_at, min(context.now, created_at + timedelta(days=120)))
        close_on = updated_at.date()
    else:
        updated_at = context.moment(created_at, context.now)
        close_on = max(created_at.date(), context.now.date() + timedelta(rng.randint(-10, 180)))
    contact = rng.choice(tenant.contact_names[customer["id"]]).split()[0]
    return {
        "org_id": tenant.org_id,
        "id": context.new_id(),
        "customer_id": customer["id"],
        "name": f"{customer['name']}: {rng.choice(tenant.owner.products)}",
        "stage": stage,
        "amount": (Decimal(rng.randrange(low * 100, high * 100, 500)) / 100).quantize(CENT),
        "currency": _currency_for(customer["region"], customer["country"]),
        "probability": rng.randint(*STAGE_PROBABILITY[stage]),
        "expected_close_date": close_on,
        "owner_user_id": tenant.user(rng, Role.SALES, Role.MANAGER),
        "assigned_partnership_id": partnership_id,
        "source": (
            OpportunitySource.DIRECT
            if partnership_id is None
            else OpportunitySource.PARTNER_REGISTERED
        ),
        "next_step": rng.choice(NEXT_STEPS[stage]).format(contact=contact),
        "internal_notes": _internal_note(context, tenant.owner, contact),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _internal_note(context: _Seed, owner: _Owner, contact: str) -> str:
    rng = context.rng
    return rng.choice(INTERNAL_NOTES).format(
        competitor=rng.choice(owner.competitors),
        contact=contact,
        discount=rng.choice((5, 8, 10, 12, 15, 20)),
        quarter=rng.randint(1, 4),
    )


def _case_rows(context: _Seed, tenant: _Tenant, customers: list[Row]) -> list[Row]:
    statuses = context.spread(STATUS_WEIGHTS, CASES_PER_OWNER)
    priorities = context.spread(PRIORITY_WEIGHTS, CASES_PER_OWNER)
    return [
        _case_row(context, tenant, customers, status, priority)
        for status, priority in zip(statuses, priorities, strict=True)
    ]


@dataclass(frozen=True)
class _Timeline:
    """Offsets from the moment a case was opened; None for what has not happened yet."""

    responded: timedelta | None
    resolved: timedelta | None
    closed: timedelta | None

    @property
    def span(self) -> timedelta:
        return self.closed or self.resolved or self.responded or timedelta(0)


def _case_timeline(context: _Seed, status: CaseStatus, priority: CasePriority) -> _Timeline:
    """Response and resolution near the SLA targets; about one in six misses them."""
    rng = context.rng
    respond_target, resolve_target = SLA_TARGETS[priority]
    responded = None if status is CaseStatus.NEW else respond_target * rng.uniform(0.1, 1.2)
    resolved = closed = None
    if responded is not None and status in {CaseStatus.RESOLVED, CaseStatus.CLOSED}:
        resolved = responded + resolve_target * rng.uniform(0.2, 1.1)
    if resolved is not None and status is CaseStatus.CLOSED:
        closed = resolved + timedelta(hours=rng.randint(24, 7 * 24))
    return _Timeline(responded, resolved, closed)


def _case_row(
    context: _Seed,
    tenant: _Tenant,
    customers: list[Row],
    status: CaseStatus,
    priority: CasePriority,
) -> Row:
    rng = context.rng
    timeline = _case_timeline(context, status, priority)
    latest_start = context.now - timeline.span
    created_at = context.moment(latest_start - STATUS_AGE[status], latest_start)
    customer = rng.choice([c for c in customers if c["created_at"] <= created_at])
    by_partner = rng.random() < 0.15
    respond_target, resolve_target = SLA_TARGETS[priority]
    subject, description = _case_text(context, tenant, customer)

    def at(offset: timedelta | None) -> datetime | None:
        return None if offset is None else created_at + offset

    responded_at, resolved_at, closed_at = (
        at(timeline.responded),
        at(timeline.resolved),
        at(timeline.closed),
    )
    last_event = closed_at or resolved_at or responded_at or created_at
    open_case = status not in {CaseStatus.RESOLVED, CaseStatus.CLOSED}
    updated_at = context.moment(last_event, context.now) if open_case else last_event
    return {
        "org_id": tenant.org_id,
        "id": context.new_id(),
        "customer_id": customer["id"],
        "subject": subject,
        "description": description,
        "priority": priority,
        "status": status,
        "raised_by_org_id": tenant.distributor_org_id if by_partner else tenant.org_id,
        "raised_by_user_id": None if by_partner else tenant.user(rng, Role.SUPPORT, Role.SALES),
        "raised_by_client_id": None,
        "assignee_user_id": _assignee(context, tenant, status),
        "first_response_due_at": created_at + respond_target,
        "resolution_due_at": created_at + resolve_target,
        "first_responded_at": responded_at,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "satisfaction_score": _satisfaction(context, status),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _assignee(context: _Seed, tenant: _Tenant, status: CaseStatus) -> uuid.UUID | None:
    """New cases wait in the queue; escalations go to a manager, the rest to support."""
    if status is CaseStatus.NEW:
        return None
    if status is CaseStatus.ESCALATED:
        return tenant.user(context.rng, Role.MANAGER)
    return tenant.user(context.rng, Role.SUPPORT)


def _satisfaction(context: _Seed, status: CaseStatus) -> int | None:
    """Customers are surveyed when a case closes, never before."""
    if status is not CaseStatus.CLOSED:
        return None
    scores = list(SATISFACTION_WEIGHTS)
    return context.rng.choices(scores, weights=list(SATISFACTION_WEIGHTS.values()))[0]


def _case_text(context: _Seed, tenant: _Tenant, customer: Row) -> tuple[str, str]:
    rng = context.rng
    subject, description = rng.choice(tenant.owner.issues)
    values = {
        "customer": customer["name"],
        "contact": rng.choice(tenant.contact_names[customer["id"]]),
        "count": rng.randint(3, 250),
        "version": f"{rng.randint(3, 6)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}",
        "serial": f"{tenant.owner.serial_prefix}{rng.randint(10_000_000, 99_999_999)}",
        "weekday": rng.choice(WEEKDAYS),
    }
    return subject.format(**values), description.format(**values)


def _comment_rows(context: _Seed, tenant: _Tenant, cases: list[Row]) -> list[Row]:
    """Up to three comments per case; a new case has at most an internal triage note."""
    rng = context.rng
    rows: list[Row] = []
    for case in cases:
        is_new = case["status"] is CaseStatus.NEW
        count = rng.randint(0, 1) if is_new else rng.randint(0, 3)
        end = context.now if is_new else case["updated_at"]
        moments = sorted(context.moment(case["created_at"], end) for _ in range(count))
        for written_at in moments:
            visibility = (
                CommentVisibility.INTERNAL if is_new else rng.choice(list(CommentVisibility))
            )
            rows.append(
                {
                    "org_id": tenant.org_id,
                    "id": context.new_id(),
                    "case_id": case["id"],
                    "author_org_id": tenant.org_id,
                    "author_user_id": case["assignee_user_id"] or tenant.user(rng, Role.SUPPORT),
                    "author_client_id": None,
                    "visibility": visibility,
                    "body": _comment_body(context, tenant, case, visibility),
                    "created_at": written_at,
                }
            )
    return rows


def _comment_body(context: _Seed, tenant: _Tenant, case: Row, visibility: CommentVisibility) -> str:
    rng = context.rng
    templates = SHARED_COMMENTS if visibility is CommentVisibility.SHARED else INTERNAL_COMMENTS
    contact = rng.choice(tenant.contact_names[case["customer_id"]]).split()[0]
    tracking = f"1Z{rng.randint(10**15, 10**16 - 1)}"
    return rng.choice(templates).format(contact=contact, tracking=tracking)


async def _register_clients(
    session: AsyncSession, org_ids: dict[str, uuid.UUID]
) -> list[DemoClient]:
    """One client per organisation, owners first; partners get what a partner portal needs."""
    specs: list[tuple[str, str, str, list[str]]] = [
        (owner.name, owner.slug, "OWNER", sorted(ALL_SCOPES)) for owner in OWNERS
    ]
    specs += [
        (partner.name, partner.slug, partner.role.value, list(PARTNER_SCOPES))
        for partner in PARTNERS
    ]
    clients: list[DemoClient] = []
    for name, slug, role, scopes in specs:
        credentials = await register_client(session, org_ids[slug], f"{name} demo client", scopes)
        clients.append(
            DemoClient(
                organisation=name,
                role=role,
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                scopes=credentials.scopes,
            )
        )
    return clients
