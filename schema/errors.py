"""Errors at the GraphQL edge: typed codes for known failures, a masked INTERNAL for the rest.

Clients get `extensions.code` to switch on and never a stack trace; an unexpected error
is logged with the request id, which the client also receives, so support can find it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from hub.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from resolvers.context import RequestContext

log = logging.getLogger("hub.graphql")

__all__ = ["TypedErrors"]


class TypedErrors(SchemaExtension):
    """Give every error a code; mask anything unexpected as INTERNAL.

    Usage: `strawberry.Schema(..., extensions=[TypedErrors])` — a class, so each request
    gets its own instance.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        context = self.execution_context.context
        result.errors = [self._typed(error, context) for error in result.errors]

    def _typed(self, error: GraphQLError, context: object) -> GraphQLError:
        original = error.original_error
        if original is None:
            return _with_code(error, error.message, "GRAPHQL_VALIDATION_FAILED")
        if isinstance(original, Unauthenticated):
            return _with_code(error, str(original), "UNAUTHENTICATED")
        if isinstance(original, Forbidden):
            return _with_code(error, str(original), "FORBIDDEN")
        if isinstance(original, InvalidInput):
            fields = [".".join(item.field) for item in original.errors]
            return _with_code(error, str(original), "BAD_USER_INPUT", fields=fields)
        if isinstance(original, NotFound):
            return _with_code(error, "No such record.", "NOT_FOUND", fields=[original.field])
        if isinstance(original, GraphQLError):
            # Argument coercion and similar errors raised while resolving: the client's fault.
            return _with_code(error, error.message, "BAD_USER_INPUT")
        request_id = context.request_id if isinstance(context, RequestContext) else None
        if isinstance(context, RequestContext):
            context.unexpected_error = True
        log.error(
            "unexpected error in %s",
            ".".join(str(part) for part in error.path or ()),
            exc_info=original,
            extra={"request_id": request_id},
        )
        return _with_code(error, "Internal server error.", "INTERNAL", requestId=request_id)


def _with_code(error: GraphQLError, message: str, code: str, **extra: object) -> GraphQLError:
    extensions = {**(error.extensions or {}), "code": code}
    extensions.update({key: value for key, value in extra.items() if value is not None})
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
