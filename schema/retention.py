"""Retention: how long the caller's organisation keeps audit events and closed records.

Both fields need `privacy:manage` (and an ADMIN when a person acts); the rule lives in
`hub.access.retention`. Setting a period deletes nothing at once: `hub retention run` applies
it (ADR 0014).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from hub.retention import policy
from hub.retention.models import MAX_DAYS, MIN_DAYS
from resolvers import retention as resolve
from schema.base import Info, UserError, user_errors

_PERIOD = (
    f"Days to keep them, {MIN_DAYS} to {MAX_DAYS:,}; null keeps them forever; "
    "left out, the period stays as it is."
)


@strawberry.type(description="How long the organisation keeps its audit events and records.")
class RetentionPolicy:
    audit_events_days: int | None = strawberry.field(
        description="Audit events older than this are cut from the ledger at a checkpoint; "
        "null: kept forever."
    )
    closed_records_days: int | None = strawberry.field(
        description="Won or lost opportunities, closed cases and rejected deal registrations "
        "closed longer ago than this are deleted; null: kept forever."
    )
    updated_at: datetime | None = strawberry.field(description="Null until a period is set.")

    @staticmethod
    def from_settings(settings: policy.RetentionSettings) -> RetentionPolicy:
        return RetentionPolicy(
            audit_events_days=settings.audit_events_days,
            closed_records_days=settings.closed_records_days,
            updated_at=settings.updated_at,
        )


@strawberry.input
class SetRetentionPolicyInput:
    audit_events_days: int | None = strawberry.field(default=strawberry.UNSET, description=_PERIOD)
    closed_records_days: int | None = strawberry.field(
        default=strawberry.UNSET, description=_PERIOD
    )

    def to_command(self) -> policy.SetRetentionPolicy:
        given = frozenset(
            name
            for name in ("audit_events_days", "closed_records_days")
            if getattr(self, name) is not strawberry.UNSET
        )
        return policy.SetRetentionPolicy(
            audit_events_days=None if "audit_events_days" not in given else self.audit_events_days,
            closed_records_days=(
                None if "closed_records_days" not in given else self.closed_records_days
            ),
            given=given,
        )


@strawberry.type
class SetRetentionPolicyPayload:
    retention_policy: RetentionPolicy | None
    user_errors: list[UserError]


@strawberry.type
class RetentionQuery:
    @strawberry.field(description="The organisation's retention policy; scope `privacy:manage`.")
    async def retention_policy(self, info: Info) -> RetentionPolicy:
        return RetentionPolicy.from_settings(await resolve.retention_policy(info.context))


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(
        description="Set how long audit events and closed records are kept; "
        "recorded as `retention.changed`. Scope `privacy:manage`."
    )
    async def set_retention_policy(
        self, info: Info, input: SetRetentionPolicyInput
    ) -> SetRetentionPolicyPayload:
        outcome = await resolve.set_retention_policy(info.context, input.to_command)
        return SetRetentionPolicyPayload(
            retention_policy=(
                RetentionPolicy.from_settings(outcome.value) if outcome.value else None
            ),
            user_errors=user_errors(outcome.errors),
        )
