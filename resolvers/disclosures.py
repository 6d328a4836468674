"""The disclosure report: a thin resolver over the audit service."""

from __future__ import annotations

from hub.audit import report
from hub.errors import NotFound
from hub.privacy.subjects import PrivacySubject
from resolvers.context import RequestContext


async def disclosure_report(
    ctx: RequestContext, subject: PrivacySubject
) -> report.DisclosureReport | None:
    """A subject that is not the caller's answers null, like `node` (STYLE: errors)."""
    try:
        return await ctx.call(report.disclosure_report, subject)
    except NotFound:
        return None
