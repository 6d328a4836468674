"""The exposure maps (`hub/<domain>/exposure.py`) describe the schema's types as they are.

`from_record`, redaction, disclosures, personal data and what a partner may change all read the
maps (ADR 0018), so a map that drifted from its GraphQL type would quietly leave a field out of
all of them. Every plain (leaf) field of a mapped type is in its map or listed below, every
entry of a map is a field of the type with the kind of value the map says, and every column it
names is one of the record's.
"""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from sqlalchemy import Text

from hub.access import partner_may_change
from hub.cases.models import Case
from hub.customers.models import Customer
from hub.exposure import Exposure, Value
from hub.exposure_maps import (
    exposure_maps,
    never_crossing_columns,
    partner_writable_columns,
    personal_columns,
)
from hub.opportunities.models import Opportunity
from schema import build_schema

SCHEMA = build_schema()._schema

# Plain fields a mapped type resolves without its map, each with the reason. None today: a
# field listed here is resolved by a resolver of its own, is redacted, disclosed and erased by
# nothing the map says, and sends every document selecting it around the compiled path.
RESOLVED_OTHERWISE: dict[str, frozenset[str]] = {
    "Opportunity": frozenset(),
    "Customer": frozenset(),
    "Case": frozenset(),
}

# The GraphQL scalar each kind of value is written as (ENUM and TEXT_LIST are checked apart).
SCALARS = {
    Value.ID: "ID",
    Value.TEXT: "String",
    Value.INT: "Int",
    Value.DECIMAL: "Decimal",
    Value.DATE: "Date",
    Value.TIMESTAMP: "DateTime",
}

MAPS = sorted(exposure_maps().values(), key=lambda exposure: exposure.type_name)


def _object_type(exposure: Exposure) -> GraphQLObjectType:
    found = SCHEMA.get_type(exposure.type_name)
    assert isinstance(found, GraphQLObjectType), exposure.type_name
    return found


def test_the_mapped_types_are_the_core_record_types() -> None:
    assert {exposure.type_name for exposure in MAPS} == set(RESOLVED_OTHERWISE)
    assert {exposure.model for exposure in MAPS} == {Opportunity, Customer, Case}


@pytest.mark.parametrize("exposure", MAPS, ids=lambda exposure: exposure.type_name)
def test_every_plain_field_of_the_type_is_in_its_map_or_resolved_otherwise(
    exposure: Exposure,
) -> None:
    leaves = {
        name
        for name, field in _object_type(exposure).fields.items()
        if is_leaf_type(get_named_type(field.type))
    }
    otherwise = RESOLVED_OTHERWISE[exposure.type_name]
    assert set(exposure.fields) | otherwise == leaves
    assert not set(exposure.fields) & otherwise


@pytest.mark.parametrize("exposure", MAPS, ids=lambda exposure: exposure.type_name)
def test_each_mapped_field_has_the_kind_of_value_its_map_says(exposure: Exposure) -> None:
    fields = _object_type(exposure).fields
    for name, exposed in exposure.fields.items():
        declared = get_nullable_type(fields[name].type)
        if exposed.value is Value.ENUM:
            assert isinstance(declared, GraphQLEnumType), name
        elif exposed.value is Value.TEXT_LIST:
            assert isinstance(declared, GraphQLList), name
            element = get_named_type(declared)
            assert isinstance(element, GraphQLEnumType) or element.name == "String", name
        else:
            assert isinstance(declared, GraphQLScalarType), name
            assert declared.name == SCALARS[exposed.value], name


@pytest.mark.parametrize("exposure", MAPS, ids=lambda exposure: exposure.type_name)
def test_every_column_a_map_names_is_a_column_of_its_record(exposure: Exposure) -> None:
    columns = set(exposure.model.__table__.c.keys())
    assert {exposed.column for exposed in exposure.fields.values()} <= columns
    assert {relation.column for relation in exposure.relations.values()} <= columns
    assert set(exposure.noted) <= columns
    fields = _object_type(exposure).fields
    for name, relation in exposure.relations.items():
        assert get_named_type(fields[name].type).name == relation.target.type_name, name


@pytest.mark.parametrize("exposure", MAPS, ids=lambda exposure: exposure.type_name)
def test_free_text_a_type_exposes_is_declared_personal(exposure: Exposure) -> None:
    """The ledger treats every unbounded text column as personal whatever the map says; the map
    says so too, so that reading it tells the whole story."""
    table = exposure.model.__table__.c
    for name, exposed in exposure.fields.items():
        if isinstance(table[exposed.column].type, Text):
            assert exposed.personal, name


def test_what_the_maps_mark() -> None:
    assert never_crossing_columns(Opportunity) == {"internal_notes"}
    assert never_crossing_columns(Customer) == never_crossing_columns(Case) == frozenset()
    assert personal_columns(Opportunity) == {"name", "next_step", "internal_notes"}
    assert personal_columns(Customer) == {"name", "domain"}
    assert personal_columns(Case) == {"subject", "description"}
    assert partner_writable_columns(Customer) == frozenset()


def test_a_partner_may_change_what_the_maps_declare_and_comment_on_cases() -> None:
    assert partner_may_change(Opportunity) == {"stage", "next_step", "expected_close_date"}
    assert partner_may_change(Case) == {"satisfaction_score", "shared_comments"}
    assert partner_may_change(Customer) == frozenset()
