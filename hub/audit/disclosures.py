"""Disclosure events: what a request gave a partner of an owner's data, recorded as it commits.

The access layer notes each record it hands to a partner (`note`): whose it is, under which live
grants, which of its fields the partner gets masked and which it does not get at all. The
GraphQL layer says which fields the operation selected on each type (`note_selection`). When
the transaction commits, the notes become one `disclosure` event per owner, listing per grant
and purpose the record ids and the fields that crossed, written in that transaction to
`audit_pending_disclosures` in one statement that takes no lock any other reader waits on
(ADR 0016); a compiled read writes the same documents in its own statement instead
(`documents_of`, ADR 0019). The sealer then chains each into its owner's chain and folds it
into the disclosure index. A request that fails writes nothing, and so discloses nothing; a
disclosure that cannot be written fails the commit, and so the response.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hub.audit.chain import address
from hub.audit.ledger import before_append

if TYPE_CHECKING:
    from hub.access.actor import Actor

_LOG = "hub.audit.disclosures"
_SELECTION = "hub.audit.disclosures.selection"

MASKED_SUFFIX = " (masked)"


@dataclass(frozen=True)
class Disclosed:
    """One record as it crossed to a partner. Field names are the API's (camelCase)."""

    owner_id: uuid.UUID
    kind: str
    record_id: uuid.UUID
    customer_id: uuid.UUID | None
    grants: tuple[tuple[uuid.UUID, str], ...]  # (grant id, purpose) of each covering grant
    fields: frozenset[str]  # every field the record has in the API
    withheld: frozenset[str] = frozenset()  # null for this partner: nothing crossed
    masked: frozenset[str] = frozenset()  # crossed in masked form


@dataclass
class _Log:
    actor: Actor
    records: dict[tuple[str, uuid.UUID], Disclosed] = field(default_factory=dict)
    selection: Mapping[str, frozenset[str]] | None = None


def note(session: AsyncSession, actor: Actor, disclosed: Iterable[Disclosed]) -> None:
    """Remember records handed to the partner `actor` in this transaction."""
    log = _log(session.sync_session, actor)
    for item in disclosed:
        log.records[(item.kind, item.record_id)] = item


def note_selection(session: AsyncSession, selection: Mapping[str, frozenset[str]]) -> None:
    """The fields the request selected, per API type; without it, every field counts.

    Said before the operation runs, so that a record noted by a resolver still running when the
    operation ends (a sibling field failed and it was let finish) is counted with it too.
    """
    info = session.sync_session.info
    info[_SELECTION] = selection
    log: _Log | None = info.get(_LOG)
    if log is not None:
        log.selection = selection


def selection(session: AsyncSession) -> Mapping[str, frozenset[str]] | None:
    """What `note_selection` was told for this request, if anything."""
    said: Mapping[str, frozenset[str]] | None = session.sync_session.info.get(_SELECTION)
    return said


def _log(session: Session, actor: Actor) -> _Log:
    log: _Log | None = session.info.get(_LOG)
    if log is None:
        log = session.info[_LOG] = _Log(actor, selection=session.info.get(_SELECTION))
        before_append(session, _record_disclosures)
    return log


def _record_disclosures(session: Session) -> None:
    """The request's notes as rows, a row per record and covering grant in the order they were
    noted, made into each owner's document by `documents_of`: one statement, the one writer of
    disclosure documents (a compiled read's statement uses it too)."""
    log: _Log | None = session.info.pop(_LOG, None)
    if log is None or not log.records:
        return
    rows = []
    for position, item in enumerate(log.records.values()):
        fields = json.dumps(list(_crossed(item, log.selection)))
        for grant_id, purpose in item.grants or ((None, None),):
            noted = (item.owner_id, item.kind, item.record_id, item.customer_id)
            rows.append((*noted, grant_id, purpose, fields, position))
    values = (list(column) for column in zip(*rows, strict=True))
    columns = dict(zip(_NOTE_COLUMNS, values, strict=True))
    session.execute(_FROM_NOTES, {**columns, **actor_values(log.actor)})


def _crossed(item: Disclosed, selection: Mapping[str, frozenset[str]] | None) -> tuple[str, ...]:
    return crossed_fields(item.kind, item.fields, item.withheld, item.masked, selection)


def crossed_fields(
    kind: str,
    fields: frozenset[str],
    withheld: frozenset[str],
    masked: frozenset[str],
    selection: Mapping[str, frozenset[str]] | None,
) -> tuple[str, ...]:
    """The fields a record of `kind` crossed with: those selected, less those withheld, the
    masked ones marked so, in order."""
    asked = fields if selection is None else selection.get(kind, frozenset())
    given = (asked & fields) - withheld
    return tuple(sorted(name + MASKED_SUFFIX if name in masked else name for name in given))


# Per-request values the statement below takes by name.
ACTOR_ORG, ACTOR_USER, ACTOR_CLIENT = "actor_org", "actor_user", "actor_client"
REQUEST_ID, SOURCE_ADDRESS = "request_id", "source_address"


def actor_values(actor: Actor) -> dict[str, str | None]:
    """What a disclosure event says of who received the records, as `documents_of` binds it."""
    return {
        ACTOR_ORG: str(actor.org_id),
        ACTOR_USER: None if actor.user_id is None else str(actor.user_id),
        ACTOR_CLIENT: actor.client_id,
        REQUEST_ID: actor.request_id,
        SOURCE_ADDRESS: address(actor.source_address),
    }


