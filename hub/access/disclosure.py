"""Rows as the actor may receive them: what crosses to a partner is decided here (ADR 0008).

An organisation's own rows pass unchanged. A row another organisation shares with the actor
becomes a detached copy without what never crosses (the fields its exposure map declares
`crosses=False`, such as internal notes; the owner's people, other partners' assignments and
authorship) and with personal fields per the field policy of the grants that cover it. Copies
are transient: nothing a redaction does can be written back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.coverage import SHARED, grants_for
from hub.access.received import ReceivedGrant, received_grants
from hub.audit import disclosures
from hub.audit.disclosures import crossed_fields
from hub.cases.models import Case, CaseComment
from hub.customers.models import Contact, Customer
from hub.db import TenantModel
from hub.exposure_maps import exposure_of, never_crossing_columns
from hub.grants.masking import PersonalField, apply_policy, combined_policy
from hub.grants.models import FieldVisibility, RecordType
from hub.opportunities.models import Opportunity
from hub.pagination import Page

M = TypeVar("M", bound=TenantModel)

Redaction = Callable[[Any, Actor, Sequence[ReceivedGrant]], dict[str, Any]]

_CONTACT_COLUMNS = {
    PersonalField.FULL_NAME: "full_name",
    PersonalField.EMAIL: "email",
    PersonalField.PHONE: "phone",
    PersonalField.JOB_TITLE: "job_title",
}


def _opportunity(row: Opportunity, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    own_partnerships = {grant.partnership_id for grant in grants}
    assigned = row.assigned_partnership_id
    return {
        "owner_user_id": None,
        "assigned_partnership_id": assigned if assigned in own_partnerships else None,
    }


def _case(row: Case, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    raised_here = row.raised_by_org_id == actor.org_id
    return {
        "assignee_user_id": None,
        # A case another partner raised shows as the owner's own.
        "raised_by_org_id": row.raised_by_org_id if raised_here else row.org_id,
        "raised_by_user_id": row.raised_by_user_id if raised_here else None,
        "raised_by_client_id": row.raised_by_client_id if raised_here else None,
    }


def _case_comment(
    row: CaseComment, actor: Actor, grants: Sequence[ReceivedGrant]
) -> dict[str, Any]:
    written_here = row.author_org_id == actor.org_id
    return {
        "author_org_id": row.author_org_id if written_here else row.org_id,
        "author_user_id": row.author_user_id if written_here else None,
        "author_client_id": row.author_client_id if written_here else None,
    }


def _contact(row: Contact, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
    policy = combined_policy(grant.field_policy for grant in grants)
    return {
        column: apply_policy(field, policy[field], getattr(row, column))
        for field, column in _CONTACT_COLUMNS.items()
    }


# Per shared table: what changes on the way out besides the fields its exposure map says never
# cross (given the grants that cover the row).
_RULES: dict[type[TenantModel], Redaction] = {
    Opportunity: _opportunity,
    Case: _case,
    CaseComment: _case_comment,
    Contact: _contact,
}


@cache
def _redaction(model: type[TenantModel]) -> Redaction | None:
    """What changes on a row of `model` on its way to a partner: the table's rule, and null for
    every field its exposure map says never crosses (whatever the rule says). None: nothing."""
    never_crossing = dict.fromkeys(sorted(never_crossing_columns(model)))
    rule = _RULES.get(model)
    if rule is None and not never_crossing:
        return None

    def redact(row: Any, actor: Actor, grants: Sequence[ReceivedGrant]) -> dict[str, Any]:
        changed = rule(row, actor, grants) if rule is not None else {}
        return {**changed, **never_crossing}

    return redact


async def disclose(
    session: AsyncSession, actor: Actor, model: type[M], rows: Sequence[M]
) -> list[M]:
    """`rows` (read through the access layer) as `actor` may receive them, in order.

    Every row of another organisation is noted for the audit ledger as it crosses: whose it
    is, the grants that share it, and the fields withheld or masked on the way.
    """
    foreign = [row for row in rows if row.org_id != actor.org_id]
    if not foreign:
        return list(rows)
    overrides = await note_crossed(session, actor, model, foreign)
    if _redaction(model) is None:
        return list(rows)
    crossed = {row.id: _detached(row, overrides[row.id]) for row in foreign}
    return [crossed.get(row.id, row) if row.org_id != actor.org_id else row for row in rows]


async def note_crossed(
    session: AsyncSession, actor: Actor, model: type[TenantModel], rows: Sequence[Any]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Note for the audit ledger each of these rows of other organisations as it crosses to the
    partner `actor`; answer what changes on each on the way (the redaction).

    A row need only carry `org_id`, `id` and the columns its redaction and customer name, so a
    compiled read notes its rows without making records of them (`hub.reads`).
    """
    covering = await _covering(session, actor, model, rows)
    redaction = _redaction(model)
    overrides: dict[uuid.UUID, dict[str, Any]] = {}
    notes = []
    # The same few grants cover every row of a page: their terms are worked out once each.
    terms: dict[tuple[uuid.UUID, ...], tuple[tuple[uuid.UUID, str], ...]] = {}
    for row in rows:
        grants = covering.get(row.id, [])
        changed = redaction(row, actor, grants) if redaction is not None else {}
        overrides[row.id] = changed
        key = tuple(grant.id for grant in grants)
        if key not in terms:
            terms[key] = tuple((grant.id, grant.purpose.value) for grant in grants)
        notes.append(_disclosed(model, row, grants, changed, terms[key]))
    disclosures.note(session, actor, notes)
    return overrides


