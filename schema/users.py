"""People of the caller's organisation, as shown on records they own or are assigned."""

from __future__ import annotations

import strawberry

from hub.orgs.models import User as UserRecord
from resolvers.ids import NodeType, encode_id
from schema.base import Node
from schema.enums import Role


@strawberry.type
class User(Node):
    display_name: str
    email: str
    role: Role

    @staticmethod
    def from_record(record: UserRecord) -> User:
        return User(
            id=strawberry.ID(encode_id(NodeType.USER, record.id)),
            display_name=record.display_name,
            email=record.email,
            role=record.role,
        )
