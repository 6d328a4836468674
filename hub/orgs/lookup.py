"""Finding one organisation by its slug (or, for an operator, its id) before the caller may
otherwise see it.

Row-level security shows an actor only its own organisation and those it is partnered with.
Two steps must name a stranger first: an external identity provider's token (which names the
organisation to enter) and an owner inviting a new partner. Both open exactly the one row
named by `hub.lookup_org_slug` (policy `lookup_by_slug`), read it, and close it again.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.rls import enter_organisation
from hub.orgs.models import Organisation

_OPEN = text("SELECT set_config('hub.lookup_org_slug', :slug, true)")


async def find_organisation_by_slug(session: AsyncSession, slug: str) -> Organisation | None:
    """The organisation with exactly this slug, if any.

    The setting is cleared again before returning, so the rest of the transaction cannot read
    the organisation through it; what the caller may see afterwards is decided as usual.
    """
    await session.execute(_OPEN, {"slug": slug})
    organisation = await session.scalar(select(Organisation).where(Organisation.slug == slug))
    await session.execute(_OPEN, {"slug": ""})
    return organisation


async def find_organisation(session: AsyncSession, reference: str) -> Organisation | None:
    """The organisation an operator names on the command line, by its id or its slug.

    By id, the transaction enters that organisation, which is what lets it see its own row.
    """
    try:
        org_id = uuid.UUID(reference)
    except ValueError:
        return await find_organisation_by_slug(session, reference)
    await enter_organisation(session, org_id)
    found: Organisation | None = await session.scalar(
        select(Organisation).where(Organisation.id == org_id)
    )
    return found