def documents_of(items: str, parameter: Callable[[str], str]) -> str:
    """SQL inserting into `audit_pending_disclosures`, per owner, the canonical document of the
    notes in `items`: a relation of the records that crossed, a row per record and covering
    grant (`grant_id` null when none covers it), with columns `owner_id`, `kind`, `record_id`,
    `customer_id`, `grant_id`, `purpose`, `fields` (jsonb: `crossed_fields` of the record) and
    `position` (its first place among the notes).

    The text is written as `hub.audit.chain.canonical` writes the event (keys in order, no
    spaces, strings escaped by `to_json` as Python escapes them): what the trigger digests is
    what `hub audit verify` rebuilds. The groups of a grant are ordered by kind, then by their
    fields as Python orders tuples (the names joined by a character below any in a name).
    `parameter(name)` places the per-request values (`actor_values`).
    """
    actor = _json_text(f"{parameter(ACTOR_ORG)}::text")
    # Our own names; every value is a parameter.
    return f"""
INSERT INTO audit_pending_disclosures (document)
SELECT '{{"actor_client_id":' || {_json_text(f"{parameter(ACTOR_CLIENT)}::text")}
    || ',"actor_org_id":' || {actor}
    || ',"actor_user_id":' || {_json_text(f"{parameter(ACTOR_USER)}::text")}
    || ',"created_at":"' || to_char(
        clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') || '"'
    || ',"details":{{"grants":' || owners.grants || ',"partner_org_id":' || {actor} || '}}'
    || ',"id":"' || gen_random_uuid()::text || '","org_id":"' || owners.owner_id::text || '"'
    || ',"record_ids":[' || (
        SELECT string_agg('"' || record_id::text || '"', ',' ORDER BY record_id)
        FROM (SELECT DISTINCT record_id FROM {items} WHERE owner_id = owners.owner_id) ids
    ) || ']'
    || ',"request_id":' || {_json_text(f"{parameter(REQUEST_ID)}::text")}
    || ',"source_address":' || {_json_text(f"{parameter(SOURCE_ADDRESS)}::text")}
    || ',"type":"disclosure"}}'
FROM (
    SELECT owner_id, '[' || string_agg(
        '{{"grant_id":"' || grant_id::text || '","purpose":' || to_json(purpose)::text
            || ',"records":' || records || '}}',
        ',' ORDER BY grant_id, purpose COLLATE "C") || ']' AS grants
    FROM (
        SELECT owner_id, grant_id, purpose, '[' || string_agg(
            '{{' || customers || '"fields":' || fields_text || ',"ids":' || ids
                || ',"kind":' || to_json(kind)::text || '}}',
            ',' ORDER BY kind COLLATE "C", fields_order COLLATE "C") || ']' AS records
        FROM (
            SELECT owner_id, grant_id, purpose, kind,
                   (SELECT '[' || coalesce(string_agg(to_json(name)::text, ',' ORDER BY place), '')
                           || ']'
                    FROM jsonb_array_elements_text(fields) WITH ORDINALITY AS f(name, place)
                   ) AS fields_text,
                   (SELECT string_agg(name, chr(1) ORDER BY place)
                    FROM jsonb_array_elements_text(fields) WITH ORDINALITY AS f(name, place)
                   ) AS fields_order,
                   '[' || string_agg('"' || record_id::text || '"', ',' ORDER BY position)
                       || ']' AS ids,
                   CASE WHEN bool_and(customer_id IS NOT NULL)
                        THEN '"customer_ids":[' || string_agg(
                            '"' || customer_id::text || '"', ',' ORDER BY position) || '],'
                        ELSE '' END AS customers
            FROM {items} WHERE grant_id IS NOT NULL
            GROUP BY owner_id, grant_id, purpose, kind, fields
        ) kinds
        GROUP BY owner_id, grant_id, purpose
    ) grants
    GROUP BY owner_id
) owners
RETURNING 1"""  # noqa: S608


def _json_text(value: str) -> str:
    """SQL of a text value as a JSON string, or `null`."""
    return f"coalesce(to_json({value})::text, 'null')"


_NOTE_COLUMNS = (
    "owners",
    "kinds",
    "records",
    "customers",
    "grants",
    "purposes",
    "fields",
    "places",
)

# The notes of `_record_disclosures` as the relation `documents_of` reads.
_FROM_NOTES = text(
    "WITH items AS (SELECT owner_id, kind, record_id, customer_id, grant_id, purpose, "  # noqa: S608
    "CAST(fields AS jsonb) AS fields, position FROM unnest(CAST(:owners AS uuid[]), "
    "CAST(:kinds AS text[]), CAST(:records AS uuid[]), CAST(:customers AS uuid[]), "
    "CAST(:grants AS uuid[]), CAST(:purposes AS text[]), CAST(:fields AS text[]), "
    "CAST(:places AS integer[])) AS notes(owner_id, kind, record_id, customer_id, grant_id, "
    "purpose, fields, position)) " + documents_of("items", lambda name: f"CAST(:{name} AS text)")
)
