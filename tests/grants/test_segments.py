"""SEGMENT rules: the vocabulary per record type, validation per condition, stable storage."""

from __future__ import annotations

import pytest

from hub.errors import InvalidInput
from hub.grants.models import RecordType
from hub.grants.segments import Condition, Segment, SegmentKey, parse_segment
from hub.validation import Checks


def _parse(record_type: RecordType, *conditions: Condition) -> Segment:
    checks = Checks()
    segment = parse_segment(checks, "segment", record_type, conditions)
    checks.done()
    return segment


def test_a_rule_round_trips_through_its_stored_form() -> None:
    segment = _parse(
        RecordType.OPPORTUNITIES,
        Condition("region", ["EMEA"]),
        Condition("stage", ["CLOSED_LOST"], negated=True),
        Condition("size", ["LARGE", "ENTERPRISE", "LARGE"]),
    )

    assert segment.to_json() == {
        "include": {"region": ["EMEA"], "size": ["LARGE", "ENTERPRISE"]},
        "exclude": {"stage": ["CLOSED_LOST"]},
    }
    assert Segment.from_json(segment.to_json()) == segment


@pytest.mark.parametrize(
    ("record_type", "condition", "message"),
    [
        (RecordType.CUSTOMERS, Condition("stage", ["PROPOSAL"]), "Unknown attribute"),
        (RecordType.OPPORTUNITIES, Condition("status", ["NEW"]), "Unknown attribute"),
        (RecordType.CASES, Condition("password", ["x"]), "Unknown attribute"),
        (RecordType.CASES, Condition("status", []), "between 1 and 50"),
        (RecordType.CASES, Condition("status", ["NEW"] * 51), "between 1 and 50"),
        (RecordType.CUSTOMERS, Condition("region", [" "]), "1 to 100 characters"),
        (RecordType.CUSTOMERS, Condition("industry", ["x" * 101]), "1 to 100 characters"),
        (RecordType.OPPORTUNITIES, Condition("stage", ["WON"]), "Allowed values"),
        (RecordType.CASES, Condition("priority", ["urgent"]), "Allowed values"),
    ],
)
def test_bad_conditions_are_refused_with_their_index(
    record_type: RecordType, condition: Condition, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _parse(record_type, Condition("region", ["EMEA"]), condition)

    [error] = refused.value.errors
    assert error.field == ("segment", "1")
    assert message in error.message


def test_an_empty_rule_and_a_repeated_attribute_are_refused() -> None:
    with pytest.raises(InvalidInput) as empty:
        _parse(RecordType.CUSTOMERS)
    assert [error.field for error in empty.value.errors] == [("segment",)]

    with pytest.raises(InvalidInput) as repeated:
        _parse(RecordType.CUSTOMERS, Condition("region", ["EMEA"]), Condition("region", ["APAC"]))
    assert [error.field for error in repeated.value.errors] == [("segment", "1")]
    # The same attribute may be both included and excluded.
    assert _parse(
        RecordType.CUSTOMERS,
        Condition("industry", ["Retail", "Energy"]),
        Condition("industry", ["Energy"], negated=True),
    ).exclude == {SegmentKey.INDUSTRY: ("Energy",)}
