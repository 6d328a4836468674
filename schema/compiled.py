"""Hot documents answered in one statement (ADR 0018), the rest left to strawberry.

A query whose one root field is `opportunities`, `customers`, `cases` or `node`, and whose
selection is fields and to-one relations of the core types (as `hub/<domain>/exposure.py`
declares them), connection edges, cursors, page info and `__typename`, is planned once per
document: which
response key holds what, in the order the response lists it. Each request then binds the
variables, and `hub.reads` builds the nodes' JSON in PostgreSQL. The answer is the one the
generic path gives, byte for byte (`tests/properties/test_compiled_reads.py`), and the same
records are noted for the audit ledger.

Anything else — another root field, a list or a field with arguments inside a node, a
directive, a variable that does not coerce, an id of another type, a missing scope, a page
size out of range, a bad cursor — is answered by strawberry, so every error keeps its one
source.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import strawberry
from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    visit,
)
from graphql.execution.values import get_argument_values, get_variable_values
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import SchemaExtension
from strawberry.types.arguments import convert_arguments

from hub.access import Actor
from hub.audit.disclosures import note_selection
from hub.cases import service as case_service
from hub.cases.exposure import CASE
from hub.customers import service as customer_service
from hub.customers.exposure import CUSTOMER
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.exposure import Exposure
from hub.opportunities import service as opportunity_service
from hub.opportunities.exposure import OPPORTUNITY
from hub.pagination import Listing
from hub.reads import Leaf, ReadPage, Related, Shape, TypeName
from hub.reads.direct import NotAdmitted, Unkept
from resolvers import compiled as read
from resolvers.context import RequestContext
from resolvers.ids import decode_any_id
from schema.cases import case_list_arguments
from schema.customers import customer_list_arguments
from schema.disclosed_fields import selection_of
from schema.document_cache import DOCUMENT_CACHE_SIZE
from schema.nodes import compiled_nodes
from schema.opportunities import opportunity_list_arguments

__all__ = ["CompiledExecution", "CompiledReads"]

log = logging.getLogger("hub.graphql")


@dataclass(frozen=True)
class _Listable:
    exposure: Exposure
    arguments: Callable[[Any, Any], tuple[Any, Any]]
    listing: Callable[..., Awaitable[Listing[Any]]]


_LISTS: dict[str, _Listable] = {
    "opportunities": _Listable(
        OPPORTUNITY, opportunity_list_arguments, opportunity_service.opportunity_listing
    ),
    "customers": _Listable(CUSTOMER, customer_list_arguments, customer_service.customer_listing),
    "cases": _Listable(CASE, case_list_arguments, case_service.case_listing),
}
_NODES = compiled_nodes()
_SERIALS = itertools.count()
_EXPOSED = {kind.exposure.type_name: kind.exposure for kind in _NODES.values() if kind.exposure}


@dataclass(frozen=True)
class _Connection:
    """Where a connection's parts go: (key, part) with parts `edges`, `pageInfo`, `__typename`."""

    field_name: str
    listable: _Listable
    items: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]
    node: Shape
    type_name: str
    edge_type: str
    cursors: bool  # whether it names a row's cursor (an edge's, or the page's first or last)


@dataclass(frozen=True)
class _Plan:
    serial: int  # names the plan in the keys of its statements (`hub.reads.prepared`)
    operation: OperationDefinitionNode
    key: str
    field: FieldNode
    connection: _Connection | None
    nodes: Mapping[str, Shape]  # for `node`: a shape per type the id may name


