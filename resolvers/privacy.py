"""Privacy operations: thin resolvers over hub/privacy."""

from __future__ import annotations

from collections.abc import Callable

from hub.customers.models import Contact, Customer
from hub.errors import NotFound
from hub.pagination import Page, PageRequest
from hub.privacy import erasure, export, notices
from hub.privacy.models import PrivacyNotice
from hub.privacy.subjects import PrivacySubject
from resolvers.context import RequestContext
from resolvers.ids import NodeType, decode_accepted
from resolvers.outcome import Outcome

_SUBJECTS: dict[NodeType, type[Customer] | type[Contact]] = {
    NodeType.CUSTOMER: Customer,
    NodeType.CONTACT: Contact,
}


def subject_of(global_id: str, field: str = "subjectId") -> PrivacySubject:
    """A customer or contact by its global id (the export, erasure and disclosure report all
    name their subject so); any other id is bad input and never looked up."""
    model, record_id = decode_accepted(
        global_id, _SUBJECTS, field, "one of your customers or contacts"
    )
    return PrivacySubject(model, record_id)


async def export_personal_data(
    ctx: RequestContext, subject: PrivacySubject
) -> export.PersonalDataExport | None:
    """A subject that is not the caller's answers null, like `node` (STYLE: errors)."""
    try:
        return await ctx.call(export.export_personal_data, subject)
    except NotFound:
        return None


async def erase_personal_data(
    ctx: RequestContext, build: Callable[[], PrivacySubject]
) -> Outcome[erasure.Erasure]:
    return await ctx.mutate(erasure.erase_personal_data, build)


async def list_notices(
    ctx: RequestContext, where: notices.NoticeFilter, first: int, after: str | None
) -> Page[PrivacyNotice]:
    page = PageRequest(first, after, ctx.max_page_size)
    return await ctx.call(notices.list_notices, where, page)


async def acknowledge_notice(
    ctx: RequestContext, build: Callable[[], notices.AcknowledgeNotice]
) -> Outcome[notices.Acknowledgement]:
    return await ctx.mutate(notices.acknowledge_notice, build)
