"""An organisation as others on the hub see it: the caller's own, or one across a partnership."""

from __future__ import annotations

import strawberry

from hub.orgs.models import Organisation as OrganisationRecord
from resolvers.ids import NodeType, encode_id


@strawberry.type
class Organisation:
    id: strawberry.ID
    name: str
    slug: str = strawberry.field(
        description="Its unique handle on the hub: an owner invites a partner by it, and an "
        "external identity provider names the organisation by it (its org claim)."
    )

    @staticmethod
    def from_record(record: OrganisationRecord) -> Organisation:
        return Organisation(
            id=strawberry.ID(encode_id(NodeType.ORGANISATION, record.id)),
            name=record.name,
            slug=record.slug,
        )