class CompiledReads:
    """Plans per document (bounded, like the parse cache) and answers what it planned.

    One per schema; each request's `CompiledExecution` asks it, after strawberry has parsed and
    validated the document with every limit.
    """

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self.graphql: GraphQLSchema = schema._schema
        self._plans: dict[tuple[str, str | None], _Plan | None] = {}
        # Requests answered here rather than by the resolvers, since the process started;
        # and of those, the ones an admitted caller's read answered on the driver (ADR 0020).
        self.answered = 0
        self.answered_directly = 0

    def plan(self, query: str, operation_name: str | None, document: DocumentNode) -> _Plan | None:
        """The plan of a document, made the first time it is seen (its text is the key)."""
        key = (query, operation_name)
        if key in self._plans:
            return self._plans[key]
        try:
            plan = _planned(self.graphql, document, operation_name, next(_SERIALS))
        except _NotCompiled:
            plan = None
        if len(self._plans) >= DOCUMENT_CACHE_SIZE:
            del self._plans[next(iter(self._plans))]  # the oldest
        self._plans[key] = plan
        return plan

    async def answer_planned(
        self,
        context: RequestContext,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The `data` of a document planned before, without strawberry's pipeline; None for a
        document not planned yet (or not compilable), or one left to strawberry.

        A plan exists only for a document strawberry parsed and validated, with every limit,
        against this schema; validation depends on the document alone, so it holds for every
        later request of the same text. What the extensions do before execution for such a
        document is done here: the ledger is told what the document selects.
        """
        plan = self._plans.get((query, operation_name))
        if plan is None:
            return None
        note_selection(context.session, selection_of(self.graphql, query))
        return await self.answer(read.InTransaction(context), plan, variables)

    async def answer_directly(
        self,
        reader: read.Direct,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The `data` of a document planned before, read as one statement of a remembered
        caller (ADR 0020); None where that cannot be (no statement kept for it, a caller not
        admitted, anything to refuse), and the request then goes the usual way.

        The selection the ledger is told of is already in a kept statement: it was built for
        the same document.
        """
        plan = self._plans.get((query, operation_name))
        if plan is None:
            return None
        try:
            data = await self.answer(reader, plan, variables)
        except (Unkept, NotAdmitted):
            return None
        if data is not None:
            self.answered_directly += 1
        return data

    async def answer(
        self,
        reader: read.Reader,
        plan: _Plan,
        variables: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The response's `data`, or None to leave the request to strawberry."""
        try:
            data = await self._answer(reader, plan, variables or {})
        except (Forbidden, InvalidInput, NotFound, GraphQLError):
            return None  # refused before anything was read: strawberry says why
        if data is not None:
            self.answered += 1
        return data

    async def _answer(
        self, reader: read.Reader, plan: _Plan, variables: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        definitions = plan.operation.variable_definitions or ()
        bound = get_variable_values(self.graphql, definitions, dict(variables))
        if isinstance(bound, list):
            return None
        definition = _as_object(self.graphql.query_type).fields[plan.field.name.value]
        arguments = get_argument_values(definition, plan.field, bound)
        if plan.connection is not None:
            connection = plan.connection
            return {plan.key: await self._connection(reader, plan.serial, connection, arguments)}
        node_type, record_id = decode_any_id(arguments["id"])
        shape = plan.nodes.get(node_type.value)
        if shape is None:
            return None
        finder = _NODES[node_type].select_one_visible
        if finder is None:
            return None

        async def visible(session: AsyncSession, actor: Actor) -> Any:
            return await finder(session, actor, record_id)

        key = (plan.serial, node_type)
        return {plan.key: await reader.record(key, visible, record_id, shape)}

    async def _connection(
        self,
        reader: read.Reader,
        serial: int,
        connection: _Connection,
        arguments: dict[str, Any],
    ) -> dict[str, Any]:
        after = arguments.get("after")

        async def listing(session: AsyncSession, actor: Actor) -> Listing[Any]:
            field = self.schema.get_field_for_type(connection.field_name, "Query")
            if field is None:
                raise GraphQLError(f"no field {connection.field_name}")
            converted = convert_arguments(
                arguments,
                field.arguments,
                scalar_registry=self.schema.schema_converter.scalar_registry,
                config=self.schema.config,
            )
            where, order = connection.listable.arguments(
                converted.get("filter"), converted.get("order_by")
            )
            return await connection.listable.listing(session, actor, where, order)

        # Everything the listing reads but the cursor and the actor (`hub.reads` adds those).
        key = (serial, _frozen({k: v for k, v in arguments.items() if k != "after"}))
        first = arguments.get("first", 20)
        page = await reader.page(key, listing, first, after, connection.node, connection.cursors)
        return _connection_data(connection, page, after is not None)


class CompiledExecution(SchemaExtension):
    """Answer a planned document from PostgreSQL instead of running its resolvers.

    Usage: `strawberry.Schema(..., extensions=[partial(CompiledExecution, reads=…)])` with a
    function giving the schema's one `CompiledReads`: a new instance per request, one planner.
    It runs after parsing and validation (the limits included); setting the result before
    execution makes strawberry skip its own, and every other extension sees it as usual.
    """

    def __init__(self, *, reads: Callable[[strawberry.Schema], CompiledReads]) -> None:
        super().__init__()
        self.reads = reads

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        query, document = execution.query, execution.graphql_document
        if isinstance(context, RequestContext) and query and document is not None:
            reads = self.reads(execution.schema)
            plan = reads.plan(query, execution.operation_name, document)
            if plan is not None:
                data = await reads.answer(read.InTransaction(context), plan, execution.variables)
                if data is not None:
                    execution.result = ExecutionResult(data=data, errors=None)
        yield


def _frozen(value: Any) -> Hashable:
    """Coerced argument values as a key: input objects and lists made immutable."""
    if isinstance(value, Mapping):
        return tuple((name, _frozen(item)) for name, item in value.items())
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return cast(Hashable, value)


def _connection_data(connection: _Connection, page: ReadPage, after: bool) -> dict[str, Any]:
    cursors = page.cursors
    info = {
        "hasNextPage": page.has_next_page,
        "hasPreviousPage": after,
        "startCursor": cursors[0] if cursors else None,
        "endCursor": cursors[-1] if cursors else None,
        "__typename": "PageInfo",
    }
    data: dict[str, Any] = {}
    for key, part, items in connection.items:
        if part == "__typename":
            data[key] = connection.type_name
        elif part == "pageInfo":
            data[key] = {item_key: info[name] for item_key, name in items}
        else:
            edges = []
            for cursor, node in zip(cursors, page.nodes, strict=True):
                edge = {"cursor": cursor, "node": node, "__typename": connection.edge_type}
                edges.append({item_key: edge[name] for item_key, name in items})
            data[key] = edges
    return data


# --- planning ------------------------------------------------------------------------------


class _NotCompiled(Exception):
    """The document asks for something the compiled path does not answer."""


def _planned(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, serial: int
) -> _Plan:
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        raise _NotCompiled
    if _has_directives(document):
        raise _NotCompiled
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    root = _as_object(schema.query_type)
    fields = _collect(schema, [operation.selection_set], root, fragments)
    if len(fields) != 1:
        raise _NotCompiled
    [(key, nodes)] = fields.items()
    if len(nodes) != 1:
        raise _NotCompiled
    field = nodes[0]
    name = field.name.value
    if name in _LISTS:
        connection = _planned_connection(schema, root, field, fragments, _LISTS[name])
        return _Plan(serial, operation, key, field, connection, {})
    if name == "node":
        shapes = {}
        for exposure in _EXPOSED.values():
            object_type = _object_type(schema, exposure.type_name)
            try:
                shapes[exposure.type_name] = _shape(
                    schema, exposure, object_type, [field.selection_set], fragments
                )
            except _NotCompiled:
                continue
        if not shapes:
            raise _NotCompiled
        return _Plan(serial, operation, key, field, None, shapes)
    raise _NotCompiled


def _planned_connection(
    schema: GraphQLSchema,
    root: GraphQLObjectType,
    field: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    listable: _Listable,
) -> _Connection:
    connection_type = _as_object(get_named_type(root.fields[field.name.value].type))
    edge_type = _as_object(get_named_type(connection_type.fields["edges"].type))
    page_info_type = _as_object(get_named_type(connection_type.fields["pageInfo"].type))
    items: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    node: Shape | None = None
    for key, nodes in _collect(schema, [field.selection_set], connection_type, fragments).items():
        name = _plain_name(nodes)
        if name == "__typename":
            items.append((key, name, ()))
        elif name == "pageInfo":
            parts = _collect(schema, _sets(nodes), page_info_type, fragments)
            items.append((key, name, tuple((k, _plain_name(v)) for k, v in parts.items())))
        elif name == "edges":
            parts = _collect(schema, _sets(nodes), edge_type, fragments)
            edge_items = []
            for edge_key, edge_nodes in parts.items():
                edge_name = _plain_name(edge_nodes)
                if edge_name == "node":
                    if node is not None:
                        raise _NotCompiled  # two node selections: left to strawberry
                    node_type = _object_type(schema, listable.exposure.type_name)
                    node = _shape(
                        schema, listable.exposure, node_type, _sets(edge_nodes), fragments
                    )
                edge_items.append((edge_key, edge_name))
            items.append((key, name, tuple(edge_items)))
        else:
            raise _NotCompiled
    node = node or Shape(listable.exposure, ())
    named = {name for _, _, parts in items for _, name in parts}
    cursors = bool(named & {"cursor", "startCursor", "endCursor"})
    return _Connection(
        field.name.value,
        listable,
        tuple(items),
        node,
        connection_type.name,
        edge_type.name,
        cursors,
    )


def _shape(
    schema: GraphQLSchema,
    exposure: Exposure,
    object_type: GraphQLObjectType,
    selection_sets: list[SelectionSetNode | None],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Shape:
    items: list[Leaf | TypeName | Related] = []
    for key, nodes in _collect(schema, selection_sets, object_type, fragments).items():
        name = _plain_name(nodes)
        if name == "__typename":
            items.append(TypeName(key))
        elif name in exposure.fields:
            items.append(Leaf(key, name))
        elif name in exposure.relations:
            target = exposure.relations[name].target
            target_type = _object_type(schema, target.type_name)
            items.append(
                Related(key, name, _shape(schema, target, target_type, _sets(nodes), fragments))
            )
        else:
            raise _NotCompiled
    return Shape(exposure, tuple(items))


def _collect(
    schema: GraphQLSchema,
    selection_sets: Iterable[SelectionSetNode | None],
    object_type: GraphQLObjectType,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> dict[str, list[FieldNode]]:
    """The fields selected on `object_type`, by response key, in the order execution lists
    them (graphql-core's field collection, fragments flattened where their type applies)."""
    fields: dict[str, list[FieldNode]] = {}

    def walk(selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or _applies(schema, condition.name.value, object_type):
                    walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None:
                    raise _NotCompiled
                if _applies(schema, fragment.type_condition.name.value, object_type):
                    walk(fragment.selection_set)

    for selection_set in selection_sets:
        walk(selection_set)
    return fields


def _applies(schema: GraphQLSchema, condition: str, object_type: GraphQLObjectType) -> bool:
    if condition == object_type.name:
        return True
    abstract = schema.get_type(condition)
    return abstract is not None and any(
        possible.name == object_type.name
        for possible in schema.get_possible_types(abstract)  # type: ignore[arg-type]
    )


def _plain_name(nodes: list[FieldNode]) -> str:
    """The field's name; a field given arguments (inside a node or connection) is not compiled."""
    if any(node.arguments for node in nodes):
        raise _NotCompiled
    return nodes[0].name.value


def _sets(nodes: list[FieldNode]) -> list[SelectionSetNode | None]:
    return [node.selection_set for node in nodes]


def _object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    return _as_object(schema.get_type(name))


def _as_object(found: object) -> GraphQLObjectType:
    if not isinstance(found, GraphQLObjectType):
        raise _NotCompiled
    return found


def _has_directives(document: DocumentNode) -> bool:
    found: list[DirectiveNode] = []

    class _Directives(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            found.append(node)

    visit(document, _Directives())
    return bool(found)
