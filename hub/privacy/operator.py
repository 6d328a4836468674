"""The operator's way in (`hub privacy export`): an organisation named by id or slug, acting
for it with `privacy:manage` only, through the same service the API uses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.actor import Actor
from hub.access.rls import enter_organisation
from hub.access.scopes import Scope
from hub.errors import HubError, NotFound
from hub.orgs.lookup import find_organisation
from hub.orgs.models import Organisation
from hub.privacy.export import PersonalDataExport, export_personal_data
from hub.privacy.subjects import PrivacySubject, subject_by_id

# How the command appears in the audit trail: the client that acted.
OPERATOR_CLIENT = "hub-cli"


class UnknownSubject(HubError):
    """The organisation or the subject an operator named does not exist (or is not its)."""


@dataclass(frozen=True)
class OperatorExport:
    organisation: Organisation
    export: PersonalDataExport

    def line(self, destination: str) -> str:
        """The one plain line a pipe or a log reads when the export is done."""
        counts = self.export.row_counts
        subject = self.export.subject
        return (
            f"exported {sum(counts.values())} rows from {len(counts)} tables about "
            f"{subject.kind} {subject.subject_id} of {self.organisation.slug} to {destination}"
        )


async def export_for_operator(
    session: AsyncSession,
    organisation: str,
    subject: PrivacySubject | uuid.UUID,
    *,
    progress: Callable[[int], None] | None = None,
) -> OperatorExport:
    found = await find_organisation(session, organisation)
    if found is None:
        raise UnknownSubject(f"no organisation {organisation}")
    actor = Actor(
        org_id=found.id,
        scopes=frozenset({Scope.PRIVACY_MANAGE}),
        client_id=OPERATOR_CLIENT,
        request_id=f"cli-{uuid.uuid4()}",
    )
    await enter_organisation(session, found.id)
    target = subject.subject_id if isinstance(subject, PrivacySubject) else subject
    try:
        named = (
            subject
            if isinstance(subject, PrivacySubject)
            else await subject_by_id(session, actor, subject)
        )
        exported = await export_personal_data(session, actor, named, progress=progress)
    except NotFound:
        raise UnknownSubject(f"no customer or contact {target} in {found.slug}") from None
    return OperatorExport(found, exported)
