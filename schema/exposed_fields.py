"""A GraphQL type's plain fields read from its record by the type's exposure map (ADR 0018).

The map (`hub/<domain>/exposure.py`) already says which column holds each plain field of a core
type, so a `from_record` takes them from here rather than naming each column a second time; it
adds only what the map does not hold (relations' keys, private values). A value goes in as the
record holds it, except where the GraphQL type holds it differently: the record's id as a global
id, a list of enum values stored as text as the enum's members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryList, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.field import StrawberryField

from hub.exposure import Exposed, Exposure, Value
from resolvers.ids import NodeType, encode_id

__all__ = ["PlainFields"]

# Python attribute of the GraphQL type, column of the record, conversion (None: as it is).
_Reader = tuple[str, str, Callable[[Any], Any] | None]


@dataclass
class PlainFields:
    """The plain fields of `graphql_type`, as `exposure` maps them to a record's columns."""

    graphql_type: type
    exposure: Exposure
    # Worked out on first use: the type's field annotations resolve once its module is loaded.
    _readers: tuple[_Reader, ...] | None = field(default=None, init=False, repr=False)

    def of(self, record: Any) -> dict[str, Any]:
        """Keyword arguments of the GraphQL type for its plain fields, read from `record`."""
        readers = self._readers
        if readers is None:
            readers = self._readers = _readers(self.graphql_type, self.exposure)
        return {
            attribute: getattr(record, column)
            if convert is None
            else convert(getattr(record, column))
            for attribute, column, convert in readers
        }


def _readers(graphql_type: type, exposure: Exposure) -> tuple[_Reader, ...]:
    names = NameConverter()
    by_name = {
        names.get_graphql_name(declared): declared
        for declared in get_object_definition(graphql_type, strict=True).fields
    }
    node_type = NodeType(exposure.type_name)
    return tuple(
        (by_name[name].python_name, exposed.column, _conversion(by_name[name], exposed, node_type))
        for name, exposed in exposure.fields.items()
    )


def _conversion(
    declared: StrawberryField, exposed: Exposed, node_type: NodeType
) -> Callable[[Any], Any] | None:
    if exposed.value is Value.ID:
        return lambda record_id: strawberry.ID(encode_id(node_type, record_id))
    kind = declared.type
    if isinstance(kind, StrawberryList) and isinstance(kind.of_type, StrawberryEnumDefinition):
        members = kind.of_type.wrapped_cls
        return lambda values: [members(value) for value in values]
    return None
