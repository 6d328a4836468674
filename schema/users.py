"""People of the caller's organisation, as shown on records they own or are assigned."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from hub.orgs.models import User as UserRecord
from resolvers.ids import NodeType, encode_id
from schema.base import Info, Node
from schema.enums import Role


@strawberry.type
class User(Node):
    display_name: str
    email: str
    role: Role
    disabled_at: datetime | None
    created_at: datetime
    record_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="Invited and not yet signed up, with an invitation that can still be "
        "accepted. Only admins may ask."
    )
    async def invitation_pending(self, info: Info) -> bool:
        return await info.context.loaders.pending_invitation.load(self.record_id) is not None

    @staticmethod
    def from_record(record: UserRecord) -> User:
        return User(
            id=strawberry.ID(encode_id(NodeType.USER, record.id)),
            display_name=record.display_name,
            email=record.email,
            role=record.role,
            disabled_at=record.disabled_at,
            created_at=record.created_at,
            record_id=record.id,
        )
