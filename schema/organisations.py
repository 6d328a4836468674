"""An organisation as others on the hub see it: the caller's own, or one across a partnership."""

from __future__ import annotations

import uuid

import strawberry

from hub.errors import NotFound
from hub.orgs.models import Organisation as OrganisationRecord
from resolvers.ids import NodeType, encode_id
from schema.base import Info


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


async def organisation_of(info: Info, org_id: uuid.UUID) -> Organisation:
    """An organisation across a partnership the caller can see (either side of a partnership, a
    deal registration or a disclosure is always visible to it): never null."""
    record = await info.context.loaders.organisation.load(org_id)
    if record is None:
        raise NotFound()
    return Organisation.from_record(record)
