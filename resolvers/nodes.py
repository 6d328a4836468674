"""`node(id:)` and `nodes(ids:)`: one loader per type, so a batch of ids costs one query each."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from hub.errors import NotFound
from resolvers.context import RequestContext
from resolvers.ids import NodeType, decode_any_id


async def load_node(ctx: RequestContext, global_id: str) -> tuple[NodeType, Any] | None:
    """The record behind a global id, or None: absent, invisible and malformed look alike."""
    try:
        node_type, record_id = decode_any_id(global_id)
    except NotFound:
        return None
    loaders = ctx.loaders
    by_type: dict[NodeType, DataLoader[uuid.UUID, Any]] = {
        NodeType.CUSTOMER: loaders.customer,
        NodeType.CONTACT: loaders.contact,
        NodeType.OPPORTUNITY: loaders.opportunity,
        NodeType.CASE: loaders.case,
        NodeType.USER: loaders.user,
        NodeType.API_CLIENT: loaders.api_client,
        NodeType.PARTNERSHIP: loaders.partnership,
        NodeType.GRANT: loaders.grant,
        NodeType.DEAL_REGISTRATION: loaders.deal_registration,
    }
    loader = by_type.get(node_type)
    if loader is None:
        return None
    record = await loader.load(record_id)
    return (node_type, record) if record is not None else None
