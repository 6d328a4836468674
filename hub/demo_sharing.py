"""The demo's sharing: grants of every kind (one expired, one revoked) and deal registrations.

Each printed partner client then sees sharing at work: Litware its assigned Northwind deals and
their customers with e-mail masked, Adventure Works a handful of named customers for marketing,
Fabrikam the cases it raised for both owners plus a regional segment of each. Northwind's
review queue holds pending registrations that conflict with a customer and with each other.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.customers.models import Purpose
from hub.grants.models import Access, RecordType, Selection
from hub.grants.segments import Segment, SegmentKey

Row = dict[str, Any]

GRANTED_BY = "demo:seed"
EXPLICIT_RECORDS = 6


@dataclass(frozen=True)
class _Grant:
    owner: str
    partner: str
    record_type: RecordType
    access: Access
    selection: Selection
    purpose: Purpose
    field_policy: Mapping[str, str] = field(default_factory=dict)
    segment: Segment | None = None
    state: str = "live"  # or "expired", "revoked"


_MASKED_EMAIL = {"fullName": "VISIBLE", "email": "MASKED", "jobTitle": "VISIBLE"}

GRANTS: tuple[_Grant, ...] = (
    # Litware resells Northwind: its assigned deals, which it may move along, and their
    # customers, e-mail masked and phone hidden.
    _Grant(
        "northwind-software",
        "litware-resellers",
        RecordType.OPPORTUNITIES,
        Access.CONTRIBUTE,
        Selection.ASSIGNED,
        Purpose.SALES,
    ),
    _Grant(
        "northwind-software",
        "litware-resellers",
        RecordType.CUSTOMERS,
        Access.READ,
        Selection.ASSIGNED,
        Purpose.SALES,
        _MASKED_EMAIL,
    ),
    # A campaign share that ran out last month: shows as not live.
    _Grant(
        "northwind-software",
        "litware-resellers",
        RecordType.OPPORTUNITIES,
        Access.READ,
        Selection.SEGMENT,
        Purpose.SALES,
        segment=Segment(include={SegmentKey.STAGE: ("NEGOTIATION",)}),
        state="expired",
    ),
    # Adventure Works gets six named customers for a joint marketing campaign, phone masked.
    _Grant(
        "northwind-software",
        "adventure-works-supply",
        RecordType.CUSTOMERS,
        Access.READ,
        Selection.EXPLICIT,
        Purpose.MARKETING,
        {"fullName": "MASKED", "email": "VISIBLE", "phone": "MASKED"},
    ),
    # ... and used to see escalated cases, until that was revoked.
    _Grant(
        "northwind-software",
        "adventure-works-supply",
        RecordType.CASES,
        Access.READ,
        Selection.SEGMENT,
        Purpose.SERVICE,
        segment=Segment(include={SegmentKey.STATUS: ("ESCALATED",)}),
        state="revoked",
    ),
    # Fabrikam distributes for both owners: raises and tracks cases, sees a regional segment.
    *(
        grant
        for owner, region in (("northwind-software", "EMEA"), ("contoso-hardware", "NA"))
        for grant in (
            _Grant(
                owner,
                "fabrikam-distribution",
                RecordType.CASES,
                Access.WRITE,
                Selection.ASSIGNED,
                Purpose.SERVICE,
            ),
            _Grant(
                owner,
                "fabrikam-distribution",
                RecordType.CUSTOMERS,
                Access.READ,
                Selection.SEGMENT,
                Purpose.SERVICE,
                {"fullName": "VISIBLE", "email": "VISIBLE", "phone": "MASKED"},
                Segment(include={SegmentKey.REGION: (region,)}),
            ),
            _Grant(
                owner,
                "fabrikam-distribution",
                RecordType.OPPORTUNITIES,
                Access.READ,
                Selection.SEGMENT,
                Purpose.SALES,
                segment=Segment(
                    include={SegmentKey.REGION: (region,)},
                    exclude={SegmentKey.STAGE: ("CLOSED_LOST",)},
                ),
            ),
        )
    ),
)


def grant_rows(
    grants: Sequence[_Grant],
    *,
    org_ids: Mapping[str, uuid.UUID],
    partnerships: Sequence[Row],
    customers: Sequence[Row],
    new_id: Callable[[], uuid.UUID],
    rng: random.Random,
    now: datetime,
) -> tuple[list[Row], list[Row]]:
    """Rows of `grants` and of their explicit records; explicit customers consented already."""
    partnership_of = {(row["org_id"], row["partner_org_id"]): row["id"] for row in partnerships}
    grant_table: list[Row] = []
    record_table: list[Row] = []
    for spec in grants:
        owner, partner = org_ids[spec.owner], org_ids[spec.partner]
        granted_at = now - timedelta(days=rng.randint(40, 120))
        row: Row = {
            "org_id": owner,
            "id": new_id(),
            "partnership_id": partnership_of[(owner, partner)],
            "partner_org_id": partner,
            "record_type": spec.record_type,
            "access": spec.access,
            "selection": spec.selection,
            "segment": spec.segment.to_json() if spec.segment else None,
            "purpose": spec.purpose,
            "field_policy": dict(spec.field_policy),
            "expires_at": now - timedelta(days=30) if spec.state == "expired" else None,
            "granted_by": GRANTED_BY,
            "revoked_at": now - timedelta(days=10) if spec.state == "revoked" else None,
            "revoked_by": GRANTED_BY if spec.state == "revoked" else None,
            "version": 1,
            "created_at": granted_at,
            "updated_at": granted_at,
        }
        grant_table.append(row)
        if spec.selection is Selection.EXPLICIT:
            consenting = [
                customer
                for customer in customers
                if customer["org_id"] == owner
                and spec.purpose.value in customer["consent_purposes"]
            ]
            for customer in rng.sample(consenting, EXPLICIT_RECORDS):
                record_table.append(
                    {
                        "org_id": owner,
                        "id": new_id(),
                        "grant_id": row["id"],
                        "record_id": customer["id"],
                        "created_at": granted_at,
                    }
                )
    return grant_table, record_table


def registration_rows(
    *,
    org_ids: Mapping[str, uuid.UUID],
    partnerships: Sequence[Row],
    customers: Sequence[Row],
    new_id: Callable[[], uuid.UUID],
    now: datetime,
) -> list[Row]:
    """Pending registrations with Northwind: one names an existing customer; two partners claim
    the same new company, Adventure Works first."""
    owner = org_ids["northwind-software"]
    partnership_of = {(row["org_id"], row["partner_org_id"]): row["id"] for row in partnerships}
    known = next(customer for customer in customers if customer["org_id"] == owner)
    claims = (
        ("adventure-works-supply", "Blue Yonder Airlines", "blueyonder.example", 6, "48000.00"),
        ("litware-resellers", "Blue Yonder Airlines Ltd", "blueyonder.example", 3, "52000.00"),
        ("litware-resellers", f"{known['name']} Group", known["domain"], 1, "75000.00"),
    )
    rows: list[Row] = []
    for partner_slug, name, domain, days_ago, amount in claims:
        partner = org_ids[partner_slug]
        registered_at = now - timedelta(days=days_ago)
        rows.append(
            {
                "org_id": owner,
                "id": new_id(),
                "partnership_id": partnership_of[(owner, partner)],
                "partner_org_id": partner,
                "customer_name": name,
                "customer_domain": domain,
                "amount": Decimal(amount),
                "currency": "EUR",
                "expected_close_date": (now + timedelta(days=60)).date(),
                "product": "CRM Cloud licences",
                "status": "PENDING",
                "registered_by": GRANTED_BY,
                "version": 1,
                "created_at": registered_at,
            }
        )
    return rows
