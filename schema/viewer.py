"""`viewer`: who is calling, and `node`/`nodes` lookups by global id."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from hub.errors import InvalidInput, UserErrorCode
from resolvers import nodes as resolve_nodes
from resolvers import viewer as resolve_viewer
from resolvers.ids import NodeType, encode_id
from schema.base import Info, Node
from schema.nodes import NODES
from schema.organisations import Organisation
from schema.users import User


@strawberry.type(description="The caller: its organisation, user or client, and token scopes.")
class Viewer:
    client_id: str
    scopes: list[str]
    user_id: strawberry.ID | None

    @strawberry.field
    async def organisation(self, info: Info) -> Organisation:
        return Organisation.from_record(await resolve_viewer.viewer_organisation(info.context))

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        actor = info.context.actor
        if actor.user_id is None:
            return None
        record = await info.context.loaders.user.load(actor.user_id)
        return User.from_record(record) if record else None


async def _node(info: Info, global_id: str) -> Node | None:
    loaders = info.context.loaders

    def loader_of(node_type: NodeType) -> DataLoader[uuid.UUID, Any] | None:
        kind = NODES.get(node_type)
        return kind.loader(loaders) if kind is not None else None

    found = await resolve_nodes.load_node(info.context, global_id, loader_of)
    if found is None:
        return None
    node_type, record = found
    return NODES[node_type].converter(record)


@strawberry.type
class ViewerQuery:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        actor = info.context.actor
        return Viewer(
            client_id=actor.client_id,
            scopes=sorted(scope.value for scope in actor.scopes),
            user_id=(
                strawberry.ID(encode_id(NodeType.USER, actor.user_id)) if actor.user_id else None
            ),
        )

    @strawberry.field(description="Any record by global id; null when absent or not visible.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info, id)

    @strawberry.field(description="Several records by global id, in order; null where not found.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > info.context.max_page_size:
            raise InvalidInput.on(
                "ids", UserErrorCode.OUT_OF_RANGE, f"At most {info.context.max_page_size} ids."
            )
        return list(await asyncio.gather(*(_node(info, global_id) for global_id in ids)))
