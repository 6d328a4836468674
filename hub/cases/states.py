"""The case state machine (DESIGN 1) and the service-level targets per priority."""

from __future__ import annotations

from datetime import timedelta

from hub.cases.models import CasePriority, CaseStatus

S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.OPEN, S.ESCALATED, S.RESOLVED}),
    S.OPEN: frozenset({S.PENDING_PARTNER, S.PENDING_CUSTOMER, S.ESCALATED, S.RESOLVED}),
    S.PENDING_PARTNER: frozenset({S.OPEN, S.ESCALATED, S.RESOLVED}),
    S.PENDING_CUSTOMER: frozenset({S.OPEN, S.ESCALATED, S.RESOLVED}),
    S.ESCALATED: frozenset({S.OPEN, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.OPEN}),
    S.CLOSED: frozenset({S.OPEN}),
}

# (first response, resolution) targets.
SLA_TARGETS: dict[CasePriority, tuple[timedelta, timedelta]] = {
    CasePriority.URGENT: (timedelta(hours=1), timedelta(hours=8)),
    CasePriority.HIGH: (timedelta(hours=4), timedelta(days=1)),
    CasePriority.NORMAL: (timedelta(hours=8), timedelta(days=3)),
    CasePriority.LOW: (timedelta(days=1), timedelta(days=7)),
}


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    return target in TRANSITIONS[current]
