"""The one node registry: a global id's type ↔ its loader ↔ its GraphQL type ↔ its compiled read.

`node(id:)` and `nodes(ids:)` find a record's loader and converter here; the compiled read path
(`schema.compiled`) finds here which types it answers by id, with their exposure maps and the
service statement of one visible record. A type not named here is no node a client may look up.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from strawberry.dataloader import DataLoader

from hub.cases import service as case_service
from hub.cases.exposure import CASE
from hub.customers import service as customer_service
from hub.customers.exposure import CUSTOMER
from hub.exposure import Exposure
from hub.opportunities import service as opportunity_service
from hub.opportunities.exposure import OPPORTUNITY
from resolvers.ids import NodeType
from resolvers.loaders import Loaders
from schema.admin import ApiClient
from schema.base import Node
from schema.cases import Case
from schema.customers import Contact, Customer
from schema.deals import DealRegistration
from schema.grants import Grant
from schema.opportunities import Opportunity
from schema.partnerships import Partnership
from schema.users import User

__all__ = ["NODES", "NodeKind", "compiled_nodes"]


@dataclass(frozen=True)
class NodeKind:
    """Everything the API does with one type of node."""

    loader: Callable[[Loaders], DataLoader[uuid.UUID, Any]]
    converter: Callable[[Any], Node]
    # For the compiled read by id (ADR 0018): what of the type is exposed, and the service's
    # statement of one visible record. None: answered by the loader and converter only.
    exposure: Exposure | None = None
    select_one_visible: Callable[..., Awaitable[Select[Any]]] | None = None


NODES: dict[NodeType, NodeKind] = {
    NodeType.CUSTOMER: NodeKind(
        lambda loaders: loaders.customer,
        Customer.from_record,
        CUSTOMER,
        customer_service.select_one_visible,
    ),
    NodeType.CONTACT: NodeKind(lambda loaders: loaders.contact, Contact.from_record),
    NodeType.OPPORTUNITY: NodeKind(
        lambda loaders: loaders.opportunity,
        Opportunity.from_record,
        OPPORTUNITY,
        opportunity_service.select_one_visible,
    ),
    NodeType.CASE: NodeKind(
        lambda loaders: loaders.case, Case.from_record, CASE, case_service.select_one_visible
    ),
    NodeType.USER: NodeKind(lambda loaders: loaders.user, User.from_record),
    NodeType.API_CLIENT: NodeKind(lambda loaders: loaders.api_client, ApiClient.from_record),
    NodeType.PARTNERSHIP: NodeKind(lambda loaders: loaders.partnership, Partnership.from_record),
    NodeType.GRANT: NodeKind(lambda loaders: loaders.grant, Grant.from_record),
    NodeType.DEAL_REGISTRATION: NodeKind(
        lambda loaders: loaders.deal_registration, DealRegistration.from_record
    ),
}


def compiled_nodes() -> dict[NodeType, NodeKind]:
    """The node types the compiled read path answers by id."""
    return {
        node_type: kind
        for node_type, kind in NODES.items()
        if kind.exposure is not None and kind.select_one_visible is not None
    }
