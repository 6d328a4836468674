"""Relay building blocks: Node, connections, and typed user errors."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import strawberry

from hub.errors import FieldError
from resolvers.context import RequestContext
from schema.enums import UserErrorCode

Info = strawberry.Info[RequestContext, None]

N = TypeVar("N")
R = TypeVar("R")


@strawberry.interface(description="An object with an opaque global id.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


class Paged(Protocol[R]):
    """A page as services return it: `hub.pagination.Page`, or a page with cursors of its own."""

    @property
    def items(self) -> list[R]: ...

    @property
    def has_next_page(self) -> bool: ...

    @property
    def has_previous_page(self) -> bool: ...

    def cursor(self, item: R) -> str: ...


def to_connection(page: Paged[R], convert: Callable[[R], N]) -> Connection[N]:
    """A Relay connection of `page`, each record converted to its GraphQL type."""
    edges = [Edge(cursor=page.cursor(item), node=convert(item)) for item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.type(description="Why a mutation did not happen; nothing was written.")
class UserError:
    field: list[str] | None
    message: str
    code: UserErrorCode


def user_errors(errors: list[FieldError]) -> list[UserError]:
    return [
        UserError(field=["input", *error.field], message=error.message, code=error.code)
        for error in errors
    ]


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"
