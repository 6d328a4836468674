"""Record events for CRM records: every write as a field-level diff, never a personal value.

Every service that creates or changes a customer, contact, opportunity, case or case comment
records it through here, so each kind of record is audited the same way:

    {"record": {"type": "Opportunity", "id": "…", "version": 3},
     "changes": {"stage": {"from": "PROPOSAL", "to": "NEGOTIATION"}, "nextStep": {"changed": true}}}

- The event is filed in the chain of the organisation that OWNS the record, so an owner sees
  what a partner changed on its records; the actor stays the partner (its user or client).
- A field that may hold personal data is recorded as `{"changed": true}`, never with a value:
  what a record type's exposure map declares `personal`, a contact's name, e-mail, phone and
  job title, and free text that may name a person (every unbounded text column, such as case
  descriptions, comment bodies and internal notes, plus the short free-text fields listed in
  `PERSONAL_FIELDS`). The ledger cannot be changed, so erasing a person later must not need to
  touch it.
- Field names are the record's stored fields in camelCase, as the API spells them; bookkeeping
  every write moves (`updatedAt`, `version`) is left out, the version after the write being in
  `record`. A creation lists the fields the record was created with (`from` null).
- `record_ids` holds the record and the records it belongs to (its customer, its case), which
  the `auditEvents` record filter matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Text, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.audit.record import EventType, record_act
from hub.customers.models import Contact
from hub.db import TenantModel
from hub.deals.models import DealRegistration
from hub.exposure_maps import personal_columns

# Fields that may hold personal data of the record types no exposure map declares (a map's
# `Exposed.personal` says it for customers, opportunities and cases), besides unbounded text,
# which is always treated as such. With the maps, the one definition: the ledger redacts
# exactly these (`personal_fields`), and erasing a person anonymises exactly these
# (hub/privacy/erasure.py, ADR 0013).
PERSONAL_FIELDS: dict[type[TenantModel], frozenset[str]] = {
    Contact: frozenset({"full_name", "email", "phone", "job_title"}),
    # A partner's registration names the customer as the partner spelled it.
    DealRegistration: frozenset({"customer_name", "customer_domain"}),
}

# What the value of a personal field is recorded as.
CHANGED: dict[str, bool] = {"changed": True}

# Moved by every write or fixed for a record's life: no news in a diff.
_BOOKKEEPING = frozenset({"org_id", "id", "created_at", "updated_at", "version"})

# The records a record belongs to, by attribute, added to the event's `record_ids`.
_PARENTS = ("customer_id", "case_id")

Snapshot = dict[str, Any]


def snapshot(record: TenantModel) -> Snapshot:
    """The audited fields of `record` as they are now: take it before changing the record."""
    return {key: getattr(record, key) for key in _audited(type(record))}


async def record_created(
    session: AsyncSession,
    actor: Actor,
    record: TenantModel,
    *,
    related: Iterable[uuid.UUID] = (),
) -> None:
    """Record that `actor` created `record` (flushed), with every field it was given."""
    after = snapshot(record)
    changes = {key: (None, value) for key, value in after.items() if value is not None}
    await _record(session, actor, EventType.RECORD_CREATED, record, changes, related)


async def record_updated(
    session: AsyncSession,
    actor: Actor,
    record: TenantModel,
    before: Snapshot,
    *,
    related: Iterable[uuid.UUID] = (),
) -> None:
    """Record that `actor` changed `record` (flushed) from `before` (its `snapshot`).

    Recorded even when no audited field differs: the write itself (a new version) happened.
    """
    after = snapshot(record)
    changes = {
        key: (before[key], value) for key, value in after.items() if before.get(key) != value
    }
    await _record(session, actor, EventType.RECORD_UPDATED, record, changes, related)


def describe_changes(
    model: type[TenantModel], changes: Mapping[str, tuple[Any, Any]]
) -> dict[str, Any]:
    """`{field: {"from", "to"}}` in camelCase, personal fields as `CHANGED`, in field order."""
    personal = personal_fields(model)
    return {
        _camel(key): dict(CHANGED) if key in personal else {"from": old, "to": new}
        for key, (old, new) in sorted(changes.items())
    }


async def _record(
    session: AsyncSession,
    actor: Actor,
    event_type: EventType,
    record: TenantModel,
    changes: Mapping[str, tuple[Any, Any]],
    related: Iterable[uuid.UUID],
) -> None:
    model = type(record)
    reference: dict[str, Any] = {"type": model.__name__, "id": record.id}
    version = getattr(record, "version", None)
    if version is not None:
        reference["version"] = version
    parents = [getattr(record, key) for key in _PARENTS if hasattr(record, key)]
    record_ids = list(dict.fromkeys([record.id, *parents, *related]))
    await record_act(
        session,
        actor,
        event_type,
        {"record": reference, "changes": describe_changes(model, changes)},
        chain=record.org_id,
        record_ids=[record_id for record_id in record_ids if record_id is not None],
    )


@cache
def _audited(model: type[TenantModel]) -> tuple[str, ...]:
    return tuple(
        attribute.key
        for attribute in inspect(model).column_attrs
        if attribute.key not in _BOOKKEEPING
    )


@cache
def personal_fields(model: type[TenantModel]) -> frozenset[str]:
    """The attributes of `model` that may hold personal data: those its exposure map declares
    personal, `PERSONAL_FIELDS` and every unbounded text column (a new one is personal until
    someone says otherwise). The ledger never keeps their values; erasure anonymises them."""
    free_text = {
        attribute.key
        for attribute in inspect(model).column_attrs
        if any(isinstance(column.type, Text) for column in attribute.columns)
    }
    return personal_columns(model) | PERSONAL_FIELDS.get(model, frozenset()) | free_text


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
