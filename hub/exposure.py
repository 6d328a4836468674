"""How a record type is exposed through the API: field ↔ column, and what crosses to a partner.

One declaration per record type (`hub/<domain>/exposure.py`) says, for each GraphQL field of
the type, which column holds it, what kind of value it is, whether it ever reaches a partner,
whether it may name a person and whether a partner may change it; and which to-one relations
lead to which records. Everything that needs one of these facts reads it here (ADR 0018): the
compiled read path's SQL (`hub.reads`), the GraphQL types' `from_record`, the access layer's
redaction and the field names its disclosures note, the ledger's and erasure's personal data,
and what a partner may change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.db import TenantModel

if TYPE_CHECKING:
    # Only named: `hub.access` reads the maps (`hub.exposure_maps`), so this module must not
    # need it to be imported.
    from hub.access.scopes import Scope


class Value(enum.Enum):
    """How a column's value is written in a GraphQL response."""

    ID = "ID"  # a Relay global id of the record
    TEXT = "TEXT"
    ENUM = "ENUM"
    INT = "INT"
    DECIMAL = "DECIMAL"  # as text, exactly as stored
    DATE = "DATE"  # ISO 8601
    TIMESTAMP = "TIMESTAMP"  # ISO 8601 in UTC, as Python's isoformat() writes it
    TEXT_LIST = "TEXT_LIST"


@dataclass(frozen=True)
class Exposed:
    """One field of the type: its column, its kind, and whether it reaches a partner.

    `crosses=False`: the field is null on a record another organisation shares with the caller
    (internal notes, the owner's people); the access layer's redaction nulls exactly these.
    `personal=True`: the column may name a person, so the ledger never keeps its value and
    erasing the person anonymises it (`hub.audit.changes.personal_fields`, ADR 0013).
    `partner_writable=True`: a partner with a CONTRIBUTE grant may change the column on the
    owner's record (`hub.access.changes`; the `partner_columns` trigger repeats the list).
    """

    column: str
    value: Value
    crosses: bool = True
    personal: bool = False
    partner_writable: bool = False


@dataclass(frozen=True)
class ToOne:
    """A to-one relation to a record of the same owner, named by a column of the row."""

    target: Exposure
    column: str


@dataclass(frozen=True)
class Exposure:
    """A record type as the API shows it."""

    type_name: str
    model: type[TenantModel]
    # The scope a token needs to read the type, wherever it is reached (a list, a relation).
    read_scope: Scope
    fields: Mapping[str, Exposed]
    relations: Mapping[str, ToOne] = field(default_factory=dict)
    # Columns the access layer needs to note a crossing record (its customer, what its
    # redaction looks at), beyond `org_id` and `id`.
    noted: tuple[str, ...] = ()
