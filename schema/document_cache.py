"""Parse and validate each distinct document once, not once per request (DESIGN 8).

Uncached, the two steps took 13 % of a request's CPU. The caches live at module level, so the
per-request extension instances share them; both are bounded, so a stream of unique documents
costs memory no larger than the bound. A document that does not parse is not cached: strawberry
then parses it itself and reports the syntax error exactly as it always has. A validation result
is cached under the exact rule classes of the request, so the schema makes its limit rules once.

Usage: `strawberry.Schema(..., extensions=[CachedParsing, CachedValidation])`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["DOCUMENT_CACHE_SIZE", "CachedParsing", "CachedValidation", "parsed", "validated"]

# Distinct documents kept: portals and integrations send a few hundred at most.
DOCUMENT_CACHE_SIZE = 1024


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def parsed(query: str, options: tuple[tuple[str, Any], ...]) -> DocumentNode:
    return parse(query, **dict(options))


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def validated(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


class CachedParsing(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            try:
                options = tuple(sorted(context.parse_options.items()))
                context.graphql_document = parsed(context.query, options)
            except GraphQLError:
                pass  # strawberry parses it again and reports the error in its usual shape
        yield


class CachedValidation(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.validation_rules:
            context.pre_execution_errors = validated(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        yield
