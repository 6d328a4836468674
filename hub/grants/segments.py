"""SEGMENT rules: a fixed vocabulary of conditions on a record and its customer (ADR 0008).

A rule is data, never SQL: each condition names a known attribute and a list of values it must
(or must not) have. The access layer turns a rule into a predicate on the record's columns, and
row-level security evaluates the same JSON, so the vocabulary here is the whole language.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.cases.models import CasePriority, CaseStatus
from hub.customers.models import CompanySize, LifecycleStage
from hub.errors import UserErrorCode
from hub.grants.models import RecordType
from hub.opportunities.models import OpportunityStage
from hub.validation import Checks

MAX_VALUES = 50
MAX_VALUE_LENGTH = 100


class SegmentKey(enum.StrEnum):
    """What a rule may test. The customer's attributes apply to every record type."""

    REGION = "region"
    COUNTRY = "country"
    INDUSTRY = "industry"
    SIZE = "size"
    LIFECYCLE_STAGE = "lifecycleStage"
    STAGE = "stage"
    STATUS = "status"
    PRIORITY = "priority"


_CUSTOMER_KEYS = frozenset(
    {
        SegmentKey.REGION,
        SegmentKey.COUNTRY,
        SegmentKey.INDUSTRY,
        SegmentKey.SIZE,
        SegmentKey.LIFECYCLE_STAGE,
    }
)
KEYS_BY_RECORD_TYPE: dict[RecordType, frozenset[SegmentKey]] = {
    RecordType.CUSTOMERS: _CUSTOMER_KEYS,
    RecordType.OPPORTUNITIES: _CUSTOMER_KEYS | {SegmentKey.STAGE},
    RecordType.CASES: _CUSTOMER_KEYS | {SegmentKey.STATUS, SegmentKey.PRIORITY},
}
# Keys whose values come from a closed list; the others are free text (exact match).
_ALLOWED_VALUES: dict[SegmentKey, frozenset[str]] = {
    SegmentKey.SIZE: frozenset(CompanySize),
    SegmentKey.LIFECYCLE_STAGE: frozenset(LifecycleStage),
    SegmentKey.STAGE: frozenset(OpportunityStage),
    SegmentKey.STATUS: frozenset(CaseStatus),
    SegmentKey.PRIORITY: frozenset(CasePriority),
}


@dataclass(frozen=True)
class Segment:
    """`include[key]`: the attribute is one of these; `exclude[key]`: it is none of these."""

    include: Mapping[SegmentKey, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[SegmentKey, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "include": {key.value: list(values) for key, values in sorted(self.include.items())},
            "exclude": {key.value: list(values) for key, values in sorted(self.exclude.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Segment:
        """A rule as stored; stored rules were validated when they were written."""
        return cls(
            include={SegmentKey(k): tuple(v) for k, v in data.get("include", {}).items()},
            exclude={SegmentKey(k): tuple(v) for k, v in data.get("exclude", {}).items()},
        )


@dataclass(frozen=True)
class Condition:
    """One line of a rule as a client sends it."""

    key: str
    values: Sequence[str]
    negated: bool = False


def parse_segment(
    checks: Checks, field_name: str, record_type: RecordType, conditions: Sequence[Condition]
) -> Segment:
    """Validate a client's conditions into a rule; problems go to `checks` per condition."""
    include: dict[SegmentKey, tuple[str, ...]] = {}
    exclude: dict[SegmentKey, tuple[str, ...]] = {}
    if not conditions:
        checks.fail(field_name, UserErrorCode.REQUIRED, "A segment needs at least one condition.")
    allowed_keys = KEYS_BY_RECORD_TYPE[record_type]
    for index, condition in enumerate(conditions):
        problem = _problem(condition, allowed_keys)
        target = exclude if condition.negated else include
        if problem is None and SegmentKey(condition.key) in target:
            problem = "This attribute already has a condition of this kind."
        if problem is not None:
            checks.fail_item(field_name, index, UserErrorCode.INVALID, problem)
            continue
        target[SegmentKey(condition.key)] = tuple(dict.fromkeys(condition.values))
    return Segment(include=include, exclude=exclude)


def _problem(condition: Condition, allowed_keys: frozenset[SegmentKey]) -> str | None:
    if condition.key not in {key.value for key in allowed_keys}:
        names = ", ".join(sorted(key.value for key in allowed_keys))
        return f"Unknown attribute for this record type; use one of: {names}."
    if not 1 <= len(condition.values) <= MAX_VALUES:
        return f"Give between 1 and {MAX_VALUES} values."
    if any(not value.strip() or len(value) > MAX_VALUE_LENGTH for value in condition.values):
        return f"Values are 1 to {MAX_VALUE_LENGTH} characters."
    allowed = _ALLOWED_VALUES.get(SegmentKey(condition.key))
    if allowed is not None and not set(condition.values) <= allowed:
        return f"Allowed values: {', '.join(sorted(allowed))}."
    return None
