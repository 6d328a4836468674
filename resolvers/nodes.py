"""`node(id:)` and `nodes(ids:)`: one loader per type, so a batch of ids costs one query each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from strawberry.dataloader import DataLoader

from hub.errors import NotFound
from resolvers.context import RequestContext
from resolvers.ids import NodeType, decode_any_id


async def load_node(
    ctx: RequestContext,
    global_id: str,
    loader_of: Callable[[NodeType], DataLoader[uuid.UUID, Any] | None],
) -> tuple[NodeType, Any] | None:
    """The record behind a global id, or None: absent, invisible and malformed look alike.

    `loader_of` names the loader of a type (the node registry, `schema.nodes`), or None for a
    type that is no node.
    """
    try:
        node_type, record_id = decode_any_id(global_id)
    except NotFound:
        return None
    loader = loader_of(node_type)
    if loader is None:
        return None
    record = await loader.load(record_id)
    return (node_type, record) if record is not None else None