async def disclose_page(
    session: AsyncSession, actor: Actor, model: type[M], page: Page[M]
) -> Page[M]:
    return replace(page, items=await disclose(session, actor, model, page.items))


async def disclose_by_id(
    session: AsyncSession, actor: Actor, model: type[M], rows: Mapping[uuid.UUID, M]
) -> dict[uuid.UUID, M]:
    disclosed = await disclose(session, actor, model, list(rows.values()))
    return {row.id: row for row in disclosed}


async def covering_grants(
    session: AsyncSession, actor: Actor, model: type[TenantModel], rows: Sequence[Any]
) -> dict[uuid.UUID, list[ReceivedGrant]]:
    """Which of the actor's live grants share each of these rows: their shares, one statement."""
    grants = grants_for(model, await received_grants(session, actor))
    if not grants or not rows:
        return {}
    by_id = {grant.id: grant for grant in grants}
    index = SHARED[model]
    share = index.share
    keys = {row.id: getattr(row, index.key.key) for row in rows}
    statement = select(share.org_id, index.shared, share.grant_ids).where(
        share.partner_org_id == actor.org_id, index.shared.in_(set(keys.values()))
    )
    found = {(owner, key): ids for owner, key, ids in await session.execute(statement)}
    return {
        row.id: [
            by_id[grant] for grant in found.get((row.org_id, keys[row.id]), ()) if grant in by_id
        ]
        for row in rows
    }


async def _covering(
    session: AsyncSession, actor: Actor, model: type[TenantModel], rows: Sequence[Any]
) -> Mapping[uuid.UUID, Sequence[ReceivedGrant]]:
    """The live grants that share each row. A row reached the actor through one of its grants
    for this record type, so where an owner gave only one, that one is it: no statement."""
    sole = sole_grants(grants_for(model, await received_grants(session, actor)))
    if all(row.org_id in sole for row in rows):
        return {row.id: [sole[row.org_id]] for row in rows}
    return await covering_grants(session, actor, model, rows)


def sole_grants(grants: Sequence[ReceivedGrant]) -> dict[uuid.UUID, ReceivedGrant]:
    """By owner, the one grant of `grants` it gave, for owners that gave only one: what covers
    every row of theirs that reached the partner through `grants`."""
    given: dict[uuid.UUID, list[ReceivedGrant]] = {}
    for grant in grants:
        given.setdefault(grant.owner_id, []).append(grant)
    return {owner: owned[0] for owner, owned in given.items() if len(owned) == 1}


def _disclosed(
    model: type[TenantModel],
    row: Any,
    grants: Sequence[ReceivedGrant],
    overrides: Mapping[str, Any],
    terms: tuple[tuple[uuid.UUID, str], ...],
) -> disclosures.Disclosed:
    """How `row` crossed; `terms` are (id, purpose) of `grants`."""
    masked: frozenset[str] = frozenset()
    if model is Contact:
        policy = combined_policy(grant.field_policy for grant in grants)
        masked = _api_names(
            model,
            tuple(
                column
                for field, column in _CONTACT_COLUMNS.items()
                if policy[field] is FieldVisibility.MASKED
            ),
        )
    column = customer_column(model)
    customer_id = None if column is None else getattr(row, column)
    return disclosures.Disclosed(
        owner_id=row.org_id,
        kind=model.__name__,
        record_id=row.id,
        customer_id=customer_id,
        grants=terms,
        fields=_fields_of(model),
        withheld=_api_names(
            model, tuple(column for column, value in overrides.items() if value is None)
        ),
        masked=masked,
    )


def customer_column(model: type[TenantModel]) -> str | None:
    """The column naming the customer a record of `model` is about, for the owner's index."""
    if model is Customer:
        return "id"
    return "customer_id" if "customer_id" in inspect(model).column_attrs else None


@dataclass(frozen=True)
class Crossing:
    """Records of one kind a statement hands over, as columns of its relation of results."""

    model: type[TenantModel]
    record: str  # the column holding the record's id
    customer: str | None  # the column holding its customer's id (`customer_column`)
    only_if: str | None = None  # a column that is null where the record was not given


