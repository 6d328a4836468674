"""Which fields a request selected on each type: the audit ledger's account of what crossed.

The access layer notes each record a partner receives; which of its fields the partner actually
received depends on the operation. Before the operation runs, this extension hands the ledger the
leaf fields (scalars and enums) the document selects on each object type, fragments and
interfaces included, computed once per distinct document. A field selected on an interface
counts for the types the same selection narrows to with fragments (`node { id ... on Case {
subject } }`: Case's id), or for every implementation when it names none. A type selected in
two places with different fields counts with both: the ledger may say a field crossed that only
one place asked for, never the reverse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_leaf_type,
    parse,
    visit,
)
from strawberry.extensions import SchemaExtension

from hub.audit.disclosures import note_selection
from resolvers.context import RequestContext

__all__ = ["DisclosedFields", "selected_leaf_fields", "selection_of"]


class DisclosedFields(SchemaExtension):
    """Tell the ledger what the operation selects, for the records a partner is given.

    Said before the operation runs (computed once per document), so that every record noted
    while it runs, or by a resolver let finish after a sibling failed, counts with it.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        query = self.execution_context.query
        if isinstance(context, RequestContext) and query is not None:
            schema = self.execution_context.schema._schema
            note_selection(context.session, selection_of(schema, query))
        yield


@lru_cache(maxsize=512)
def selection_of(schema: GraphQLSchema, query: str) -> Mapping[str, frozenset[str]]:
    """What `note_selection` is told for a document (computed once per document)."""
    return selected_leaf_fields(schema, parse(query))


def selected_leaf_fields(
    schema: GraphQLSchema, document: DocumentNode
) -> dict[str, frozenset[str]]:
    """Per object type name, the leaf fields the document selects on it anywhere."""
    info = TypeInfo(schema)
    fields: dict[str, set[str]] = defaultdict(set)
    fragments = {
        definition.name.value: definition.type_condition.name.value
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }

    def owners(parent: GraphQLNamedType, siblings: Any) -> list[str]:
        """Where a field is selected on an interface, the types it can reach there: those the
        same selection narrows to with fragments, or, without any, every implementation."""
        if not isinstance(parent, (GraphQLInterfaceType, GraphQLUnionType)):
            return [parent.name]
        possible = {member.name for member in schema.get_possible_types(parent)}
        narrowed: set[str] = set()
        for sibling in siblings if isinstance(siblings, (list, tuple)) else ():
            condition = None
            if isinstance(sibling, InlineFragmentNode) and sibling.type_condition:
                condition = sibling.type_condition.name.value
            elif isinstance(sibling, FragmentSpreadNode):
                condition = fragments.get(sibling.name.value)
            named = schema.get_type(condition) if condition else None
            if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):
                narrowed |= {member.name for member in schema.get_possible_types(named)}
            elif named is not None:
                narrowed.add(named.name)
        return sorted(possible & narrowed if narrowed else possible)

    class Collect(Visitor):
        def enter_field(self, node: FieldNode, _key: Any, siblings: Any, *_: Any) -> None:
            parent, definition = info.get_parent_type(), info.get_field_def()
            name = node.name.value
            if parent is None or definition is None or name.startswith("__"):
                return
            if not is_leaf_type(get_named_type(definition.type)):
                return
            for owner in owners(parent, siblings):
                fields[owner].add(name)

    visit(document, TypeInfoVisitor(info, Collect()))
    return {owner: frozenset(names) for owner, names in fields.items()}
