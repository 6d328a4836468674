"""Translating optional GraphQL input fields into the services' `UNSET`."""

from __future__ import annotations

import uuid
from typing import Literal, TypeVar, overload

import strawberry

from hub.errors import InvalidInput, UserErrorCode
from hub.values import UNSET, Maybe
from resolvers.ids import NodeType, decode_id

T = TypeVar("T")


@overload
def maybe(value: T | None, field: str, *, nullable: Literal[False]) -> Maybe[T]: ...


@overload
def maybe(
    value: T | None, field: str = "", *, nullable: Literal[True] = True
) -> Maybe[T | None]: ...


def maybe(value: T | None, field: str = "", *, nullable: bool = True) -> Maybe[T | None]:
    """An omitted field stays UNSET; an explicit null clears the field, where that is allowed."""
    if value is strawberry.UNSET:
        return UNSET
    if value is None and not nullable:
        raise InvalidInput.on(field, UserErrorCode.REQUIRED, "This field cannot be cleared.")
    return value


def optional_id(value: strawberry.ID | None, node_type: NodeType, field: str) -> uuid.UUID | None:
    """A filter's optional global id as a uuid."""
    return decode_id(value, node_type, field=field) if value is not None else None


OWNER_FILTER = (
    "Only records this organisation owns: the caller's own organisation, or an owner that "
    "shares with the caller as its partner. An organisation sharing nothing gives no records."
)


def owner_filter(value: strawberry.ID | None) -> uuid.UUID | None:
    """The `owner` filter of a list: an organisation's global id as a uuid."""
    return optional_id(value, NodeType.ORGANISATION, "owner")