def crossing_items(
    entries: str,
    crossings: Sequence[Crossing],
    shown: int,
    selection: Mapping[str, frozenset[str]] | None,
    parameter: Callable[[str], str],
) -> str:
    """SQL of the records of other organisations the first `shown` of a statement's results
    (`entries`: a relation with `org_id`, `position` and the crossings' columns; a page reads
    one row more than it shows) hand to the partner, as
    `disclosures.documents_of` takes them: what `note_crossed` notes of the same rows.

    Each record is covered by the partner's live grants its share row names (as
    `covering_grants` finds them), or where its owner gave only one of the grants it was read
    through, by that one (`sole_grants`), with no lookup; it crosses with the fields the
    request selected, less those
    its exposure map never lets cross (the redaction rules of compiled types touch no field
    their maps show). A record reached twice is noted once, at its first place.
    """
    actor = parameter(disclosures.ACTOR_ORG)
    parts = []
    for index, crossing in enumerate(crossings):
        model = crossing.model
        share = SHARED[model]
        purposes = parameter(purposes_name(share.record_type))
        sole = parameter(sole_name(share.record_type))
        fields = crossed_fields(
            model.__name__, _fields_of(model), _never_crossing(model), frozenset(), selection
        )
        customer = f"e.{crossing.customer}" if crossing.customer else "NULL::uuid"
        given = f" AND e.{crossing.only_if} IS NOT NULL" if crossing.only_if else ""
        # Our own names and constants only: nothing here comes from a client.
        parts.append(f"""
SELECT e.org_id AS owner_id, '{model.__name__}'::text AS kind, e.{crossing.record} AS record_id,
       {customer} AS customer_id, covering AS grant_id,
       {purposes}::jsonb ->> covering::text AS purpose,
       '{_quoted(json.dumps(list(fields)))}'::jsonb AS fields,
       {index * 1000} + e.position AS position
FROM {entries} e LEFT JOIN LATERAL unnest(CASE WHEN {sole}::jsonb ? e.org_id::text
    THEN ARRAY[({sole}::jsonb ->> e.org_id::text)::uuid]
    ELSE (SELECT s.grant_ids FROM {share.share.__tablename__} s
          WHERE s.org_id = e.org_id AND s.{share.shared.key} = e.{crossing.record}
            AND s.partner_org_id = {actor}::uuid) END
) AS covering ON {purposes}::jsonb ? covering::text
WHERE e.org_id <> {actor}::uuid AND e.position <= {int(shown)}{given}""")  # noqa: S608
    union = " UNION ALL ".join(parts)
    return (
        "SELECT DISTINCT ON (kind, record_id, grant_id) * "  # noqa: S608
        f"FROM ({union}) reached ORDER BY kind, record_id, grant_id, position"
    )


def _quoted(literal: str) -> str:
    return literal.replace("'", "''")


def purposes_name(record_type: RecordType) -> str:
    """The per-request value `crossing_items` takes for a record type (`purposes_of`)."""
    return f"purposes_{record_type.value.lower()}"


def sole_name(record_type: RecordType) -> str:
    """The per-request value of `crossing_items` naming the owners' sole grants (`purposes_of`)."""
    return f"sole_{record_type.value.lower()}"


def purposes_of(
    received: tuple[ReceivedGrant, ...], models: Iterable[type[TenantModel]]
) -> dict[str, str]:
    """Per record type of `models`, the `received` live grants sharing it and their purposes,
    as JSON (`{grant id: purpose}`), and the sole grant of each owner that gave one
    (`{owner id: grant id}`): what `crossing_items` covers records with."""
    values = {}
    for model in models:
        grants = grants_for(model, received)
        record_type = SHARED[model].record_type
        values[purposes_name(record_type)] = json.dumps(
            {str(grant.id): grant.purpose.value for grant in grants}
        )
        values[sole_name(record_type)] = json.dumps(
            {str(owner): str(grant.id) for owner, grant in sole_grants(grants).items()}
        )
    return values


@cache
def _never_crossing(model: type[TenantModel]) -> frozenset[str]:
    return _api_names(model, tuple(sorted(never_crossing_columns(model))))


@cache
def _fields_of(model: type[TenantModel]) -> frozenset[str]:
    """A record's fields as the API names them, when the request's own selection is unknown."""
    return frozenset(_api_fields(model).values())


@cache
def _api_names(model: type[TenantModel], columns: tuple[str, ...]) -> frozenset[str]:
    """The API's names of the fields of `model` these columns hold."""
    fields = _api_fields(model)
    return frozenset(fields[column] for column in columns if column in fields)


@cache
def _api_fields(model: type[TenantModel]) -> Mapping[str, str]:
    """A record's fields by the column that holds each, as the API names them: its exposure
    map's, or for a type without one, its columns."""
    exposure = exposure_of(model)
    if exposure is not None:
        return {exposed.column: name for name, exposed in exposure.fields.items()}
    return {
        column.key: _api_name(column.key)
        for column in inspect(model).column_attrs
        if column.key != "org_id"
    }


def _api_name(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _detached(row: M, overrides: dict[str, Any]) -> M:
    """A transient copy of `row` with `overrides`: never added to the session, never flushed."""
    values = {column.key: getattr(row, column.key) for column in inspect(type(row)).column_attrs}
    values.update(overrides)
    return type(row)(**values)
