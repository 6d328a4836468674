"""The read path's dataset: one owner, a SEGMENT partner and an ASSIGNED partner, seeded once.

Seeding 300,000 opportunities takes a few minutes, so each size lives in a data directory of
its own (`.bench-data/read_path-<size>/`, gitignored) with a `dataset.json` that says what was
seeded and holds the API clients' secrets; a later run finds it and only checks the database
still holds it. Bulk rows go in by COPY as the database owner; the organisations, users, API
clients and partnerships are made as the other benchmarks make them (bench/harness.py), and the
grants through the hub's own API, so its triggers and rules apply. ANALYZE (with VACUUM, so the
visibility map is set as on a settled database) closes the seeding, and a copy of the database
as seeded is kept: every run starts from it (`keep_as_seeded`), not from the ledger earlier
runs grew (the hub's partner reads add a disclosure event each).

The shape (at 300k): 100,000 customers in five regions, 22 % of them in EMEA; 92 % consent to
SALES. The distributor's SEGMENT grants (OPPORTUNITIES and CUSTOMERS, READ, SALES) take EMEA
customers and, for opportunities, the three open early stages: about 30,000 opportunities. The
reseller's ASSIGNED grants take the 50 opportunities assigned to its partnership, spread over
the whole history, and their customers.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.harness import (
    Party,
    copy_customers,
    copy_opportunities,
    create_grant,
    keep_as_seeded,
    make_parties,
    make_partnerships,
    persistent_database,
    raw_connection,
    running_hub,
    token,
)
from hub.db import app_role_url
from hub.orgs.clients import ClientCredentials

ROOT = Path(__file__).resolve().parents[2] / ".bench-data"
PRELOAD = ("pg_stat_statements", "auto_explain")
# Bump when the shape below changes: an older dataset is then seeded anew.
SCHEME = 2

SIZES = {
    "10k": (10_000, 3_300),
    "300k": (300_000, 100_000),
    "1m": (1_000_000, 330_000),
}

REGIONS = ("EMEA", "AMER", "APAC", "LATAM", "ANZ")
REGION_WEIGHTS = (22, 19.5, 19.5, 19.5, 19.5)
SEGMENT_REGION = "EMEA"
STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST")
SEGMENT_STAGES = ("PROSPECTING", "QUALIFICATION", "PROPOSAL")
CONSENTING = 0.92
ASSIGNED = 50

OWNER, DISTRIBUTOR, RESELLER = "Read Path Owner", "Read Path Distributor", "Read Path Reseller"


@dataclass
class Dataset:
    size: str
    opportunities: int
    customers: int
    parties: dict[str, Party]
    partnerships: dict[str, uuid.UUID]
    grants: dict[str, str]
    segment_rows: int
    seeded_at: str
    seconds: float

    @property
    def owner(self) -> Party:
        return self.parties[OWNER]

    @property
    def distributor(self) -> Party:
        return self.parties[DISTRIBUTOR]

    @property
    def reseller(self) -> Party:
        return self.parties[RESELLER]

    def describe(self) -> str:
        return (
            f"one owner with {self.opportunities:,} opportunities over {self.customers:,} "
            f"customers (five regions, {SEGMENT_REGION} {REGION_WEIGHTS[0]:.0f} %; "
            f"{CONSENTING:.0%} consent to SALES); the distributor's SEGMENT grants "
            f"(OPPORTUNITIES and CUSTOMERS, READ, SALES: region {SEGMENT_REGION}, stage "
            f"{', '.join(SEGMENT_STAGES)}) match {self.segment_rows:,} opportunities; the "
            f"reseller's ASSIGNED grants (OPPORTUNITIES and CUSTOMERS) match {ASSIGNED}"
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scheme"] = SCHEME
        data["parties"] = {
            name: {
                "org_id": str(party.org_id),
                "user_id": str(party.user_id),
                "client_id": party.client.client_id,
                "client_secret": party.client.client_secret,
                "scopes": list(party.client.scopes),
            }
            for name, party in self.parties.items()
        }
        data["partnerships"] = {name: str(value) for name, value in self.partnerships.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dataset:
        parties = {
            name: Party(
                uuid.UUID(entry["org_id"]),
                uuid.UUID(entry["user_id"]),
                ClientCredentials(
                    entry["client_id"],
                    entry["client_secret"],
                    uuid.UUID(entry["org_id"]),
                    tuple(entry["scopes"]),
                ),
            )
            for name, entry in data["parties"].items()
        }
        return cls(
            size=data["size"],
            opportunities=data["opportunities"],
            customers=data["customers"],
            parties=parties,
            partnerships={k: uuid.UUID(v) for k, v in data["partnerships"].items()},
            grants=data["grants"],
            segment_rows=data["segment_rows"],
            seeded_at=data["seeded_at"],
            seconds=data["seconds"],
        )


def data_dir(size: str) -> Path:
    return ROOT / f"read_path-{size}"


@contextmanager
def open_dataset(size: str, *, reseed: bool = False) -> Iterator[tuple[str, Dataset]]:
    """The owner URL of the running server holding `size`, and what it holds; seeded if needed."""
    directory = data_dir(size)
    marker = directory / "dataset.json"
    saved = _read_marker(marker, size)
    if reseed or saved is None:
        # A partial or outdated dataset is not worth repairing: start from an empty server.
        shutil.rmtree(directory, ignore_errors=True)
        saved = None
    with persistent_database(directory, PRELOAD) as owner_url:
        if saved is not None:
            _check(owner_url, saved)
            dataset = saved
        else:
            print(f"seeding the {size} dataset into {directory} (once) ...", flush=True)
            dataset = asyncio.run(seed(owner_url, size))
            keep_as_seeded(owner_url)
            marker.write_text(json.dumps(dataset.to_json(), indent=2))
            marker.chmod(0o600)
            print(f"seeded in {dataset.seconds:.0f} s", flush=True)
        yield owner_url, dataset


def _read_marker(marker: Path, size: str) -> Dataset | None:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if data.get("scheme") != SCHEME or data.get("size") != size:
        return None
    return Dataset.from_json(data)


def _check(owner_url: str, dataset: Dataset) -> None:
    async def count() -> int:
        async with raw_connection(owner_url) as connection:
            found: int = await connection.fetchval(
                "SELECT count(*) FROM opportunities WHERE org_id = $1", dataset.owner.org_id
            )
        return found

    found = asyncio.run(count())
    if found != dataset.opportunities:
        raise SystemExit(
            f"{data_dir(dataset.size)} holds {found:,} of the owner's opportunities, not "
            f"{dataset.opportunities:,}: run again with --reseed"
        )


async def seed(owner_url: str, size: str) -> Dataset:
    started = time.perf_counter()
    opportunities, customers = SIZES[size]
    parties = await make_parties(owner_url, (OWNER, DISTRIBUTOR, RESELLER))
    owner = parties[OWNER]
    made = await make_partnerships(owner_url, owner, [parties[DISTRIBUTOR], parties[RESELLER]])
    partnerships = {DISTRIBUTOR: made[0], RESELLER: made[1]}
    await _copy_rows(owner_url, owner, partnerships[RESELLER], opportunities, customers)
    grants = await _make_grants(owner_url, owner, partnerships)
    async with raw_connection(owner_url) as connection:
        segment_rows: int = await connection.fetchval(
            """SELECT count(*) FROM opportunities o JOIN customers c
                ON c.org_id = o.org_id AND c.id = o.customer_id
            WHERE o.org_id = $1 AND c.region = $2 AND 'SALES' = ANY (c.consent_purposes)
                AND o.stage = ANY ($3::text[])""",
            owner.org_id,
            SEGMENT_REGION,
            list(SEGMENT_STAGES),
        )
    async with raw_connection(owner_url) as connection:
        await connection.execute("VACUUM (ANALYZE)")
    return Dataset(
        size=size,
        opportunities=opportunities,
        customers=customers,
        parties=parties,
        partnerships=partnerships,
        grants=grants,
        segment_rows=segment_rows,
        seeded_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        seconds=time.perf_counter() - started,
    )


async def _copy_rows(
    owner_url: str, owner: Party, reseller: uuid.UUID, opportunities: int, customers: int
) -> None:
    rng = random.Random(13)  # noqa: S311 - test data, not secrets
    now = datetime.now(UTC)
    history = timedelta(days=1100)
    customer_rows = []
    consenting = []
    for index in range(customers):
        customer_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        consents = rng.random() < CONSENTING
        if consents:
            consenting.append(customer_id)
        customer_rows.append(
            (
                owner.org_id,
                customer_id,
                f"Customer {index:06d}",
                "CUSTOMER",
                region,
                ["SALES", "SERVICE"] if consents else ["MARKETING"],
                now - history * rng.random(),
            )
        )
    customer_ids = [row[1] for row in customer_rows]
    assigned = set(rng.sample(range(opportunities), ASSIGNED))
    opportunity_rows = []
    for index in range(opportunities):
        is_assigned = index in assigned
        opportunity_rows.append(
            (
                owner.org_id,
                uuid.UUID(int=rng.getrandbits(128), version=4),
                # The reseller's deals are with consenting customers: its grant shows them all.
                rng.choice(consenting) if is_assigned else rng.choice(customer_ids),
                f"Deal {index:07d}",
                STAGES[rng.randrange(len(STAGES))],
                Decimal(rng.randrange(100_000, 50_000_000)) / 100,
                "EUR",
                40,
                owner.user_id,
                reseller if is_assigned else None,
                "DIRECT",
                now - history * rng.random(),
            )
        )
    async with raw_connection(owner_url) as connection:
        await copy_customers(connection, customer_rows)
        await copy_opportunities(connection, opportunity_rows)


async def _make_grants(
    owner_url: str, owner: Party, partnerships: dict[str, uuid.UUID]
) -> dict[str, str]:
    region = {"attribute": "region", "values": [SEGMENT_REGION]}
    stage = {"attribute": "stage", "values": list(SEGMENT_STAGES)}
    async with running_hub(app_role_url(owner_url, None)) as http:
        bearer = await token(http, owner.client)
        distributor, reseller = partnerships[DISTRIBUTOR], partnerships[RESELLER]
        return {
            "distributor opportunities": await create_grant(
                http, bearer, distributor, selection="SEGMENT", segment=[region, stage]
            ),
            "distributor customers": await create_grant(
                http,
                bearer,
                distributor,
                recordType="CUSTOMERS",
                selection="SEGMENT",
                segment=[region],
            ),
            "reseller opportunities": await create_grant(
                http, bearer, reseller, selection="ASSIGNED"
            ),
            "reseller customers": await create_grant(
                http, bearer, reseller, recordType="CUSTOMERS", selection="ASSIGNED"
            ),
        }
