"""Fresh organisations with users, clients and CRM records, written as the owner role."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.access.actor import Role
from hub.access.scopes import ALL_SCOPES
from hub.cases.models import Case, CaseComment, CasePriority, CaseStatus, CommentVisibility
from hub.customers.models import Contact, Customer, LifecycleStage
from hub.opportunities.models import Opportunity, OpportunitySource, OpportunityStage
from hub.orgs.clients import ClientCredentials, register_client
from hub.orgs.credentials import hash_secret, new_client_id, new_secret
from hub.orgs.models import ApiClient, Organisation, User


@dataclass
class Org:
    id: uuid.UUID
    name: str
    slug: str
    client: ClientCredentials
    admin: User
    customers: list[Customer] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    password: str
    role: Role


@dataclass(frozen=True)
class Portal:
    """A client that signs users in: public (PKCE only) unless it has a secret."""

    client_id: str
    redirect_uri: str
    client_secret: str | None = None


PASSWORD = "correct horse battery staple"


class Factory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def organisation(self, name: str = "Org", *, scopes: frozenset[str] | None = None) -> Org:
        suffix = uuid.uuid4().hex[:8]
        async with self.sessions() as session, session.begin():
            organisation = Organisation(name=f"{name} {suffix}", slug=f"{name.lower()}-{suffix}")
            session.add(organisation)
            await session.flush()
            admin = User(
                org_id=organisation.id,
                email=f"admin-{suffix}@example.com",
                display_name="Ada Admin",
                role=Role.ADMIN,
            )
            session.add(admin)
            credentials = await register_client(
                session, organisation.id, "test client", sorted(scopes or ALL_SCOPES)
            )
        return Org(
            id=organisation.id,
            name=organisation.name,
            slug=organisation.slug,
            client=credentials,
            admin=admin,
        )

    async def customer(self, org: Org, name: str = "Acme GmbH", **values: object) -> Customer:
        async with self.sessions() as session, session.begin():
            customer = Customer(
                org_id=org.id,
                name=name,
                lifecycle_stage=values.pop("lifecycle_stage", LifecycleStage.PROSPECT),
                region=values.pop("region", "EMEA"),
                **values,
            )
            session.add(customer)
            await session.flush()
            await session.refresh(customer)
            session.add(
                Contact(
                    org_id=org.id,
                    customer_id=customer.id,
                    full_name="Carla Contact",
                    email="carla@acme.example",
                )
            )
        org.customers.append(customer)
        return customer

    async def opportunities(
        self,
        org: Org,
        customer: Customer,
        count: int,
        *,
        stage: OpportunityStage | None = None,
        close_dates: Sequence[date | None] = (),
    ) -> list[Opportunity]:
        """`count` opportunities; `close_dates` gives the first ones their expected close date."""
        stages = list(OpportunityStage)
        start = datetime.now(UTC) - timedelta(days=count)
        async with self.sessions() as session, session.begin():
            rows = [
                Opportunity(
                    org_id=org.id,
                    customer_id=customer.id,
                    name=f"Deal {index:03d}",
                    stage=stage or stages[index % len(stages)],
                    amount=Decimal(1000 + index),
                    currency="EUR",
                    probability=50,
                    owner_user_id=org.admin.id,
                    source=OpportunitySource.DIRECT,
                    internal_notes="internal",
                    created_at=start + timedelta(hours=index),
                    expected_close_date=close_dates[index] if index < len(close_dates) else None,
                )
                for index in range(count)
            ]
            session.add_all(rows)
        return rows

    async def case(
        self,
        org: Org,
        customer: Customer,
        *,
        status: CaseStatus = CaseStatus.NEW,
        priority: CasePriority = CasePriority.HIGH,
    ) -> Case:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            case = Case(
                org_id=org.id,
                customer_id=customer.id,
                subject="Printer on fire",
                description="It is on fire.",
                priority=priority,
                status=status,
                raised_by_org_id=org.id,
                first_response_due_at=now + timedelta(hours=4),
                resolution_due_at=now + timedelta(days=1),
            )
            session.add(case)
            await session.flush()
            session.add(
                CaseComment(
                    org_id=org.id,
                    case_id=case.id,
                    author_org_id=org.id,
                    visibility=CommentVisibility.INTERNAL,
                    body="internal note",
                )
            )
        return case

    async def person(
        self,
        org: Org,
        *,
        role: Role = Role.SALES,
        password: str = PASSWORD,
        disabled: bool = False,
    ) -> Person:
        """A user who can sign in with `password`."""
        email = f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        async with self.sessions() as session, session.begin():
            user = User(
                org_id=org.id,
                email=email,
                display_name=f"{role.value.title()} Person",
                role=role,
                password_hash=hash_secret(password),
                disabled_at=datetime.now(UTC) if disabled else None,
            )
            session.add(user)
            await session.flush()
        return Person(user.id, org.id, email, password, role)

    async def portal(
        self,
        org: Org,
        *,
        confidential: bool = False,
        redirect_uri: str = "https://portal.example/callback",
        scopes: Sequence[str] | None = None,
    ) -> Portal:
        """A portal client registered for the authorization-code flow with refresh tokens."""
        secret = new_secret() if confidential else None
        client_id = new_client_id()
        async with self.sessions() as session, session.begin():
            session.add(
                ApiClient(
                    org_id=org.id,
                    client_id=client_id,
                    name="Partner Portal",
                    secret_hash=hash_secret(secret) if secret else "",
                    allowed_scopes=sorted(scopes or ALL_SCOPES),
                    grant_types=["authorization_code", "refresh_token"],
                    redirect_uris=[redirect_uri],
                    public=not confidential,
                )
            )
        return Portal(client_id, redirect_uri, secret)
